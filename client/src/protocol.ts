import type { ServerErrorBody } from './errors.js';

/** Who published a message: present on messages a client published (docs/protocol.md#message). */
export interface Publisher {
  /** The publishing connection's id. */
  readonly conn: string;
  /** Its token's `sub`, when the token had one. */
  readonly user?: string;
  /** Its token's `info`, when the token had one. */
  readonly info?: unknown;
}

/** One channel message, as the app receives it. */
export interface Message<T = unknown> {
  readonly channel: string;
  /**
   * The message's number in its channel and epoch. On one node 1, 2, 3, …; in a cluster it
   * grows but is not contiguous (compare seqs, never count them). 0 in namespaces without
   * history: such messages cannot be resumed and are never deduplicated.
   */
  readonly seq: number;
  /** Publish time, ms since 1970-01-01 UTC (server clock). */
  readonly time: number;
  /** The payload, a JSON value exactly as published. */
  readonly data: T;
  /** Present when a client published it. */
  readonly from?: Publisher;
}

/** One entry of a presence list: a connection subscribed to the channel. */
export interface PresenceEntry {
  readonly conn: string;
  readonly user?: string;
  readonly info?: unknown;
}

/** What a publish with `ack` (the default) resolves to: the message's seq and time. */
export interface PublishResult {
  readonly seq: number;
  readonly time: number;
}

// Frames as they come off the wire (docs/protocol.md#frames-at-a-glance). Only what the client reads.

export interface HelloFrame {
  readonly type: 'hello';
  readonly version: number;
  readonly conn: string;
  readonly node: string;
  readonly auth: 'required' | 'optional';
}

export interface ReplyFrame {
  readonly type: 'reply';
  readonly id?: string | number;
  readonly result?: Record<string, unknown>;
  readonly error?: ServerErrorBody;
}

export interface MessageFrame {
  readonly type: 'message';
  readonly channel: string;
  readonly seq: number;
  readonly time: number;
  readonly data: unknown;
  readonly from?: Publisher;
  /** `data` is a delta against the previous message (docs/protocol.md#delta-compression). */
  readonly delta?: boolean;
}

/** The `result` of a successful `subscribe` reply. */
export interface SubscribeResult {
  readonly channel: string;
  readonly last: number;
  readonly recovered: boolean;
  readonly epoch: string;
  /** Present when the subscribe asked for delta compression: whether it is on. */
  readonly delta?: boolean;
}

/** The `result` of a successful `auth` reply. */
export interface AuthResult {
  readonly conn: string;
  readonly user?: string;
  readonly exp?: number;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
