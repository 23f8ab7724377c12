import { connect, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import { ErrorCode, ProtocolError } from '../../codes.js';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import type { ClientInfo, Message } from '../../model/message.js';
import type { TenantRegistry } from '../../model/tenant.js';
import {
  nodeOf,
  type Broker,
  type ConnectionCommand,
  type ConnectionReply,
  type ConnectionRouter,
  type DeliveryHandler,
  type Engine,
  type History,
  type HistoryPage,
  type NodeDirectory,
  type NodeSnapshot,
  type Presence,
  type PresenceEntry,
} from '../engine.js';
import { ensureStreams, planStreams, type StreamPlan } from './streams.js';
import { Header, Subjects, channelFromToken } from './subjects.js';
import { KvCollections } from './kv-collections.js';
import { LocalPresence } from '../local-presence.js';

export interface NatsEngineOptions {
  readonly servers: readonly string[];
  readonly tenants: TenantRegistry;
  readonly log: Logger;
  /** Subject prefix and stream-name prefix (default `sy`); separate deployments sharing NATS use different ones. */
  readonly prefix?: string;
  /** Client name shown by the NATS server (the node id). */
  readonly name?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** PEM file of the CA that signed the NATS servers' certificates (turns TLS on). */
  readonly tlsCaFile?: string;
  /** Create or update the streams (the control API does; gateways wait for them). */
  readonly manageStreams: boolean;
  /** Answer presence requests from this node's local entries (gateways do). */
  readonly servePresence: boolean;
  /** JetStream replicas of each stream (1 for a single NATS server). */
  readonly replicas?: number;
  /** How long a presence list waits for more gateways once replies stop coming, ms. */
  readonly presenceStallMs?: number;
}

/** Per-channel live state of this node: the NATS subscription and gap bookkeeping. */
interface LiveChannel {
  readonly ref: ChannelRef;
  /** The live-subject subscription (undefined for a collection's change channel). */
  readonly sub: Subscription | undefined;
  /** Stops a collection watch. */
  stop?: () => void;
  /** Highest seq delivered to the hub (undefined: nothing yet, the next message sets it). */
  last: number | undefined;
  /** While a gap is being filled from the stream, live messages wait here. */
  queue: Message[] | null;
}

/** Messages relayed by the stream carry these headers (nats-server ≥ 2.9 RePublish). */
const SEQ = 'Nats-Sequence';
const LAST_SEQ = 'Nats-Last-Sequence';

/**
 * The cluster engine: history in JetStream (one stream per namespace, RePublish to live
 * subjects), live fan-out over core NATS by interest, gaps filled from the stream,
 * presence by scatter-gather to the gateways. Connects in the background: `ready()` says
 * when publishes and subscribes can succeed.
 */
export class NatsEngine implements Engine, Broker, History, Presence, NodeDirectory, ConnectionRouter {
  readonly kind = 'nats';
  readonly broker: Broker = this;
  readonly history: History = this;
  readonly presence: Presence = this;
  readonly nodes: NodeDirectory = this;
  readonly connections: ConnectionRouter = this;
  readonly collections: KvCollections;
  private readonly served = new Map<string, (cmd: ConnectionCommand) => ConnectionReply>();
  private snapshot: (() => NodeSnapshot) | undefined;

  private readonly subjects: Subjects;
  private readonly plans: StreamPlan[];
  private readonly planByStream = new Map<string, StreamPlan>();
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private connected = false;
  private streamsReady = false;
  private closed = false;
  private readonly started: Promise<void>;
  private readonly epochs = new Map<string, string>();
  private readonly live = new Map<string, LiveChannel>();
  /** Whether the hub wants each channel (the last subscribe/unsubscribe call), and the op chain per channel. */
  private readonly wanted = new Map<string, boolean>();
  private readonly ops = new Map<string, Promise<void>>();
  private readonly local = new LocalPresence();
  private deliver: DeliveryHandler = () => {};
  private readonly log: Logger;
  /** Messages this node received from NATS on live subjects (what interest-based routing keeps low). */
  received = 0;

  constructor(private readonly o: NatsEngineOptions) {
    this.log = o.log;
    this.subjects = new Subjects(o.prefix ?? 'sy');
    this.plans = planStreams(o.tenants, this.subjects, o.replicas ?? 1);
    this.collections = new KvCollections(() => this.conn(), o.prefix ?? 'sy', this.log);
    for (const p of this.plans) this.planByStream.set(p.name, p);
    this.started = this.start();
    this.started.catch((err: unknown) => this.log.error({ err }, 'NATS engine failed to start'));
  }

  /** Resolves once connected with every stream in place (for tests and orderly startup). */
  whenStarted(): Promise<void> {
    return this.started;
  }

  private async start(): Promise<void> {
    const o = this.o;
    const nc = await this.connectFirst({
      servers: [...o.servers],
      name: o.name ?? 'switchyard',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5000,
      maxPingOut: 2,
      ...(o.user !== undefined ? { user: o.user } : {}),
      ...(o.pass !== undefined ? { pass: o.pass } : {}),
      ...(o.token !== undefined ? { token: o.token } : {}),
      ...(o.tlsCaFile !== undefined ? { tls: { caFile: o.tlsCaFile } } : {}),
    });
    if (nc === undefined) return; // closed before NATS was ever reached
    if (this.closed) {
      await nc.close();
      return;
    }
    this.nc = nc;
    this.connected = true;
    this.js = jetstream(nc, { timeout: 5000 });
    this.jsm = await jetstreamManager(nc, { timeout: 5000 });
    void this.watchStatus(nc);
    if (o.servePresence) {
      nc.subscribe(this.subjects.presenceAll, { callback: (err, m) => { if (!err) this.answerPresence(m); } });
    }
    for (const [nodeId, handler] of this.served) this.serveOn(nc, nodeId, handler);
    nc.subscribe(this.subjects.stats, {
      callback: (err, m) => {
        if (!err && this.snapshot !== undefined) m.respond(JSON.stringify(this.snapshot()));
      },
    });
    await this.prepareStreams();
    this.log.info({ servers: o.servers, streams: this.plans.length }, 'NATS engine ready');
  }

  /**
   * The first connection, retried every 250 ms until it works or the engine is closed. Our
   * own loop rather than the client's `waitOnFirstConnect`, which nothing can stop: a process
   * told to shut down before NATS was ever up could not exit. Once connected, the client
   * reconnects by itself.
   */
  private async connectFirst(opts: Parameters<typeof connect>[0]): Promise<NatsConnection | undefined> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed) return undefined;
      try {
        return await connect(opts);
      } catch (err) {
        if (this.closed) return undefined;
        if (attempt % 20 === 0) this.log.warn({ err: (err as Error).message, servers: this.o.servers }, 'NATS not reachable yet; retrying');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Creates (control API) or waits for (gateways) every stream, and learns each one's epoch. */
  private async prepareStreams(): Promise<void> {
    const jsm = this.jsm as JetStreamManager;
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.o.manageStreams) await ensureStreams(jsm, this.plans, this.log);
        for (const p of this.plans) {
          const info = await jsm.streams.info(p.name);
          this.epochs.set(p.name, `${p.name}@${info.created}`);
        }
        this.streamsReady = true;
        return;
      } catch (err) {
        if (this.closed) return;
        if (attempt % 20 === 0) this.log.warn({ err: (err as Error).message }, 'waiting for JetStream streams');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log.warn('NATS disconnected');
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.log.info('NATS reconnected');
        // Live messages published while we were away are in the stream: fetch them now
        // rather than waiting for the next live message to reveal the gap.
        for (const lc of this.live.values()) if (lc.ref.opts.history > 0) void this.catchUp(lc);
      }
    }
  }

  setDeliveryHandler(handler: DeliveryHandler): void {
    this.deliver = handler;
  }

  ready(): boolean {
    return this.connected && this.streamsReady && !this.closed;
  }

  private conn(): NatsConnection {
    if (this.nc === undefined || !this.ready()) throw new ProtocolError(ErrorCode.Unavailable, 'message broker unavailable', true);
    return this.nc;
  }

  private streamOf(ch: ChannelRef): string {
    return this.subjects.stream(ch.tenant, ch.namespace);
  }

  private epochOf(ch: ChannelRef): string {
    return this.epochs.get(this.streamOf(ch)) ?? '';
  }

  // ---- Broker ----

  async publish(ch: ChannelRef, data: string, from?: ClientInfo): Promise<Message> {
    const nc = this.conn();
    const time = Date.now();
    const h = natsHeaders();
    h.set(Header.Time, String(time));
    if (from !== undefined) h.set(Header.From, fromJson(from));
    let seq = 0;
    if (ch.opts.history > 0) {
      try {
        seq = (await (this.js as JetStreamClient).publish(this.subjects.history(ch), data, { headers: h })).seq;
      } catch (err) {
        this.log.warn({ err: (err as Error).message, channel: ch.key }, 'JetStream publish failed');
        throw new ProtocolError(ErrorCode.Unavailable, 'message could not be stored', true);
      }
    } else {
      nc.publish(this.subjects.live(ch), data, { headers: h });
    }
    return from === undefined ? { seq, time, data } : { seq, time, data, from };
  }

  relayUp(ch: ChannelRef, data: string, from: ClientInfo): void {
    const nc = this.conn();
    const h = natsHeaders();
    h.set(Header.Tenant, ch.tenant);
    h.set(Header.Channel, ch.name);
    h.set(Header.From, fromJson(from));
    h.set(Header.Time, String(Date.now()));
    nc.publish(this.subjects.up(ch), data, { headers: h });
  }

  subscribe(ch: ChannelRef): Promise<void> {
    this.wanted.set(ch.key, true);
    return this.sync(ch);
  }

  unsubscribe(ch: ChannelRef): Promise<void> {
    this.wanted.set(ch.key, false);
    return this.sync(ch);
  }

  /**
   * Brings the channel's NATS subscription to the last wanted state. Operations on one
   * channel run one after another, so an unsubscribe racing a subscribe can neither leak a
   * subscription nor remove one that a newer subscribe asked for.
   */
  private sync(ch: ChannelRef): Promise<void> {
    const key = ch.key;
    const op = (this.ops.get(key) ?? Promise.resolve())
      .catch(() => {
        // the previous operation's caller saw its error; this one starts afresh
      })
      .then(async () => {
        const want = this.wanted.get(key) === true;
        const have = this.live.get(key);
        if (want && have === undefined && ch.collection !== undefined) {
          await this.waitReady();
          const lc: LiveChannel = { ref: ch, sub: undefined, last: undefined, queue: null };
          this.live.set(key, lc);
          try {
            lc.stop = await this.collections.watch(ch.collection, (msg) => {
              if (this.live.get(key) === lc) {
                this.received++;
                this.deliver(ch, msg);
              }
            });
          } catch (err) {
            this.live.delete(key);
            throw err;
          }
        } else if (want && have === undefined) {
          await this.waitReady();
          const nc = this.nc as NatsConnection;
          const sub = nc.subscribe(this.subjects.live(ch), { callback: (err, m) => { if (!err) this.onLive(lc, m); } });
          const lc: LiveChannel = { ref: ch, sub, last: undefined, queue: null };
          this.live.set(key, lc);
          // Once the server has the subscription, every later publish reaches us.
          await nc.flush();
        } else if (!want && have !== undefined) {
          this.live.delete(key);
          have.sub?.unsubscribe();
          have.stop?.();
        }
      });
    this.ops.set(key, op);
    void op.finally(() => {
      if (this.ops.get(key) === op) {
        this.ops.delete(key);
        if (this.wanted.get(key) === false) this.wanted.delete(key);
      }
    }).catch(() => {
      // reported to the caller through `op`
    });
    return op;
  }

  private async waitReady(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ready()) {
      if (this.closed || Date.now() > deadline) throw new ProtocolError(ErrorCode.Unavailable, 'message broker unavailable', true);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private onLive(lc: LiveChannel, m: Msg): void {
    if (this.live.get(lc.ref.key) !== lc) return; // unsubscribed meanwhile
    this.received++;
    const msg = toMessage(m.string(), m.headers?.get(SEQ), m.headers?.get(Header.Time), m.headers?.get(Header.From));
    if (msg === undefined) {
      this.log.warn({ subject: m.subject }, 'dropped a live message whose payload is not JSON');
      return;
    }
    if (msg.seq === 0) {
      this.deliver(lc.ref, msg); // a channel without history: nothing to order or fill
      return;
    }
    if (lc.queue !== null) {
      lc.queue.push(msg);
      return;
    }
    const prev = Number(m.headers?.get(LAST_SEQ) ?? '0');
    if (lc.last === undefined || prev === lc.last) {
      lc.last = msg.seq;
      this.deliver(lc.ref, msg);
    } else if (msg.seq > lc.last) {
      lc.queue = [msg];
      void this.fill(lc, msg.seq - 1);
    }
    // else: seq ≤ last, already delivered (a fill fetched it first)
  }

  /** Delivers stored messages after `lc.last` up to `upTo`, then whatever queued meanwhile. */
  private async fill(lc: LiveChannel, upTo: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (lc.last !== undefined && upTo > lc.last) {
          const missed = await this.readRange(lc.ref, lc.last + 1, upTo);
          for (const msg of missed) {
            if (lc.last !== undefined && msg.seq <= lc.last) continue;
            lc.last = msg.seq;
            this.deliver(lc.ref, msg);
          }
        }
        break;
      } catch (err) {
        if (this.closed || this.live.get(lc.ref.key) !== lc) return;
        if (attempt % 20 === 0) this.log.warn({ err: (err as Error).message, channel: lc.ref.key }, 'gap fill failed; retrying');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const queued = lc.queue ?? [];
    lc.queue = null;
    for (const msg of queued) {
      if (lc.last !== undefined && msg.seq <= lc.last) continue;
      lc.last = msg.seq;
      this.deliver(lc.ref, msg);
    }
  }

  /** After a reconnect: deliver what the stream holds beyond what this node delivered. */
  private async catchUp(lc: LiveChannel): Promise<void> {
    if (lc.queue !== null || lc.last === undefined) return;
    try {
      const lastMsg = await this.lastStored(lc.ref);
      if (lastMsg !== null && lc.last !== undefined && lastMsg.seq > lc.last && lc.queue === null) {
        lc.queue = [];
        await this.fill(lc, lastMsg.seq);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, channel: lc.ref.key }, 'catch-up after reconnect failed');
    }
  }

  // ---- History ----

  private async lastStored(ch: ChannelRef): Promise<StoredMsg | null> {
    return (this.jsm as JetStreamManager).streams.getMessage(this.streamOf(ch), { last_by_subj: this.subjects.history(ch) });
  }

  /** Stored messages of one channel with from ≤ seq ≤ to, oldest first (an ordered consumer). */
  private async readRange(ch: ChannelRef, from: number, to: number): Promise<Message[]> {
    const js = this.js as JetStreamClient;
    const consumer = await js.consumers.get(this.streamOf(ch), {
      filter_subjects: this.subjects.history(ch),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    const out: Message[] = [];
    try {
      // Bounded by the channel's history size; `to` is known to be stored (or trimmed since).
      for (;;) {
        const batch = await consumer.fetch({ max_messages: Math.min(1000, ch.opts.history), expires: 2000 });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got++;
          const msg = toMessage(m.string(), String(m.seq), m.headers?.get(Header.Time) ?? String(m.time.getTime()), m.headers?.get(Header.From));
          if (msg !== undefined && m.seq <= to) out.push(msg);
          if (m.seq >= to || m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (done || got === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => {
        // an ordered consumer is ephemeral: the server removes it when inactive anyway
      });
    }
    return out;
  }

  async read(ch: ChannelRef, after: number): Promise<HistoryPage> {
    if (ch.opts.history === 0) return { messages: [], last: 0, complete: true, epoch: '' };
    this.conn();
    const epoch = this.epochOf(ch);
    const lastMsg = await this.lastStored(ch).catch((err: unknown) => {
      throw unavailable(err);
    });
    const last = lastMsg?.seq ?? 0;
    if (after < 0 || after >= last) {
      const messages = after < 0 && lastMsg !== null ? [storedToMessage(lastMsg)].filter((m): m is Message => m !== undefined) : [];
      return { messages, last, complete: true, epoch };
    }
    const messages = await this.readRange(ch, after + 1, last).catch((err: unknown) => {
      throw unavailable(err);
    });
    // Trimming removes a subject's oldest messages first, so if message `after` is still
    // stored, nothing after it is gone. From 0, only a history that is not yet full is sure
    // to be whole.
    let complete: boolean;
    if (after === 0) {
      complete = messages.length < ch.opts.history;
    } else {
      const anchor = await (this.jsm as JetStreamManager).streams.getMessage(this.streamOf(ch), { seq: after }).catch(() => null);
      complete = anchor !== null && anchor.subject === this.subjects.history(ch);
    }
    return { messages, last, complete, epoch };
  }

  // ---- Presence ----

  join(ch: ChannelRef, entry: PresenceEntry): Promise<void> {
    return this.local.join(ch, entry);
  }

  leave(ch: ChannelRef, conn: string): Promise<void> {
    return this.local.leave(ch, conn);
  }

  /**
   * Asks every gateway for its local entries and merges the answers. A gateway that is gone
   * simply does not answer, so its entries vanish at once.
   */
  async list(ch: ChannelRef): Promise<PresenceEntry[]> {
    const nc = this.conn();
    const out: PresenceEntry[] = [];
    try {
      const replies = await nc.requestMany(this.subjects.presence(ch), '', {
        strategy: 'stall',
        stall: this.o.presenceStallMs ?? 30,
        maxWait: 2000,
      });
      for await (const r of replies) {
        if (r.data.length === 0) continue;
        try {
          out.push(...(JSON.parse(r.string()) as PresenceEntry[]));
        } catch {
          this.log.warn({ subject: r.subject }, 'malformed presence reply');
        }
      }
    } catch (err) {
      // No gateway is subscribed (no responders): nobody is present.
      if (!/no responders/i.test((err as Error).message)) throw unavailable(err);
    }
    return out;
  }

  private answerPresence(m: Msg): void {
    // P.presence.<tenant>.<channel token>
    const parts = m.subject.split('.');
    const tenant = parts[parts.length - 2];
    const token = parts[parts.length - 1];
    if (tenant === undefined || token === undefined) return;
    let name: string;
    try {
      name = channelFromToken(token);
    } catch {
      return;
    }
    m.respond(JSON.stringify(this.local.entries(`${tenant}/${name}`)));
  }

  serve(nodeId: string, handler: (cmd: ConnectionCommand) => ConnectionReply): void {
    this.served.set(nodeId, handler);
    if (this.nc !== undefined) this.serveOn(this.nc, nodeId, handler);
  }

  private serveOn(nc: NatsConnection, nodeId: string, handler: (cmd: ConnectionCommand) => ConnectionReply): void {
    nc.subscribe(this.subjects.node(nodeId), {
      callback: (err, m) => {
        if (err) return;
        let reply: ConnectionReply;
        try {
          reply = handler(m.json<ConnectionCommand>());
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'bad connection command');
          reply = { status: 'gone' };
        }
        m.respond(JSON.stringify(reply));
      },
    });
  }

  async send(cmd: ConnectionCommand): Promise<ConnectionReply> {
    const nc = this.conn();
    const node = nodeOf(cmd.conn);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(node)) return { status: 'gone' };
    try {
      const r = await nc.request(this.subjects.node(node), JSON.stringify(cmd), { timeout: 3000 });
      return r.json<ConnectionReply>();
    } catch (err) {
      // No gateway with that id is alive: the connection is gone with it.
      if (/no responders/i.test((err as Error).message)) return { status: 'gone' };
      throw unavailable(err);
    }
  }

  serveStats(snapshot: () => NodeSnapshot): void {
    this.snapshot = snapshot;
  }

  async gatherStats(): Promise<NodeSnapshot[]> {
    const nc = this.conn();
    const out: NodeSnapshot[] = [];
    try {
      const replies = await nc.requestMany(this.subjects.stats, '', { strategy: 'stall', stall: this.o.presenceStallMs ?? 30, maxWait: 2000 });
      for await (const r of replies) {
        try {
          out.push(JSON.parse(r.string()) as NodeSnapshot);
        } catch {
          this.log.warn('malformed stats reply');
        }
      }
    } catch (err) {
      if (!/no responders/i.test((err as Error).message)) throw unavailable(err);
    }
    return out;
  }

  /** Messages on live subjects this node has received (for tests and metrics). */
  liveSubscriptions(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const nc = this.nc;
    if (nc !== undefined && !nc.isClosed()) {
      await nc.drain().catch(() => nc.close());
    }
  }

  /** Drops the connection without draining or unsubscribing: what a crashed node looks like. */
  async abort(): Promise<void> {
    this.closed = true;
    await this.nc?.close();
  }
}

function fromJson(f: ClientInfo): string {
  return JSON.stringify({ conn: f.conn, ...(f.user !== undefined ? { user: f.user } : {}), ...(f.info !== undefined ? { info: JSON.parse(f.info) as unknown } : {}) });
}

/** Builds a Message from NATS parts; undefined when the payload is not JSON (never spliced into frames). */
function toMessage(data: string, seq: string | undefined, time: string | undefined, from: string | undefined): Message | undefined {
  try {
    JSON.parse(data);
  } catch {
    return undefined;
  }
  const t = Number(time);
  const base = { seq: Number(seq ?? '0') || 0, time: Number.isFinite(t) && t > 0 ? Math.floor(t) : Date.now(), data };
  if (from === undefined) return base;
  try {
    const f = JSON.parse(from) as { conn?: unknown; user?: unknown; info?: unknown };
    if (typeof f.conn !== 'string') return base;
    return {
      ...base,
      from: {
        conn: f.conn,
        ...(typeof f.user === 'string' ? { user: f.user } : {}),
        ...(f.info !== undefined ? { info: JSON.stringify(f.info) } : {}),
      },
    };
  } catch {
    return base;
  }
}

function storedToMessage(m: StoredMsg): Message | undefined {
  return toMessage(m.string(), String(m.seq), m.header?.get(Header.Time) ?? String(m.time.getTime()), m.header?.get(Header.From));
}

function unavailable(err: unknown): ProtocolError {
  return err instanceof ProtocolError ? err : new ProtocolError(ErrorCode.Unavailable, `message broker unavailable: ${(err as Error).message}`, true);
}

