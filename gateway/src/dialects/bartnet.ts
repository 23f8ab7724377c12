import {
  ErrorCode,
  ProtocolError,
  errorName,
  isPlainObject,
  resolveChannel,
  toClientError,
  verifyBartnetCredential,
  type ChannelRef,
  type Message,
  type TenantRegistry,
} from '@switchyard/shared';
import { FaceIndex, type Face } from '../core/face.js';
import type { Subscribed } from '../core/hub.js';
import type { Session } from '../core/session.js';
import type { Dialect, DialectContext } from './dialect.js';
import { jsonObject } from './frames.js';

export const BARTNET_VERSION = 1;

/** Check-result fields an event envelope carries, copied from the published body. */
const EVENT_FIELDS = ['instance_id', 'host', 'service', 'state', 'time', 'description', 'tags', 'metric', 'ttl'] as const;

type Envelope = Record<string, unknown>;

interface BartnetState {
  /** Authenticated customers; the first is the one bare topic names refer to. */
  readonly customers: string[];
  /** Subscribed topics by the name the client uses, in subscription order. */
  readonly topics: Map<string, ChannelRef>;
}

/** A customer's topic is the channel `<customer_id>/<topic>` of the tenant. */
export const bartnetChannel = (customer: string, topic: string): string => `${customer}/${topic}`;

/** Whether an event is still valid: published less than its `ttl` seconds ago (no ttl: always). */
function live(msg: Message, now: number): boolean {
  try {
    const body = JSON.parse(msg.data) as unknown;
    const ttl = isPlainObject(body) ? body.ttl : undefined;
    return typeof ttl !== 'number' || msg.time + ttl * 1000 > now;
  } catch {
    return false;
  }
}

/**
 * The bartnet streaming protocol (seed 000, docs/dialects/bartnet.md): one JSON envelope for
 * every frame; `authenticate` with a credential from POST /bartnet/authorize; `subscribe`
 * with `subscribe_to` / `unsubscribe_from` lists. Server ids come from one counter per
 * gateway, so they are unique within every session, and an event is encoded once for all.
 */
export class BartnetDialect implements Dialect {
  readonly name = 'bartnet';
  readonly face: Face;
  private nextId = 1;
  private readonly state = new WeakMap<Session, BartnetState>();

  constructor(
    private readonly ctx: DialectContext,
    private readonly tenants: TenantRegistry,
  ) {
    this.face = {
      index: FaceIndex.Bartnet,
      binary: false,
      encode: (channel, _channelJson, msg) => Buffer.from(JSON.stringify(this.event(channel, msg))),
    };
  }

  /** An `event` envelope for a channel message; `customer_id` and topic come from the channel. */
  private event(channel: string, msg: Message): Envelope {
    const slash = channel.lastIndexOf('/');
    const env: Envelope = {
      id: this.nextId++,
      version: BARTNET_VERSION,
      command: 'event',
      sent: Date.now(),
      attributes: { topic: channel.slice(slash + 1), seq: String(msg.seq) },
      customer_id: channel.slice(0, slash),
    };
    const body = JSON.parse(msg.data) as unknown;
    if (isPlainObject(body)) {
      for (const k of EVENT_FIELDS) if (body[k] !== undefined) env[k] = body[k];
    } else {
      env.description = typeof body === 'string' ? body : msg.data;
    }
    return env;
  }

  open(): void {
    // The seed's client speaks first (authenticate).
  }

  message(s: Session, data: ArrayBuffer): void {
    let f: Envelope;
    try {
      f = jsonObject(data, 'message');
    } catch (err) {
      this.error(s, toClientError(err));
      return;
    }
    const fail = (err: unknown): void => this.reply(s, f, 'error', undefined, toClientError(err));
    try {
      if (f.version !== BARTNET_VERSION) {
        throw new ProtocolError(ErrorCode.BadRequest, `unsupported version ${JSON.stringify(f.version ?? null)}: this server speaks version ${BARTNET_VERSION}`);
      }
      if (f.attributes !== undefined && !isPlainObject(f.attributes)) throw new ProtocolError(ErrorCode.BadRequest, 'attributes must be an object');
      const attrs = (f.attributes ?? {}) as Record<string, unknown>;
      switch (f.command) {
        case 'authenticate':
          this.authenticate(s, f, attrs);
          break;
        case 'subscribe':
          this.subscribe(s, f, attrs).catch(fail);
          break;
        default:
          throw new ProtocolError(
            ErrorCode.UnknownCommand,
            typeof f.command === 'string' ? `unknown command: ${f.command.slice(0, 64)}` : 'command must be a string',
          );
      }
    } catch (err) {
      fail(err);
    }
  }

  error(s: Session, err: ProtocolError): void {
    this.reply(s, undefined, 'error', undefined, err);
  }

  private authenticate(s: Session, f: Envelope, attrs: Record<string, unknown>): void {
    const { tenant, customer } = verifyBartnetCredential(this.tenants, attrs.HMAC);
    let st = this.state.get(s);
    if (st !== undefined && s.tenant.id !== tenant.id) {
      throw new ProtocolError(ErrorCode.PermissionDenied, 'this HMAC belongs to another tenant than the connection');
    }
    if (st === undefined) {
      s.tenant = tenant;
      s.authenticated = true;
      st = { customers: [], topics: new Map() };
      this.state.set(s, st);
    }
    if (!st.customers.includes(customer)) st.customers.push(customer);
    this.reply(s, f, 'authenticate', { authenticated: customer });
  }

  /** Resolves a topic name: `topic` (first customer) or `customer/topic` (any authenticated one). */
  private resolve(s: Session, st: BartnetState, name: string): { display: string; ref: ChannelRef } {
    const slash = name.indexOf('/');
    const customer = slash < 0 ? (st.customers[0] as string) : name.slice(0, slash);
    const topic = slash < 0 ? name : name.slice(slash + 1);
    if (!st.customers.includes(customer)) throw new ProtocolError(ErrorCode.PermissionDenied, `not authenticated for customer ${customer}`);
    if (!s.tenant.bartnet.topics.includes(topic)) throw new ProtocolError(ErrorCode.NotFound, `unknown topic: ${topic}`);
    const display = customer === st.customers[0] ? topic : `${customer}/${topic}`;
    return { display, ref: resolveChannel(s.tenant, bartnetChannel(customer, topic)) };
  }

  private async subscribe(s: Session, f: Envelope, attrs: Record<string, unknown>): Promise<void> {
    const st = this.state.get(s);
    if (st === undefined) throw new ProtocolError(ErrorCode.Unauthorized, 'authenticate first');
    const list = (key: string): string[] => {
      const v = attrs[key];
      if (v === undefined) return [];
      if (typeof v !== 'string') throw new ProtocolError(ErrorCode.BadRequest, `${key} must be a string (a topic or a comma-separated list)`);
      return v.split(',').map((x) => x.trim()).filter((x) => x !== '');
    };
    // Every name is checked before anything changes: a bad list changes nothing.
    const add = list('subscribe_to').map((n) => this.resolve(s, st, n));
    const remove = list('unsubscribe_from').map((n) => this.resolve(s, st, n));
    const removed = new Set(remove.filter((r) => st.topics.has(r.display)).map((r) => r.display));
    const added = new Set(add.filter((a) => !st.topics.has(a.display) || removed.has(a.display)).map((a) => a.display));
    if (s.subscriptions - removed.size + added.size > this.ctx.hub.maxSubscriptions) {
      throw new ProtocolError(ErrorCode.LimitExceeded, `at most ${this.ctx.hub.maxSubscriptions} subscriptions per connection`);
    }
    for (const { display, ref } of remove) {
      this.ctx.hub.unsubscribe(s, ref);
      st.topics.delete(display);
    }
    const fresh: Subscribed[] = [];
    try {
      for (const { display, ref } of add) {
        if (st.topics.has(display)) continue;
        // Replay what the history holds that is still valid (within its ttl).
        const sub = await this.ctx.hub.subscribe(s, ref, { after: 0 });
        st.topics.set(display, ref);
        const now = Date.now();
        fresh.push({ ...sub, replay: sub.replay.filter((m) => live(m, now)) });
      }
    } catch (err) {
      // All or nothing: undo this request's subscriptions, which nobody would activate.
      for (const sub of fresh) {
        this.ctx.hub.unsubscribe(s, sub.channel);
        for (const [name, ref] of st.topics) if (ref.key === sub.channel.key) st.topics.delete(name);
      }
      throw err;
    }
    if (s.closed) return;
    this.reply(s, f, 'subscribe', { subscribed_to: [...st.topics.keys()].join(',') });
    for (const sub of fresh) this.ctx.hub.activate(s, sub);
  }

  /** A reply envelope; errors use command `error` with `error` and `code` attributes. */
  private reply(s: Session, req: Envelope | undefined, command: string, attributes?: Record<string, string>, err?: ProtocolError): void {
    if (err !== undefined) this.ctx.metrics.errors.inc({ code: errorName[err.code] });
    const env: Envelope = { id: this.nextId++, version: BARTNET_VERSION, command, sent: Date.now() };
    if (req !== undefined && (typeof req.id === 'number' || typeof req.id === 'string')) env.in_reply_to = req.id;
    env.attributes = err !== undefined ? { error: err.message, code: errorName[err.code] } : attributes;
    s.write(JSON.stringify(env), false);
  }
}
