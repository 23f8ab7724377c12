import { randomUUID } from 'node:crypto';
import type { ChannelRef, CollectionRef } from '../model/channel.js';
import type { ClientInfo, Message } from '../model/message.js';
import type { Metrics } from '../metrics.js';
import {
  changeData,
  checkItemId,
  collectionChannel,
  nodeOf,
  type Broker,
  type Collections,
  type StoredItem,
  type ConnectionCommand,
  type ConnectionReply,
  type ConnectionRouter,
  type DeliveryHandler,
  type Engine,
  type History,
  type HistoryPage,
  type Presence,
  type PresenceEntry,
  type PublishOptions,
  type Published,
} from './engine.js';
import { DEFAULT_MAX_IDEMPOTENCY_KEYS, IdempotencyMap } from './idempotency.js';
import { MessageRing } from './ring.js';
import { LocalPresence } from './local-presence.js';
import { PresenceRing } from './presence-ring.js';
import { ErrorCode, ProtocolError } from '../codes.js';

export interface EmbeddedEngineOptions {
  /** The clock of message times and history TTLs. */
  readonly now?: () => number;
  /** Channels with history a tenant may hold on this node (0: no limit). */
  readonly channelLimit?: (tenant: string) => number;
  /** How often idle channels' state is dropped, ms. */
  readonly sweepMs?: number;
  /** Idempotency keys remembered at once (default 100,000); past it the oldest are forgotten early. */
  readonly maxIdempotencyKeys?: number;
  /** Presence changes the feed keeps (all tenants together; default 10,000). */
  readonly presenceFeedSize?: number;
}

/** A channel's numbered history on this node, and the epoch its seqs belong to. */
interface ChannelLog {
  readonly ring: MessageRing;
  readonly epoch: string;
  readonly tenant: string;
}

/**
 * The single-node engine: per-channel rings in process memory, local presence and routing.
 * Publishes are stored and delivered synchronously, so delivery order is publish order.
 *
 * Memory is bounded by what is kept, never by how many channels were ever named: a channel
 * whose namespace keeps no history has no state at all (its messages carry seq 0, as in a
 * cluster), and a channel's log is dropped once it retains no message (its history TTL
 * expired them) and no one here is subscribed. A log that comes back starts at seq 1 in a
 * new epoch, so a client resuming with the old epoch is told it could not recover.
 */
export class EmbeddedEngine implements Engine, Broker, History, Presence, ConnectionRouter, Collections {
  readonly kind = 'embedded';
  readonly broker: Broker = this;
  readonly history: History = this;
  readonly presence: Presence = this;
  readonly connections: ConnectionRouter = this;
  readonly collections: Collections = this;
  /** Joins and leaves of `joinLeave` channels, for backends (an in-memory ring). */
  readonly presenceFeed: PresenceRing;
  private readonly stores = new Map<string, { revision: number; items: Map<string, string> }>();
  private readonly handlers = new Map<string, (cmd: ConnectionCommand) => ConnectionReply>();
  /** This run; each channel log's epoch is `<run>.<n>`. */
  readonly epoch = randomUUID();
  /** No broker connection to lose. */
  readonly reconnects = 0;

  private readonly logs = new Map<string, ChannelLog>();
  private readonly logsOf = new Map<string, number>();
  private generation = 0;
  private readonly interest = new Set<string>();
  private readonly members = new LocalPresence();
  private deliver: DeliveryHandler = () => {};
  private closed = false;
  private readonly now: () => number;
  private readonly channelLimit: (tenant: string) => number;
  private readonly sweeper: NodeJS.Timeout;
  /** Idempotency keys of recent publishes (the cluster engine leaves this to JetStream). */
  readonly idempotency: IdempotencyMap;

  constructor(o: EmbeddedEngineOptions = {}) {
    this.now = o.now ?? Date.now;
    this.channelLimit = o.channelLimit ?? (() => 0);
    this.idempotency = new IdempotencyMap(o.maxIdempotencyKeys ?? DEFAULT_MAX_IDEMPOTENCY_KEYS, this.now);
    this.presenceFeed = new PresenceRing(o.presenceFeedSize ?? 10_000, this.now);
    this.sweeper = setInterval(() => this.sweep(), o.sweepMs ?? 10_000).unref();
  }

  setDeliveryHandler(handler: DeliveryHandler): void {
    this.deliver = handler;
  }

  /** Channels whose log this node keeps. */
  get channels(): number {
    return this.logs.size;
  }

  /** A new log for `ch`; `limited`: refused with `limit_exceeded` when its tenant is at its limit. */
  private open(ch: ChannelRef, limited: boolean): ChannelLog {
    const held = this.logsOf.get(ch.tenant) ?? 0;
    const limit = this.channelLimit(ch.tenant);
    if (limited && limit > 0 && held >= limit) {
      throw new ProtocolError(ErrorCode.LimitExceeded, `tenant ${ch.tenant} keeps history for its limit of ${limit} channels on this node`);
    }
    const log: ChannelLog = {
      ring: new MessageRing(ch.opts.history, ch.opts.historyTtlSeconds * 1000),
      epoch: `${this.epoch}.${++this.generation}`,
      tenant: ch.tenant,
    };
    this.logs.set(ch.key, log);
    this.logsOf.set(ch.tenant, held + 1);
    return log;
  }

  /** Drops the logs that retain nothing and have no subscriber here, and expired idempotency keys. */
  sweep(): void {
    const now = this.now();
    this.idempotency.sweep(now);
    for (const [key, log] of this.logs) {
      if (this.interest.has(key) || !log.ring.isEmpty(now)) continue;
      this.logs.delete(key);
      const held = (this.logsOf.get(log.tenant) ?? 1) - 1;
      if (held === 0) this.logsOf.delete(log.tenant);
      else this.logsOf.set(log.tenant, held);
    }
  }

  publish(ch: ChannelRef, data: string, from?: ClientInfo, opts?: PublishOptions): Promise<Published> {
    const idem = opts?.idempotency;
    if (idem === undefined) return this.append(ch, data, from);
    // ch.key has no control characters: the newline cannot be forged by a channel name.
    return this.idempotency.run(`${ch.key}\n${idem.key}`, idem.windowMs, data, () => this.append(ch, data, from));
  }

  private append(ch: ChannelRef, data: string, from?: ClientInfo): Promise<Message> {
    let log: ChannelLog | undefined;
    if (ch.opts.history > 0) {
      try {
        log = this.logs.get(ch.key) ?? this.open(ch, true);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const seq = log === undefined ? 0 : log.ring.last + 1; // no history: unnumbered, as in a cluster
    const msg: Message = from === undefined ? { seq, time: this.now(), data } : { seq, time: this.now(), data, from };
    log?.ring.push(msg);
    if (this.interest.has(ch.key)) this.deliver(ch, msg);
    return Promise.resolve(msg);
  }

  relayUp(): void {
    // One process, no broker: backends see client publishes through the channels themselves.
  }

  subscribe(ch: ChannelRef): Promise<void> {
    this.interest.add(ch.key);
    // A subscriber pins its channel's log, so the epoch it is told stays the channel's.
    // Subscriptions are bounded per connection: they never count against the channel limit.
    if (ch.opts.history > 0 && !this.logs.has(ch.key)) this.open(ch, false);
    return Promise.resolve();
  }

  unsubscribe(ch: ChannelRef): Promise<void> {
    this.interest.delete(ch.key);
    return Promise.resolve();
  }

  read(ch: ChannelRef, after: number): Promise<HistoryPage> {
    // No history: nothing to resume from, as in a cluster.
    if (ch.opts.history === 0) return Promise.resolve({ messages: [], last: 0, complete: after <= 0, epoch: '' });
    const log = this.logs.get(ch.key);
    if (log === undefined) return Promise.resolve({ messages: [], last: 0, complete: true, epoch: this.epoch });
    const { messages, complete } = log.ring.read(after, this.now());
    return Promise.resolve({ messages, last: log.ring.last, complete, epoch: log.epoch });
  }

  join(ch: ChannelRef, entry: PresenceEntry): Promise<void> {
    if (ch.opts.joinLeave === true) this.presenceFeed.append(ch, { type: 'join', entry });
    return this.members.join(ch, entry);
  }

  leave(ch: ChannelRef, conn: string): Promise<void> {
    if (ch.opts.joinLeave === true) {
      const entry = this.members.entry(ch.key, conn);
      if (entry !== undefined) this.presenceFeed.append(ch, { type: 'leave', entry });
    }
    return this.members.leave(ch, conn);
  }

  list(ch: ChannelRef): Promise<PresenceEntry[]> {
    return Promise.resolve(this.members.entries(ch.key));
  }

  private store(c: CollectionRef) {
    const key = `${c.tenant}/${c.resource}`;
    let s = this.stores.get(key);
    if (s === undefined) this.stores.set(key, (s = { revision: 0, items: new Map() }));
    return s;
  }

  /** Stores, then tells interested nodes (this one) about the change. */
  private changed(c: CollectionRef, revision: number, id: string, item: string | null): void {
    const ch = collectionChannel(c);
    if (this.interest.has(ch.key)) this.deliver(ch, { seq: revision, time: this.now(), data: changeData(id, item) });
  }

  put(c: CollectionRef, id: string, item: string): Promise<number> {
    checkItemId(id);
    const s = this.store(c);
    s.items.set(id, item);
    const revision = ++s.revision;
    this.changed(c, revision, id, item);
    return Promise.resolve(revision);
  }

  remove(c: CollectionRef, id: string): Promise<boolean> {
    const s = this.store(c);
    if (!s.items.delete(id)) return Promise.resolve(false);
    this.changed(c, ++s.revision, id, null);
    return Promise.resolve(true);
  }

  get(c: CollectionRef, id: string): Promise<string | null> {
    return Promise.resolve(this.store(c).items.get(id) ?? null);
  }

  items(c: CollectionRef): Promise<StoredItem[]> {
    return Promise.resolve([...this.store(c).items].map(([id, item]) => ({ id, item })));
  }

  serve(nodeId: string, handler: (cmd: ConnectionCommand) => ConnectionReply): void {
    this.handlers.set(nodeId, handler);
  }

  send(cmd: ConnectionCommand): Promise<ConnectionReply> {
    const handler = this.handlers.get(nodeOf(cmd.conn));
    return Promise.resolve(handler === undefined ? { status: 'gone' } : handler(cmd));
  }

  ready(): boolean {
    return !this.closed;
  }

  registerMetrics(metrics: Metrics): void {
    metrics.gauge('switchyard_history_channels', 'Channels whose history this process keeps (embedded engine): bounded by the tenants\' maxChannels, and freed once a channel retains no message and has no subscriber.', () => this.logs.size);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    this.closed = true;
    return Promise.resolve();
  }
}
