import { randomBytes } from 'node:crypto';
import type { ChannelRef, Message, Tenant } from '@switchyard/shared';
import { ChannelBits } from './bitset.js';
import type { Face } from './face.js';

/** What the core needs of a socket; `transport/` adapts uWS to it. */
export interface Conn {
  /** 0 = buffered (backpressure), 1 = sent, 2 = dropped (over the uWS limit). */
  send(frame: Uint8Array | string, binary: boolean): number;
  bufferedAmount(): number;
  /** Runs `fn` with the socket corked, so its writes leave in one syscall. */
  cork(fn: () => void): void;
  /** Sends a close frame with code and reason, then closes. */
  end(code: number, reason: string): void;
}

export const SendResult = { Backpressure: 0, Success: 1, Dropped: 2 } as const;

/** `<node id>:<12 random base64url characters>`: the node id routes per-connection commands. */
export const newConnectionId = (nodeId: string): string => `${nodeId}:${randomBytes(9).toString('base64url')}`;

/**
 * One client connection's state, whatever its dialect. Every field is assigned here so all
 * sessions share one object shape (the fan-out loop touches them all).
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
  /** Presence info from the token (any JSON value). */
  info: unknown = undefined;
  /** Channel patterns the token allows (undefined = all). */
  allowed: readonly string[] | undefined = undefined;
  expiryTimer: NodeJS.Timeout | undefined = undefined;
  /** Listed in the presence of every channel it joins, whatever the namespace says (otter clients). */
  alwaysPresent = false;
  /** A backend connection (otter: proved by signing its connection id). */
  backend = false;
  /**
   * Set by dialects that filter and shape each message per connection (MonoRail watches):
   * the hub hands it the message instead of writing the face's shared frame.
   */
  intercept: ((ref: ChannelRef, msg: Message) => void) | undefined = undefined;

  constructor(
    nodeId: string,
    readonly conn: Conn,
    /** Fixed at upgrade, except for bartnet, whose credential names the tenant at authenticate. */
    public tenant: Tenant,
    readonly dialect: string,
    readonly face: Face,
    private readonly maxBuffered: number,
    private readonly onSlow: (s: Session) => void,
    id?: string,
  ) {
    this.id = id ?? newConnectionId(nodeId);
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
}
