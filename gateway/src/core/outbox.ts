import { SendResult, type Session } from './session.js';

/**
 * Everything the node writes to its connections within one event-loop turn, flushed once per
 * turn: each connection's frames leave in one corked write (one syscall) instead of one
 * `send` each. Under load that is most of the cost of a delivery: uWS's own pub/sub batches
 * the same way, and one syscall per delivery cost ~8× its ceiling.
 *
 * One structure for the whole node (arrays reused turn after turn, a linked list of entries
 * per session) so queueing a frame allocates nothing. Order is kept per connection. The
 * slow-consumer limit is checked after each frame is written, as before the outbox: the
 * frame that takes uWS's buffer past it is the last one the connection gets (a gap-free
 * prefix), and it is closed (4100) outside the loop.
 */
export class Outbox {
  private frames: (Uint8Array | string | undefined)[] = [];
  private binary = new Uint8Array(64);
  private next = new Int32Array(64);
  private count = 0;
  private readonly dirty: (Session | undefined)[] = [];
  private dirtyCount = 0;
  private scheduled = false;
  /** The session `sendQueued` works on (one shared callback for `cork`, no closure per flush). */
  private current: Session | undefined = undefined;

  constructor(
    /** Bytes buffered by uWS past which a connection is a slow consumer. */
    private readonly maxBuffered: number,
    /** Called once when a connection becomes a slow consumer (it is closed outside the loop). */
    private readonly onSlow: (s: Session) => void,
    /** Runs `flush` after the current turn (setImmediate in production). */
    private readonly schedule: (flush: () => void) => void = setImmediate,
  ) {}

  /**
   * Queues a frame for `s`; false when `s` is closed. The queue holds one turn's frames: the
   * bytes uWS would otherwise have buffered itself, freed at the flush.
   */
  push(s: Session, frame: Uint8Array | string, binary: boolean): boolean {
    if (s.closed) return false;
    const i = this.count++;
    if (i === this.next.length) this.grow();
    this.frames[i] = frame;
    this.binary[i] = binary ? 1 : 0;
    this.next[i] = -1;
    if (s.outHead < 0) {
      s.outHead = i;
      this.dirty[this.dirtyCount++] = s;
      if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(this.flush);
      }
    } else {
      this.next[s.outTail] = i;
    }
    s.outTail = i;
    return true;
  }

  /** Writes every connection's queued frames, one corked write each. */
  readonly flush = (): void => {
    this.scheduled = false;
    const dirty = this.dirty;
    for (let d = 0; d < this.dirtyCount; d++) {
      const s = dirty[d] as Session;
      dirty[d] = undefined;
      this.flushSession(s);
    }
    this.dirtyCount = 0;
    const frames = this.frames;
    for (let i = 0; i < this.count; i++) frames[i] = undefined;
    this.count = 0;
  };

  /** Writes `s`'s queued frames now (before a close frame, say). */
  flushSession(s: Session): void {
    if (s.outHead < 0) return;
    // A slow consumer (closed) still gets what was queued before it turned slow. One frame
    // leaves in one syscall without a cork: a crossing into uWS less.
    if (s.outHead === s.outTail) {
      this.sendAll(s);
    } else {
      this.current = s;
      s.conn.cork(this.sendQueued);
      this.current = undefined;
    }
    s.outHead = -1;
    s.outTail = -1;
  }

  private readonly sendQueued = (): void => this.sendAll(this.current as Session);

  private sendAll(s: Session): void {
    const frames = this.frames;
    for (let i = s.outHead; i >= 0; i = this.next[i] as number) {
      const r = s.conn.send(frames[i] as Uint8Array | string, this.binary[i] === 1);
      if (r === SendResult.Success) continue;
      if (r === SendResult.Dropped || s.conn.bufferedAmount() > this.maxBuffered) {
        // What was sent so far is a gap-free prefix; nothing after it goes.
        if (!s.closed) this.slow(s);
        return;
      }
    }
  }

  private slow(s: Session): void {
    s.closed = true;
    this.onSlow(s);
  }

  private grow(): void {
    const n = this.next.length * 2;
    const binary = new Uint8Array(n);
    binary.set(this.binary);
    const next = new Int32Array(n);
    next.set(this.next);
    this.binary = binary;
    this.next = next;
  }
}
