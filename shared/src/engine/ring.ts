import type { Message } from '../model/message.js';

/**
 * A channel's history: the last `capacity` messages, dropped also once older than `ttlMs`.
 * Seqs are contiguous within a ring (one per publish), which `read` relies on. The buffer
 * grows as messages arrive: most channels hold a few messages, and a ring sized for its
 * capacity up front cost ~1 KB per channel ever published to.
 */
export class MessageRing {
  private buf: (Message | undefined)[] = [];
  private start = 0; // index of the oldest retained message
  private size = 0;
  /** The channel's last seq, kept even when the ring holds nothing. */
  last = 0;

  constructor(
    readonly capacity: number,
    private readonly ttlMs: number,
  ) {}

  push(msg: Message): void {
    this.last = msg.seq;
    if (this.capacity === 0) return;
    if (this.size === this.buf.length && this.size < this.capacity) this.grow();
    const len = this.buf.length;
    if (this.size < len) {
      this.buf[(this.start + this.size) % len] = msg;
      this.size++;
    } else {
      this.buf[this.start] = msg;
      this.start = (this.start + 1) % len;
    }
  }

  /** Doubles the buffer (up to capacity), oldest message first. */
  private grow(): void {
    const len = this.buf.length;
    const next = new Array<Message | undefined>(Math.min(this.capacity, Math.max(4, len * 2)));
    for (let i = 0; i < this.size; i++) next[i] = this.buf[(this.start + i) % len];
    this.buf = next;
    this.start = 0;
  }

  /** Drops messages older than the TTL; returns the oldest retained seq (last + 1 if none). */
  private expire(nowMs: number): number {
    if (this.ttlMs > 0) {
      const cutoff = nowMs - this.ttlMs;
      const len = this.buf.length;
      while (this.size > 0 && (this.buf[this.start] as Message).time < cutoff) {
        this.buf[this.start] = undefined;
        this.start = (this.start + 1) % len;
        this.size--;
      }
      if (this.size === 0 && len > 0) this.buf = []; // an idle channel gives its buffer back
    }
    return this.size > 0 ? (this.buf[this.start] as Message).seq : this.last + 1;
  }

  /** Whether nothing is retained any more (after dropping what the TTL expired). */
  isEmpty(nowMs: number): boolean {
    this.expire(nowMs);
    return this.size === 0;
  }

  /** Messages with seq > after (after = -1: the last one), and whether nothing after `after` was lost. */
  read(after: number, nowMs: number): { messages: Message[]; complete: boolean } {
    const oldest = this.expire(nowMs);
    const len = this.buf.length;
    if (after < 0) {
      const m = this.size > 0 ? (this.buf[(this.start + this.size - 1) % len] as Message) : undefined;
      return { messages: m ? [m] : [], complete: true };
    }
    const from = Math.max(after + 1, oldest);
    const messages: Message[] = [];
    for (let seq = from; seq <= this.last; seq++) {
      messages.push(this.buf[(this.start + (seq - oldest)) % len] as Message);
    }
    return { messages, complete: after + 1 >= oldest || after >= this.last };
  }
}
