import {
  ErrorCode,
  ProtocolError,
  UNBOUND_TENANT,
  errorName,
  isPlainObject,
  resolveChannel,
  verifyBartnetCredential,
  type ChannelRef,
  type Message,
} from '@switchyard/shared';
import type { Command, Done } from '../core/commands.js';
import type { Admission, Dialect, DialectContext } from '../core/dialect.js';
import type { Face } from '../core/face.js';
import type { Out, Session } from '../core/session.js';
import { jsonObject } from './frames.js';

export const BARTNET_VERSION = 1;
export const BARTNET_PATH = '/bartnet';

/** Check-result fields an event envelope carries, copied from the published body. */
const EVENT_FIELDS = ['instance_id', 'host', 'service', 'state', 'time', 'description', 'tags', 'metric', 'ttl'] as const;

type Envelope = Record<string, unknown>;

/** A parsed envelope; `customer` is what its `authenticate` proved (set in the connection's turn). */
export interface BartnetRequest {
  readonly env: Envelope;
  customer?: string;
}

interface BartnetState {
  /** Authenticated customers; the first is the one bare topic names refer to. */
  readonly customers: string[];
  /** Subscribed topics by channel key, in subscription order, with the name the client uses. */
  readonly order: Map<string, { readonly display: string; readonly ref: ChannelRef }>;
}

/** A customer's topic is the channel `<customer_id>/<topic>` of the tenant. */
export const bartnetChannel = (customer: string, topic: string): string => `${customer}/${topic}`;

/** The first of each channel named more than once. */
function unique(refs: ChannelRef[]): ChannelRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => !seen.has(r.key) && seen.add(r.key) !== undefined);
}

/** Whether an event is still valid: published less than its `ttl` seconds ago (no ttl: always). */
function valid(msg: Message, now: number): boolean {
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
export class BartnetDialect implements Dialect<BartnetRequest> {
  readonly name = 'bartnet';
  readonly path = BARTNET_PATH;
  private readonly face: Face;
  private nextId = 1;

  constructor(private readonly ctx: DialectContext) {
    this.face = ctx.faces.register({
      name: 'bartnet',
      binary: false,
      encode: (channel, _channelJson, msg) => Buffer.from(JSON.stringify(this.event(channel, msg))),
    });
  }

  /** The tenant follows from the credential of the first `authenticate`. */
  admit(): Admission {
    return { tenant: UNBOUND_TENANT, face: this.face, protocol: '' };
  }

  /** Nothing works before `authenticate` binds the connection to a customer. */
  authRequired(): boolean {
    return true;
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

  open(): undefined {
    // The seed's client speaks first (authenticate).
    return undefined;
  }

  parse(data: ArrayBuffer): BartnetRequest {
    return { env: jsonObject(data, 'message') };
  }

  command(s: Session, req: BartnetRequest): Command {
    const f = req.env;
    if (f.version !== BARTNET_VERSION) {
      throw new ProtocolError(ErrorCode.BadRequest, `unsupported version ${JSON.stringify(f.version ?? null)}: this server speaks version ${BARTNET_VERSION}`);
    }
    if (f.attributes !== undefined && !isPlainObject(f.attributes)) throw new ProtocolError(ErrorCode.BadRequest, 'attributes must be an object');
    const attrs = (f.attributes ?? {}) as Record<string, unknown>;
    switch (f.command) {
      case 'authenticate': {
        const { tenant, customer } = verifyBartnetCredential(this.ctx.tenants, attrs.HMAC);
        if (s.authenticated && s.tenant.id !== tenant.id) {
          throw new ProtocolError(ErrorCode.PermissionDenied, 'this HMAC belongs to another tenant than the connection');
        }
        req.customer = customer;
        return { op: 'authenticate', identity: { tenant } };
      }
      case 'subscribe':
        return this.subscribe(s, attrs);
      default:
        throw new ProtocolError(
          ErrorCode.UnknownCommand,
          typeof f.command === 'string' ? `unknown command: ${f.command.slice(0, 64)}` : 'command must be a string',
        );
    }
  }

  /** Drops `unsubscribe_from`, then subscribes `subscribe_to`; every name is checked before anything changes. */
  private subscribe(s: Session, attrs: Record<string, unknown>): Command {
    const st = s.state as BartnetState | undefined;
    if (st === undefined) throw new ProtocolError(ErrorCode.Unauthorized, 'authenticate first');
    const list = (key: string): ChannelRef[] => {
      const v = attrs[key];
      if (v === undefined) return [];
      if (typeof v !== 'string') throw new ProtocolError(ErrorCode.BadRequest, `${key} must be a string (a topic or a comma-separated list)`);
      return v.split(',').map((x) => x.trim()).filter((x) => x !== '').map((n) => this.resolve(s, st, n));
    };
    const add = unique(list('subscribe_to'));
    const drop = unique(list('unsubscribe_from'));
    const dropped = new Set(drop.map((r) => r.key));
    // Already subscribed: changes nothing, unless dropped by this same request (then afresh, with its replay).
    const fresh = add.filter((r) => dropped.has(r.key) || !this.ctx.hub.isSubscribed(s, r));
    return {
      op: 'subscribe',
      drop,
      // Replay what the history holds that is still valid (within its ttl).
      targets: fresh.map((channel) => ({ channel, from: { after: 0 }, replayFilter: valid })),
    };
  }

  /** Resolves a topic name: `topic` (first customer) or `customer/topic` (any authenticated one). */
  private resolve(s: Session, st: BartnetState, name: string): ChannelRef {
    const slash = name.indexOf('/');
    const customer = slash < 0 ? (st.customers[0] as string) : name.slice(0, slash);
    const topic = slash < 0 ? name : name.slice(slash + 1);
    if (!st.customers.includes(customer)) throw new ProtocolError(ErrorCode.PermissionDenied, `not authenticated for customer ${customer}`);
    if (!s.tenant.bartnet.topics.includes(topic)) throw new ProtocolError(ErrorCode.NotFound, `unknown topic: ${topic}`);
    return resolveChannel(s.tenant, bartnetChannel(customer, topic));
  }

  reply(s: Session, req: BartnetRequest, done: Done): Out | undefined {
    if (done.op === 'authenticate') {
      const customer = req.customer as string;
      let st = s.state as BartnetState | undefined;
      if (st === undefined) s.state = st = { customers: [], order: new Map() };
      if (!st.customers.includes(customer)) st.customers.push(customer);
      return this.envelope(req.env, 'authenticate', { authenticated: customer });
    }
    if (done.op !== 'subscribe') return undefined;
    const st = s.state as BartnetState;
    for (const { channel } of done.outcome.subscribed) {
      st.order.delete(channel.key);
      const slash = channel.name.indexOf('/');
      const display = channel.name.slice(0, slash) === st.customers[0] ? channel.name.slice(slash + 1) : channel.name;
      st.order.set(channel.key, { display, ref: channel });
    }
    const names: string[] = [];
    for (const [key, t] of st.order) {
      if (this.ctx.hub.isSubscribed(s, t.ref)) names.push(t.display);
      else st.order.delete(key);
    }
    return this.envelope(req.env, 'subscribe', { subscribed_to: names.join(',') });
  }

  /** Errors use command `error` with `error` and `code` attributes. */
  error(_s: Session, req: BartnetRequest | undefined, err: ProtocolError): Out {
    return this.envelope(req?.env, 'error', { error: err.message, code: errorName[err.code] });
  }

  private envelope(req: Envelope | undefined, command: string, attributes: Record<string, string>): string {
    const env: Envelope = { id: this.nextId++, version: BARTNET_VERSION, command, sent: Date.now() };
    if (req !== undefined && (typeof req.id === 'number' || typeof req.id === 'string')) env.in_reply_to = req.id;
    env.attributes = attributes;
    return JSON.stringify(env);
  }
}
