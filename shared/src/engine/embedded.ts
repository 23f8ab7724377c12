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
} from './engine.js';
import { MessageRing } from './ring.js';
import { LocalPresence } from './local-presence.js';

/**
 * The single-node engine: per-channel rings in process memory, local presence and routing.
 * Publishes are stored and delivered synchronously, so delivery order is publish order.
 * Seqs start at 1 per channel in each run (a new `epoch`) and are never reused within it.
 */
export class EmbeddedEngine implements Engine, Broker, History, Presence, ConnectionRouter, Collections {
  readonly kind = 'embedded';
  readonly broker: Broker = this;
  readonly history: History = this;
  readonly presence: Presence = this;
  readonly connections: ConnectionRouter = this;
  readonly collections: Collections = this;
  private readonly stores = new Map<string, { revision: number; items: Map<string, string> }>();
  private readonly handlers = new Map<string, (cmd: ConnectionCommand) => ConnectionReply>();
  readonly epoch = randomUUID();
  /** No broker connection to lose. */
  readonly reconnects = 0;

  private readonly rings = new Map<string, MessageRing>();
  private readonly interest = new Set<string>();
  private readonly members = new LocalPresence();
  private deliver: DeliveryHandler = () => {};
  private closed = false;

  constructor(private readonly now: () => number = Date.now) {}

  setDeliveryHandler(handler: DeliveryHandler): void {
    this.deliver = handler;
  }

  private ring(ch: ChannelRef): MessageRing {
    let r = this.rings.get(ch.key);
    if (r === undefined) {
      r = new MessageRing(ch.opts.history, ch.opts.historyTtlSeconds * 1000);
      this.rings.set(ch.key, r);
    }
    return r;
  }

  publish(ch: ChannelRef, data: string, from?: ClientInfo): Promise<Message> {
    const ring = this.ring(ch);
    const msg: Message = from === undefined
      ? { seq: ring.last + 1, time: this.now(), data }
      : { seq: ring.last + 1, time: this.now(), data, from };
    ring.push(msg);
    if (this.interest.has(ch.key)) this.deliver(ch, msg);
    return Promise.resolve(msg);
  }

  relayUp(): void {
    // One process, no broker: backends see client publishes through the channels themselves.
  }

  subscribe(ch: ChannelRef): Promise<void> {
    this.interest.add(ch.key);
    return Promise.resolve();
  }

  unsubscribe(ch: ChannelRef): Promise<void> {
    this.interest.delete(ch.key);
    return Promise.resolve();
  }

  read(ch: ChannelRef, after: number): Promise<HistoryPage> {
    const ring = this.rings.get(ch.key);
    if (ring === undefined) return Promise.resolve({ messages: [], last: 0, complete: true, epoch: this.epoch });
    const { messages, complete } = ring.read(after, this.now());
    return Promise.resolve({ messages, last: ring.last, complete, epoch: this.epoch });
  }

  join(ch: ChannelRef, entry: PresenceEntry): Promise<void> {
    return this.members.join(ch, entry);
  }

  leave(ch: ChannelRef, conn: string): Promise<void> {
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

  registerMetrics(_metrics: Metrics): void {
    // Nothing of its own to report: one process, no broker, ready until closed.
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
