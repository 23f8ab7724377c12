import type { ChannelRef, HistoryPage, Message } from '@switchyard/shared';
import type { DeltaState } from './delta.js';
import type { Session } from './session.js';

/**
 * A channel with local subscribers, under its dense id. Live subscribers of an `encode` face
 * receive through uWS pub/sub: each is subscribed to the channel's topic for its face, and a
 * broadcast publishes one frame per face (uWS then writes each connection's frames of a turn
 * in one corked write, in C++). Subscribers of a `deliver` face are written to one by one.
 */
export class ChannelState {
  /** Every live subscriber (the slow-consumer sweep and presence walk these). */
  readonly live = new Set<Session>();
  /** Live subscribers of `deliver` faces (the only per-subscriber work of a broadcast); made for the first. */
  delivered: Set<Session> | undefined = undefined;
  /**
   * Live subscribers per encode face (by face index), each subscribed to `topic(index)`.
   * Per channel, not per subscriber, and sized once: with one channel per user, what a
   * channel costs is what a connection costs.
   */
  readonly onTopic: number[];
  /** Subscribers still replaying history: live messages wait here until they are caught up. */
  readonly pending = new Map<Session, Message[]>();
  /** Subscribers that asked for delta compression (see DeltaState); made for the first, dropped with the last. */
  delta: DeltaState | undefined = undefined;
  /** Subscribers listed in the channel's presence; made for the first (most channels have none). */
  present: Set<Session> | undefined = undefined;
  readonly nameJson: string;
  /** Settles when the engine relays this channel to this node. */
  ready: Promise<void>;
  /**
   * The channel's position as this node knows it: the epoch of the last history read
   * (undefined: read again) and the highest seq read or relayed since. A live-only subscriber
   * needs nothing more, so it costs no engine round trip once the channel is known here.
   */
  epoch: string | undefined = undefined;
  last = 0;
  /** The seq of the last message relayed to this node. */
  relayed = 0;
  /** The history read live-only subscribers are waiting for, shared: a subscribe storm on a new channel makes one. */
  reading: Promise<HistoryPage> | undefined = undefined;
  /** Bytes published to the channel's topics since its subscribers' send buffers were checked (see SlowSweep). */
  unchecked = 0;
  /** In the sweep's list of channels to check when its timer fires / on the next turn. */
  swept = false;
  due = false;
  /**
   * Messages broadcast to this node's subscribers of the channel (one per message, whatever
   * the number of subscribers): the admin page's messages/s per channel. `mark` is the count
   * when the hub last started a rate window (0 for a channel made since), and `recent` the
   * count within the window, set by `Hub.busiest` for its selection.
   */
  messages = 0;
  mark = 0;
  recent = 0;

  constructor(
    readonly id: number,
    readonly ref: ChannelRef,
    faces: number,
  ) {
    this.onTopic = new Array<number>(faces).fill(0);
    this.nameJson = JSON.stringify(ref.name);
    this.ready = Promise.resolve();
  }

  get size(): number {
    return this.live.size + this.pending.size;
  }

  /**
   * The uWS topic of this channel's frames in one face: made of the node-local id, never of a
   * client's string. An id is reused only once the channel has no subscriber left, and uWS
   * picks a message's recipients when it is published, so a reused topic reaches no one stale.
   */
  topic(face: number): string {
    // Made when needed, not kept: uWS copies a topic name on each call anyway, and a cache
    // per channel would cost every one-user channel more than the string costs a publish.
    return `${this.id}/${face}`;
  }

  /** The uWS topic of this channel's delta frames in one face (subscribers that hold the previous message). */
  deltaTopic(face: number): string {
    return `${this.id}/${face}d`;
  }

  /** What a live-only subscriber is told, from what this node knows (see `epoch`). */
  position(epoch: string): HistoryPage {
    return { messages: [], last: this.last, complete: true, epoch };
  }

  learn(page: HistoryPage): void {
    if (page.epoch !== this.epoch) {
      this.epoch = page.epoch;
      this.last = Math.max(page.last, this.relayed);
    } else if (page.last > this.last) {
      this.last = page.last;
    }
  }

  relay(seq: number): void {
    if (seq <= 0) return; // unnumbered (no history)
    // Seqs only grow within an epoch (the Broker's contract): one that does not started a new one.
    if (seq <= this.relayed) this.epoch = undefined;
    this.relayed = seq;
    if (seq > this.last) this.last = seq;
  }
}
