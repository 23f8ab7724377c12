import { ErrorCode, ProtocolError } from '../codes.js';
import type { ChannelRef, CollectionRef } from '../model/channel.js';
import type { ClientInfo, Message } from '../model/message.js';
import type { Metrics } from '../metrics.js';

/**
 * The seams between the core and whatever carries messages between nodes. Two
 * implementations: `EmbeddedEngine` (one process, no broker) and the NATS/JetStream engine
 * (cluster mode). Both pass the same contract suite.
 */

/**
 * Receives every message for channels this node has declared interest in: each message
 * once, in strictly increasing seq per channel (seq 0, a channel without history in a
 * cluster, has no order to keep). The hub relies on it and does not dedupe.
 */
export type DeliveryHandler = (ch: ChannelRef, msg: Message) => void;

/** A key that makes a publish idempotent (docs/control-api.md#idempotent-publishes). */
export interface IdempotencyKey {
  /** The caller's key (`checkIdempotencyKey`); scoped to the channel, and so to its tenant. */
  readonly key: string;
  /** How long the key is remembered after the first publish with it, ms (`idempotencyWindowMs`). */
  readonly windowMs: number;
}

export interface PublishOptions {
  /**
   * A publish to the same channel with the same key within the window publishes nothing and
   * resolves with the first one's seq and time, marked `duplicate`; so do publishes racing
   * the first one, on this node and (cluster) on any other.
   */
  readonly idempotency?: IdempotencyKey;
}

/**
 * What a publish resolves with: the stored message, or for a repeated key the first one's
 * seq and time (its `data` and `from` may be the repeat's: only seq and time are kept).
 */
export interface Published extends Message {
  /** Set (true) only when an idempotency key was repeated and nothing was published. */
  readonly duplicate?: true;
}

export interface Broker {
  /**
   * Stores the message in the channel's history (if its namespace keeps one) and relays it to
   * every node interested in the channel, this one included. Resolves with the stored message
   * (its seq assigned) once it is durable; rejects with `unavailable` when it is not.
   */
  publish(ch: ChannelRef, data: string, from?: ClientInfo, opts?: PublishOptions): Promise<Published>;
  /**
   * Hands a client's publish to backends listening on the broker (cluster: the
   * `<prefix>.up.<tenant>.<channel>` subject). At most once; a no-op where no broker exists.
   */
  relayUp(ch: ChannelRef, data: string, from: ClientInfo): void;
  /** This node wants the channel's messages (its first local subscriber arrived). Idempotent. */
  subscribe(ch: ChannelRef): Promise<void>;
  /** This node's last local subscriber left. Idempotent. */
  unsubscribe(ch: ChannelRef): Promise<void>;
  /** Where relayed messages go. One handler per node; set before the first subscribe. */
  setDeliveryHandler(handler: DeliveryHandler): void;
}

export interface HistoryPage {
  /** Messages with seq > `after` (or the last one, for after = -1), oldest first. */
  readonly messages: readonly Message[];
  /** The channel's last seq (0 when nothing was ever published in this epoch). */
  readonly last: number;
  /** False when the history no longer reaches back to `after` (trimmed by size or age). */
  readonly complete: boolean;
  /** Identifies this run of the sequence space; a new epoch means seqs started again. */
  readonly epoch: string;
}

export interface History {
  /** `after` ≥ 0: messages with seq > after that the history still holds; -1: the last one. */
  read(ch: ChannelRef, after: number): Promise<HistoryPage>;
}

export interface PresenceEntry {
  readonly conn: string;
  readonly user?: string;
  readonly info?: unknown;
}

export interface Presence {
  /** Adds or replaces the connection's entry in the channel. */
  join(ch: ChannelRef, entry: PresenceEntry): Promise<void>;
  /** Removes it; idempotent. */
  leave(ch: ChannelRef, conn: string): Promise<void>;
  list(ch: ChannelRef): Promise<PresenceEntry[]>;
}

/** A connection entering (`join`, with its entry) or leaving (`leave`) a channel's presence. */
export interface PresenceChange {
  readonly type: 'join' | 'leave';
  readonly entry: PresenceEntry;
  /**
   * Cluster: which announcement of the connection's membership this change belongs to (its
   * gateway numbers them): with the channel, the connection and the type, it names the
   * change the same on every node that hands it on (the change feed stores it once).
   */
  readonly ann?: number;
}

export type PresenceChangeHandler = (ch: ChannelRef, change: PresenceChange) => void;

/**
 * Join and leave of other nodes' connections in `joinLeave` channels (only engines that span
 * nodes have it; a node announces its own connections itself). For each watched channel the
 * handler gets, per remote connection, at most one `join` and then at most one `leave`, the
 * `leave` also when the connection's node stops answering (docs/architecture.md#join-and-leave-across-nodes).
 * Events of connections that joined before `watch` are not replayed: their leave comes all
 * the same.
 */
export interface PresenceEvents {
  /** Where remote changes go. One handler per node; set before the first watch. */
  setHandler(handler: PresenceChangeHandler): void;
  /** This node has subscribers of the channel (its first arrived). Idempotent. */
  watch(ch: ChannelRef): void;
  /** Its last subscriber left: forget the channel's remote members. Idempotent. */
  unwatch(ch: ChannelRef): void;
}

/** One stored presence change of a `joinLeave` channel (docs/control-api.md#presence-change-feed). */
export interface PresenceFeedEvent {
  /** Increasing within the feed (gaps: other tenants' changes, and in a cluster repeats not stored). */
  readonly seq: number;
  /** When it was stored, ms since the epoch. */
  readonly time: number;
  readonly type: 'join' | 'leave';
  readonly channel: string;
  readonly conn: string;
  readonly user?: string;
  /** `join` only. */
  readonly info?: unknown;
}

export interface PresenceFeedPage {
  /** Oldest first. */
  readonly events: readonly PresenceFeedEvent[];
  /** Pass as `after` next time: the last event's seq, or `after` itself when there was none. */
  readonly last: number;
}

/** The presence change feed for backends. */
export interface PresenceFeed {
  /**
   * `tenant`'s changes with seq > `after`, oldest first, at most `limit`. When there is none
   * yet, waits up to `waitMs` for the first (a long poll). Changes older than the feed keeps
   * are gone: the first seq returned is then above `after + 1`.
   */
  read(tenant: string, after: number, waitMs: number, limit: number): Promise<PresenceFeedPage>;
}

/**
 * What a stats request asks for beyond the figures every snapshot carries. Sent as the
 * request's JSON body; an empty body (an older control API, or `GET /stats`) asks nothing more.
 */
export interface StatsQuery {
  /** Include this node's busiest channels, at most this many (0 or absent: none). */
  readonly top?: number;
  /** With `top`: only channels of this tenant. */
  readonly tenant?: string;
}

/** A channel with local subscribers on one node, as that node sees it. */
export interface ChannelLoad {
  readonly tenant: string;
  readonly channel: string;
  /** This node's subscribers of the channel (live, and still replaying). */
  readonly subscribers: number;
  /** Messages of the channel this node handed to its subscribers during `BusiestChannels.windowMs`. */
  readonly messages: number;
}

/** A node's busiest channels: most messages in the window first, then most subscribers. */
export interface BusiestChannels {
  /**
   * The span the `messages` counts cover, ms: since the node last started a window (it starts
   * a new one when asked at least a second after the last). Divide to get messages/s.
   */
  readonly windowMs: number;
  readonly channels: readonly ChannelLoad[];
}

/**
 * One node's live figures, as `GET /stats` sums them and the admin page shows them. The
 * fields after `bytesOut` are optional on the wire: a node of an older version (during a
 * rolling update) answers without them.
 */
export interface NodeSnapshot {
  readonly node: string;
  readonly role: string;
  readonly connections: number;
  readonly channels: number;
  readonly subscriptions: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Whether the node can serve now, as its `/readyz` says (engine ready, not draining). */
  readonly ready?: boolean;
  /** Shutting down: `/readyz` answers 503 while the node still serves (`--drain-delay`), then closes its connections. */
  readonly draining?: boolean;
  /** When the node started, ms since the epoch. */
  readonly startedAt?: number;
  /** The node's clock when it answered, ms since the epoch. */
  readonly at?: number;
  /** Resident set size of the node's process, bytes (the threads of one process report the same figure). */
  readonly rss?: number;
  /** JavaScript heap in use by the node (its own thread's heap), bytes. */
  readonly heapUsed?: number;
  /** The node's process and host: the threads of one `--threads N` gateway share them. */
  readonly pid?: number;
  readonly host?: string;
  /** Open connections by dialect name (every dialect the node serves, 0 included). */
  readonly dialects?: Readonly<Record<string, number>>;
  /** Subscriptions of open connections by dialect name (as `dialects`). */
  readonly dialectSubscriptions?: Readonly<Record<string, number>>;
  /** Only when the request asked for them (`StatsQuery.top`). */
  readonly busiest?: BusiestChannels;
}

/** Cluster-wide questions to every node (only engines that span nodes have it). */
export interface NodeDirectory {
  /** Answers stats requests with this node's snapshot (every node calls it). */
  serveStats(snapshot: (q: StatsQuery) => NodeSnapshot): void;
  /** Snapshots of every node that answers (within the scatter-gather's wait). */
  gatherStats(q?: StatsQuery): Promise<NodeSnapshot[]>;
}

/** One stored item of a collection; `item` is JSON text. */
export interface StoredItem {
  readonly id: string;
  readonly item: string;
}

/**
 * Collections of items with ids (MonoRail's collection-backed resources). Every change is
 * also delivered, to nodes interested in the collection's change channel, as a message whose
 * data is `{"op":"put","id":…,"item":…}` or `{"op":"remove","id":…}`.
 */
export interface Collections {
  /** Stores (creates or replaces) an item; resolves with its revision. */
  put(c: CollectionRef, id: string, item: string): Promise<number>;
  /** Removes an item; false when there was none. */
  remove(c: CollectionRef, id: string): Promise<boolean>;
  get(c: CollectionRef, id: string): Promise<string | null>;
  items(c: CollectionRef): Promise<StoredItem[]>;
}

/** Item ids: KV-key safe, as a backend writing straight to a bucket uses them. */
export const ITEM_ID_RE = /^[A-Za-z0-9_=/-]+(\.[A-Za-z0-9_=/-]+)*$/;

/** Throws `bad_request` unless `id` is a valid item id (both engines accept the same ids). */
export function checkItemId(id: string): void {
  if (id.length > 256 || !ITEM_ID_RE.test(id)) {
    throw new ProtocolError(ErrorCode.BadRequest, 'item id must be 1-256 characters of A-Z a-z 0-9 _ = / - in dot-separated parts');
  }
}

/** The internal channel carrying a collection's changes (a control character keeps it private). */
export function collectionChannel(c: CollectionRef): ChannelRef {
  const name = `\u0002collection:${c.resource}`;
  return {
    tenant: c.tenant,
    name,
    key: `${c.tenant}/${name}`,
    namespace: '',
    opts: COLLECTION_CHANNEL_OPTS,
    collection: c,
  };
}
const COLLECTION_CHANNEL_OPTS = Object.freeze({ history: 0, historyTtlSeconds: 0, presence: false, clientPublish: false });

/** The change message data for a put or a remove. */
export const changeData = (id: string, item: string | null): string =>
  item === null ? `{"op":"remove","id":${JSON.stringify(id)}}` : `{"op":"put","id":${JSON.stringify(id)},"item":${item}}`;

/** A command for one connection, routed to the node that holds it (its id's prefix). */
export interface ConnectionCommand {
  readonly op: 'push' | 'close' | 'info';
  readonly conn: string;
  /**
   * The tenants whose backend secret the caller presented, as the control API checked it (the
   * secret itself never travels on the bus). The owning node allows the command when the
   * connection's tenant is among them, or when its dialect asks for no bearer.
   */
  readonly backendOf: readonly string[];
  /** push: a text frame. */
  readonly text?: string;
  /** push: a binary frame, base64. */
  readonly binary?: string;
}

export type ConnectionReply =
  | { readonly status: 'ok'; readonly info?: Record<string, unknown> }
  | { readonly status: 'gone' }
  | { readonly status: 'unauthorized' };

/** Per-connection commands (push, close, info) from any process to the owning gateway. */
export interface ConnectionRouter {
  /** This node answers for the connections whose ids start with `<nodeId>:`. */
  serve(nodeId: string, handler: (cmd: ConnectionCommand) => ConnectionReply): void;
  /** Delivers `cmd` to the owning node; `gone` when no node holds the connection. */
  send(cmd: ConnectionCommand): Promise<ConnectionReply>;
}

/** The node id a connection id starts with (`<node>:<random>`). */
export const nodeOf = (conn: string): string => conn.slice(0, Math.max(0, conn.indexOf(':')));

/**
 * Node ids: one NATS subject token (no `.`), and long enough for a Kubernetes pod name (at
 * most 63 characters), which the Helm chart uses so that logs and connection ids name the pod.
 */
export const NODE_ID_RE = /^[A-Za-z0-9_-]{1,63}$/;

export interface Engine {
  readonly kind: 'embedded' | 'nats';
  readonly collections: Collections;
  readonly connections: ConnectionRouter;
  readonly nodes?: NodeDirectory;
  readonly broker: Broker;
  readonly history: History;
  readonly presence: Presence;
  /** Remote join / leave events; absent where every connection is local (the embedded engine). */
  readonly presenceEvents?: PresenceEvents;
  readonly presenceFeed: PresenceFeed;
  /** Whether publishes and subscribes can succeed now (drives /readyz). */
  ready(): boolean;
  /** Times the connection to the broker came back after a loss (always 0 for the embedded engine). */
  readonly reconnects: number;
  /**
   * Adds the engine's own series to the process's registry (read on scrape). Call once per
   * registry: registering a name twice throws.
   */
  registerMetrics(metrics: Metrics): void;
  close(): Promise<void>;
}
