import type { ChannelRef, Message, PresenceEntry, Tenant } from '@switchyard/shared';

/**
 * The internal command set. Every dialect translates its frames into these; the runner
 * (`runner.ts`) executes them against the hub and the publisher, one at a time per
 * connection, and hands each outcome back to the dialect to encode.
 */
export type Command =
  | Authenticate
  | Subscribe
  | Unsubscribe
  | Publish
  | PresenceQuery
  | Request
  | Local;

/** What a dialect proved about the client (each dialect checks its own credential). */
export interface Identity {
  /** Binds the connection to this tenant (bartnet's credential names it); absent: keep the upgrade's. */
  readonly tenant?: Tenant;
  readonly user?: string;
  /** Presence info (any JSON value), shown to others in presence lists and as `from`. */
  readonly info?: unknown;
  /** Channel patterns the credential allows (undefined: all). */
  readonly allowed?: readonly string[];
  /** Expiry, seconds since the epoch: the connection is closed with 4101 then. */
  readonly exp?: number;
}

/**
 * Applies an identity. A connection never changes its user or its tenant: a second
 * authenticate that would is refused and changes nothing.
 */
export interface Authenticate {
  readonly op: 'authenticate';
  readonly identity: Identity;
}

/** Where a client resumes from: after seq `after` (-1: the last message) of epoch `epoch`. */
export interface ResumePoint {
  readonly after: number;
  /** The epoch the client's seq belongs to; another epoch means its seq means nothing here. */
  readonly epoch?: string;
  /** The same as `epoch`, by its `epochTag` (SSE event ids carry the tag). */
  readonly epochTag?: string;
}

export interface SubscribeTarget {
  readonly channel: ChannelRef;
  /** Undefined: live messages only. */
  readonly from?: ResumePoint;
  /** Listed in the channel's presence even where its namespace has presence off (otter clients). */
  readonly presence?: boolean;
  /** Keeps only the replayed messages this accepts (bartnet drops events past their ttl). */
  readonly replayFilter?: (msg: Message, now: number) => boolean;
  /**
   * Asks for delta compression (docs/protocol.md#delta-compression). Granted when the
   * namespace has `delta: true` and the connection's face can encode deltas; `Subscribed.delta` says.
   */
  readonly delta?: boolean;
}

/**
 * Drops `drop`, then subscribes to every target, all or nothing: the runner checks the limit
 * (after the drops) before anything changes, subscribes, answers, and only then makes the new
 * subscriptions live, so the answer precedes the replay and replay and live flow join with
 * no hole, duplicate or reordering.
 */
export interface Subscribe {
  readonly op: 'subscribe';
  readonly targets: readonly SubscribeTarget[];
  readonly drop?: readonly ChannelRef[];
  /** A target the connection already has is skipped (otherwise: `already_subscribed`). */
  readonly skipExisting?: boolean;
  /**
   * Read after the subscriptions are in place and before they go live, and handed to the
   * answer: an initial state with no change lost between the two (MonoRail's watch list).
   */
  readonly snapshot?: () => Promise<unknown>;
}

export interface Unsubscribe {
  readonly op: 'unsubscribe';
  readonly channel: ChannelRef;
  /** Not subscribed is not an error (the outcome says `removed: false`). */
  readonly quiet?: boolean;
}

/**
 * Publishes into `channel` with the connection as `from`; `up` also hands a message to
 * backends listening on the broker. With `ack: false` the runner does not wait for the
 * engine before the connection's next command (a high-rate publisher's frames stay
 * pipelined); only a failure is answered.
 */
export interface Publish {
  readonly op: 'publish';
  readonly channel: ChannelRef;
  readonly data: string;
  readonly ack: boolean;
  readonly up?: { readonly channel: ChannelRef; readonly data: string };
}

export interface PresenceQuery {
  readonly op: 'presence';
  readonly channel: ChannelRef;
}

/** A dialect's own resource (MonoRail's collections): ordered and error-handled like the rest. */
export interface Request {
  readonly op: 'request';
  readonly run: () => unknown;
}

/** Nothing for the core to do; the dialect answers from its own state (ping, MonoRail init). */
export interface Local {
  readonly op: 'local';
}

/** A new subscription, as the answer sees it. */
export interface Subscribed {
  readonly channel: ChannelRef;
  /** The channel's last seq when the history was read. */
  readonly last: number;
  /** False when the history no longer held every message after the resume point. */
  readonly recovered: boolean;
  readonly epoch: string;
  /** Delta compression is on for this subscription. */
  readonly delta: boolean;
}

/** What a command produced, by command; handed to `Dialect.reply`. */
export interface Outcomes {
  authenticate: undefined;
  subscribe: { readonly subscribed: readonly Subscribed[]; readonly snapshot: unknown };
  unsubscribe: { readonly removed: boolean };
  publish: Message;
  presence: readonly PresenceEntry[];
  request: unknown;
  local: undefined;
}
export type Outcome = Outcomes[keyof Outcomes];

/** A command that succeeded with its outcome, discriminated by `op` for the dialect's answer. */
export type Done = {
  [K in Command['op']]: { readonly op: K; readonly cmd: Extract<Command, { op: K }>; readonly outcome: Outcomes[K] };
}[Command['op']];
