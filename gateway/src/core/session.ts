import { randomBytes } from 'node:crypto';
import { CloseReason, closeCode, closeText, type ClientInfo, type PresenceEntry, type Tenant } from '@switchyard/shared';
import { ChannelBits } from './bitset.js';
import type { Face } from './face.js';
import type { Dialect } from './dialect.js';

/** What the core needs of a socket; `transport/` adapts uWS to it. */
export interface Conn {
  /** 0 = buffered (backpressure), 1 = sent, 2 = dropped (over the uWS limit). */
  send(frame: Uint8Array | string, binary: boolean): number;
  bufferedAmount(): number;
  /** Runs `fn` with the socket corked, so its writes leave in one syscall. */
  cork(fn: () => void): void;
  /** Sends a close frame with code and reason, then closes. Idempotent. */
  end(code: number, reason: string): void;
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
  readonly id: string;
  readonly bits = new ChannelBits();
  readonly openedAt = Date.now();
  subscriptions = 0;
  /** Set once the connection is closing or closed: nothing more is written. */
  closed = false;
  authenticated = false;
  user: string | undefined = undefined;
  /** Presence info from the credential (any JSON value). */
  info: unknown = undefined;
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
    readonly conn: Conn,
    /** Fixed at upgrade, or bound once by an `authenticate` whose credential names it (bartnet). */
    public tenant: Tenant,
    readonly dialect: Dialect,
    /** How channel messages reach this connection; undefined for dialects without channels (WSaaS). */
    readonly face: Face | undefined,
    private readonly maxBuffered: number,
    private readonly onSlow: (s: Session) => void,
    id: string | undefined,
    state: unknown,
  ) {
    this.id = id ?? newConnectionId(nodeId);
    this.state = state;
  }

  /**
   * Writes one frame. A frame uWS drops, or a send buffer past the limit, makes this a slow
   * consumer: it is closed (by the hub, outside any fan-out loop) rather than silently
   * missing messages. Returns false when the frame was not written.
   */
  write(frame: Uint8Array | string, binary: boolean): boolean {
    if (this.closed) return false;
    const r = this.conn.send(frame, binary);
    if (r !== SendResult.Success && (r === SendResult.Dropped || this.conn.bufferedAmount() > this.maxBuffered)) {
      this.closed = true;
      this.onSlow(this);
      return r !== SendResult.Dropped;
    }
    return true;
  }

  /** Sends a dialect frame: a string as text, bytes as binary. */
  send(frame: Out): boolean {
    return this.write(frame, typeof frame !== 'string');
  }

  /** Closes with the reason's code and text; nothing is written after. Idempotent. */
  close(reason: CloseReason): void {
    this.closed = true;
    this.conn.end(closeCode[reason], closeText[reason]);
  }

  /** The connection as the `from` of its publishes (info as JSON text). */
  clientInfo(): ClientInfo {
    return {
      conn: this.id,
      ...(this.user !== undefined ? { user: this.user } : {}),
      ...(this.info !== undefined ? { info: JSON.stringify(this.info) } : {}),
    };
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

