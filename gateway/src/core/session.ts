import { randomBytes } from 'node:crypto';
import { CloseReason, closeCode, closeText, sharedClientInfo, type ClientInfo, type PresenceEntry, type Tenant } from '@switchyard/shared';
import { ChannelIds } from './channel-ids.js';
import type { Face } from './face.js';
import type { Dialect } from './dialect.js';
import type { Outbox } from './outbox.js';

/** What the core needs of a socket; `transport/` adapts uWS to it. */
export interface Conn {
  /** 0 = buffered (backpressure), 1 = sent, 2 = dropped (over the uWS limit). */
  send(frame: Uint8Array | string, binary: boolean): number;
  bufferedAmount(): number;
  /** Runs `fn` with the socket corked, so its writes leave in one syscall. */
  cork(fn: () => void): void;
  /** Sends a close frame with code and reason, then closes. Idempotent. */
  end(code: number, reason: string): void;
  /** Joins a topic of the node's `TopicBus`: what is published to it reaches this connection. */
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
}

/**
 * uWS pub/sub as the core uses it. A frame published to a topic is queued for each of the
 * topic's subscribers at that moment; a connection's queued frames are written in one corked
 * write after the turn, or at once before anything sent to it directly (so a connection sees
 * them in the order they were published or sent).
 */
export interface TopicBus {
  publish(topic: string, frame: Uint8Array, binary: boolean): void;
}

export const SendResult = { Backpressure: 0, Success: 1, Dropped: 2 } as const;

/** Idle: the next frame runs at once. Starting: a command is being started. Waiting: one is in progress, later frames queue. */
export const Turn = { Idle: 0, Starting: 1, Waiting: 2 } as const;
export type Turn = (typeof Turn)[keyof typeof Turn];

/** A frame a dialect sends: text as a string, binary as bytes. */
export type Out = string | Uint8Array;

/** `<node id>:<12 random base64url characters>`: the node id routes per-connection commands. */
export const newConnectionId = (nodeId: string): string => `${nodeId}:${randomBytes(9).toString('base64url')}`;

/**
 * One client connection's state, whatever its dialect. Every field is assigned here so all
 * sessions share one object shape (the fan-out loop touches them all). What only one dialect
 * needs lives in `state`, which that dialect owns.
 */
export class Session {
  // The fields the fan-out and the flush touch for every delivery come first, in declaration
  // order, so they share the object's first cache line: with thousands of connections, the
  // misses on them, not the instructions, are most of a delivery's cost in JavaScript.
  readonly conn: Conn;
  /** How channel messages reach this connection; undefined for dialects without channels (WSaaS). */
  readonly face: Face | undefined;
  private readonly outbox: Outbox;
  /** Set once the connection is closing or closed: nothing more is written. */
  closed = false;
  /** This turn's queued frames in the outbox: first and last entry (-1: none). */
  outHead = -1;
  outTail = -1;
  readonly id: string;
  /** Fixed at upgrade, or bound once by an `authenticate` whose credential names it (bartnet). */
  tenant: Tenant;
  readonly dialect: Dialect;
  /** The channels it is subscribed or subscribing to (the hub's ids). */
  readonly channels = new ChannelIds();
  readonly openedAt = Date.now();
  subscriptions = 0;
  authenticated = false;
  /** Set by `identify`. */
  user: string | undefined = undefined;
  /** Presence info from the credential (any JSON value); set by `identify`. */
  info: unknown = undefined;
  /** `clientInfo()`, made once per identity: every publish of the connection carries it. */
  private from: ClientInfo | undefined = undefined;
  /** Channel patterns the credential allows (undefined = all). */
  allowed: readonly string[] | undefined = undefined;
  /** Closes the connection when its credential expires. */
  expiryTimer: NodeJS.Timeout | undefined = undefined;
  /** The dialect's own per-connection state (one slot, the dialect's type). */
  state: unknown;
  /** Frames waiting for the command in progress (the runner's per-connection order); made when first needed. */
  queue: unknown[] | undefined = undefined;
  /** Where the connection's command turn is (the runner's per-connection order). */
  turn: Turn = Turn.Idle;

  constructor(
    nodeId: string,
    conn: Conn,
    tenant: Tenant,
    dialect: Dialect,
    face: Face | undefined,
    outbox: Outbox,
    id: string | undefined,
    state: unknown,
  ) {
    this.conn = conn;
    this.face = face;
    this.outbox = outbox;
    this.tenant = tenant;
    this.dialect = dialect;
    this.id = id ?? newConnectionId(nodeId);
    this.state = state;
  }

  /**
   * Writes one frame: queued, and sent with whatever else this connection gets in the same
   * turn, in one corked write. A connection whose queued and buffered bytes pass the limit
   * is a slow consumer: it gets the frames queued so far and is closed (4100) rather than
   * silently missing messages. False when the connection is closed.
   */
  write(frame: Uint8Array | string, binary: boolean): boolean {
    return this.outbox.push(this, frame, binary);
  }

  /** Sends a dialect frame: a string as text, bytes as binary. */
  send(frame: Out): boolean {
    return this.write(frame, typeof frame !== 'string');
  }

  /** Writes what the connection has queued in the outbox now, rather than after the turn. */
  flush(): void {
    this.outbox.flushSession(this);
  }

  /** Sends what is queued, then closes with the reason's code and text; nothing is written after. Idempotent. */
  close(reason: CloseReason): void {
    this.outbox.flushSession(this);
    this.closed = true;
    this.conn.end(closeCode[reason], closeText[reason]);
  }

  /** Who the connection is, from its credential. */
  identify(user: string | undefined, info: unknown): void {
    this.user = user;
    this.info = info;
    this.from = undefined;
  }

  /** The connection as the `from` of its publishes (info as JSON text). */
  clientInfo(): ClientInfo {
    return (this.from ??= sharedClientInfo({
      conn: this.id,
      ...(this.user !== undefined ? { user: this.user } : {}),
      ...(this.info !== undefined ? { info: JSON.stringify(this.info) } : {}),
    }));
  }

  /** The connection's entry in presence lists. */
  presenceEntry(): PresenceEntry {
    return {
      conn: this.id,
      ...(this.user !== undefined ? { user: this.user } : {}),
      ...(this.info !== undefined ? { info: this.info } : {}),
    };
  }

  /** Releases what outlives the socket (the expiry timer). */
  dispose(): void {
    this.closed = true;
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }
}

