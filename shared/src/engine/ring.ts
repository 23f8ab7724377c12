import type { Message } from '../model/message.js';

/**
 * A channel's history: the last `capacity` messages, dropped also once older than `ttlMs`.
 * Seqs are contiguous within a ring (one per publish), which `read` relies on.
 */
export class MessageRing {
  private readonly buf: (Message | undefined)[];
  private start = 0; // index of the oldest retained message
  private size = 0;
  /** The channel's last seq, kept even when the ring holds nothing. */
  last = 0;

  constructor(
    readonly capacity: number,
    private readonly ttlMs: number,
  ) {
    this.buf = new Array<Message | undefined>(capacity);
  }

  push(msg: Message): void {
    this.last = msg.seq;
    if (this.capacity === 0) return;
    if (this.size < this.capacity) {
      this.buf[(this.start + this.size) % this.capacity] = msg;
      this.size++;
    } else {
      this.buf[this.start] = msg;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** Drops messages older than the TTL; returns the oldest retained seq (last + 1 if none). */
  private expire(nowMs: number): number {
    if (this.ttlMs > 0) {
      const cutoff = nowMs - this.ttlMs;
      while (this.size > 0 && (this.buf[this.start] as Message).time < cutoff) {
        this.buf[this.start] = undefined;
        this.start = (this.start + 1) % this.capacity;
        this.size--;
      }
    }
    return this.size > 0 ? (this.buf[this.start] as Message).seq : this.last + 1;
  }

  /** Messages with seq > after (after = -1: the last one), and whether nothing after `after` was lost. */
  read(after: number, nowMs: number): { messages: Message[]; complete: boolean } {
    const oldest = this.expire(nowMs);
    if (after < 0) {
      const m = this.size > 0 ? (this.buf[(this.start + this.size - 1) % this.capacity] as Message) : undefined;
      return { messages: m ? [m] : [], complete: true };
    }
    const from = Math.max(after + 1, oldest);
    const messages: Message[] = [];
    for (let seq = from; seq <= this.last; seq++) {
      messages.push(this.buf[(this.start + (seq - oldest)) % this.capacity] as Message);
    }
    return { messages, complete: after + 1 >= oldest || after >= this.last };
  }
}
