/**
 * Ordering and gap repair for one channel's live messages, with no I/O of its own.
 *
 * The stream relays every stored message to the live subject with its seq and the previous
 * seq of the same subject (`prev`). Seqs are the stream's, shared by a namespace's channels,
 * so one channel's seqs grow with holes (3, 7, 12); `prev` is what says whether anything of
 * this channel lies between the last message delivered and the one just received.
 *
 * Guarantee: `deliver` sees each stored message of the channel at most once, in strictly
 * increasing seq, and, from the first message on, every message the stream still holds when
 * its gap is filled. Messages with seq 0 (channels without history, or a backend publishing
 * straight to the live subject) pass straight through: there is nothing to order or fill.
 */

export interface Sequenced {
  readonly seq: number;
}

/** Where the sequencer's decisions go. */
export interface SequencerSink<M extends Sequenced> {
  /** Hands a message on, in order. */
  deliver(msg: M): void;
  /**
   * Asks for the stored messages of the channel with from ≤ seq ≤ to. Answer later (never
   * from inside this call) with `filled(from, to, messages)`, retrying until it succeeds;
   * live messages are held meanwhile. What the answer lacks in the range is taken as gone
   * (trimmed by size or age): it is never asked for again.
   */
  fill(from: number, to: number): void;
}

interface Held<M> {
  readonly msg: M;
  readonly prev: number;
}

export class GapSequencer<M extends Sequenced> {
  /**
   * Highest seq settled: delivered, or covered by a fill (so delivered or gone). Undefined
   * until the first message, which is delivered as it comes: there is no earlier point the
   * node promised to continue from.
   */
  private settled: number | undefined;
  /** The fill asked for and not answered yet. */
  private pending: { readonly from: number; readonly to: number } | undefined;
  /** Live messages that arrived while a fill was pending, in arrival order. */
  private held: Held<M>[] = [];
  /** The store is known to hold messages up to this seq (catch-up after a reconnect). */
  private known = 0;

  constructor(private readonly sink: SequencerSink<M>) {}

  /** Highest seq delivered or known gone (undefined before the first message). */
  get last(): number | undefined {
    return this.settled;
  }

  /** Whether a fill is pending (live messages are being held). */
  get filling(): boolean {
    return this.pending !== undefined;
  }

  /** A message from the live subject; `prev` is its subject's previous seq (Nats-Last-Sequence). */
  live(msg: M, prev: number): void {
    if (msg.seq === 0) {
      this.sink.deliver(msg);
      return;
    }
    if (this.pending !== undefined) {
      this.held.push({ msg, prev });
      return;
    }
    this.accept(msg, prev);
  }

  /**
   * The store holds messages up to `lastStored` (the node reconnected: live messages sent
   * while it was away are lost, and no later message may come to reveal the gap).
   */
  catchUp(lastStored: number): void {
    if (this.settled === undefined) return; // nothing delivered yet: no point to continue from
    if (lastStored > this.known) this.known = lastStored;
    this.fillToKnown();
  }

  /** The answer to `fill(from, to)`: the stored messages in that range, oldest first. */
  filled(from: number, to: number, msgs: readonly M[]): void {
    const p = this.pending;
    if (p === undefined || p.from !== from || p.to !== to) return; // not the fill asked for
    this.pending = undefined;
    for (const m of msgs) {
      // Anything at or below `settled` was delivered already; anything above `to` is for a
      // later live message or fill to settle.
      if (m.seq > (this.settled ?? 0) && m.seq <= to) this.emit(m);
    }
    if (to > (this.settled ?? 0)) this.settled = to;
    const held = this.held;
    this.held = [];
    for (let i = 0; i < held.length; i++) {
      if (this.pending !== undefined) {
        // A held message revealed another gap: the rest wait for that fill, in order.
        this.held.push(...held.slice(i));
        return;
      }
      const h = held[i] as Held<M>;
      this.accept(h.msg, h.prev);
    }
    this.fillToKnown();
  }

  /** A live message while no fill is pending. */
  private accept(msg: M, prev: number): void {
    const last = this.settled;
    if (last !== undefined && msg.seq <= last) return; // delivered already (a fill fetched it)
    if (last === undefined || prev <= last) {
      // Nothing of this channel lies between what was settled and this message.
      this.emit(msg);
      return;
    }
    this.held.push({ msg, prev });
    this.request(last + 1, msg.seq - 1);
  }

  private fillToKnown(): void {
    const last = this.settled;
    if (this.pending === undefined && last !== undefined && this.known > last) this.request(last + 1, this.known);
  }

  private request(from: number, to: number): void {
    this.pending = { from, to };
    this.sink.fill(from, to);
  }

  private emit(msg: M): void {
    this.settled = msg.seq;
    this.sink.deliver(msg);
  }
}
