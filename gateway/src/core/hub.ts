import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  closeCode,
  closeText,
  type ChannelRef,
  type Engine,
  type Logger,
  type Message,
  type NodeStats,
  type PresenceEntry,
} from '@switchyard/shared';
import { FACE_COUNT } from './face.js';
import type { Session } from './session.js';

/** A channel with local subscribers, under its dense id. */
class ChannelState {
  readonly live = new Set<Session>();
  /** Subscribers still replaying history: live messages wait here until they are caught up. */
  readonly pending = new Map<Session, Message[]>();
  /** Highest seq delivered on this node; older or repeated messages are not delivered again. */
  lastSeq = 0;
  readonly nameJson: string;
  /** Settles when the engine relays this channel to this node. */
  ready: Promise<void>;

  constructor(
    readonly id: number,
    readonly ref: ChannelRef,
  ) {
    this.nameJson = JSON.stringify(ref.name);
    this.ready = Promise.resolve();
  }

  get size(): number {
    return this.live.size + this.pending.size;
  }
}

/** What a subscribe found in the history, for the dialect to answer before `activate`. */
export interface Subscribed {
  readonly channel: ChannelRef;
  readonly replay: readonly Message[];
  /** The channel's last seq when the history was read. */
  readonly last: number;
  /** False when the history no longer held every message after the resume point. */
  readonly recovered: boolean;
  readonly epoch: string;
  /** The resume point the client gave (undefined: live only). */
  readonly after: number | undefined;
}

/** Where a client resumes from: after seq `after` (-1: the last message) of epoch `epoch`. */
export interface ResumePoint {
  readonly after: number;
  /** The epoch the client's seq belongs to; another epoch means its seq means nothing here. */
  readonly epoch?: string;
}

export interface HubLimits {
  /** Subscriptions one connection may hold. */
  readonly maxSubscriptions: number;
}

/**
 * The node's subscription index and fan-out. Channels are interned to dense ids (recycled when
 * their last local subscriber leaves); each session holds a bitset over them.
 */
export class Hub {
  private readonly ids = new Map<string, number>();
  private readonly channels: (ChannelState | undefined)[] = [];
  private readonly freeIds: number[] = [];
  /** Per-broadcast frame cache, one slot per face; reused, never reallocated. */
  private readonly frames: (Uint8Array | undefined)[] = new Array(FACE_COUNT).fill(undefined);
  private readonly slow: Session[] = [];
  private subscriptionCount = 0;

  constructor(
    private readonly engine: Engine,
    private readonly limits: HubLimits,
    private readonly stats: NodeStats,
    private readonly log: Logger,
  ) {
    engine.broker.setDeliveryHandler((ch, msg) => this.broadcast(ch, msg));
  }

  get channelCount(): number {
    return this.ids.size;
  }

  get subscriptions(): number {
    return this.subscriptionCount;
  }

  /** Subscriptions one connection may hold. */
  get maxSubscriptions(): number {
    return this.limits.maxSubscriptions;
  }

  /**
   * The hot path: one message to every local subscriber of its channel. Each face encodes it
   * at most once; the loop allocates nothing per subscriber.
   */
  broadcast(ref: ChannelRef, msg: Message): void {
    const id = this.ids.get(ref.key);
    if (id === undefined) return;
    const ch = this.channels[id] as ChannelState;
    // Seq 0 marks a message of a channel without history in a cluster: nothing to order by.
    if (msg.seq !== 0) {
      if (msg.seq <= ch.lastSeq) return;
      ch.lastSeq = msg.seq;
    }
    const frames = this.frames;
    frames.fill(undefined);
    let n = 0;
    let bytes = 0;
    for (const s of ch.live) {
      if (s.intercept !== undefined) {
        s.intercept(ref, msg);
        continue;
      }
      const face = s.face;
      let frame = frames[face.index];
      if (frame === undefined) frame = frames[face.index] = face.encode(ref.name, ch.nameJson, msg);
      if (s.write(frame, face.binary)) {
        n++;
        bytes += frame.byteLength;
      }
    }
    if (ch.pending.size > 0) for (const q of ch.pending.values()) q.push(msg);
    this.stats.messagesOut += n;
    this.stats.bytesOut += bytes;
  }

  /** Called by a session that became a slow consumer; closed after the current loop. */
  readonly markSlow = (s: Session): void => {
    if (this.slow.push(s) === 1) queueMicrotask(this.closeSlow);
  };

  private readonly closeSlow = (): void => {
    const code = closeCode[CloseReason.SlowConsumer];
    const text = closeText[CloseReason.SlowConsumer];
    for (const s of this.slow) {
      this.stats.slowConsumerCloses++;
      s.conn.end(code, text);
    }
    this.slow.length = 0;
  };

  isSubscribed(s: Session, ref: ChannelRef): boolean {
    const id = this.ids.get(ref.key);
    return id !== undefined && s.bits.has(id);
  }

  /**
   * Subscribes `s`, optionally resuming after seq `after` (-1: the last message). Live
   * messages are held for `s` until `activate`, so replay and live flow join with no
   * duplicate, hole or reordering. Rolls back if the engine refuses.
   */
  async subscribe(s: Session, ref: ChannelRef, from: ResumePoint | undefined): Promise<Subscribed> {
    if (this.isSubscribed(s, ref)) throw new ProtocolError(ErrorCode.AlreadySubscribed, `already subscribed to ${ref.name}`);
    if (s.subscriptions >= this.limits.maxSubscriptions) {
      throw new ProtocolError(ErrorCode.LimitExceeded, `at most ${this.limits.maxSubscriptions} subscriptions per connection`);
    }
    const ch = this.intern(ref);
    s.bits.add(ch.id);
    s.subscriptions++;
    this.subscriptionCount++;
    ch.pending.set(s, []);
    try {
      await ch.ready;
      const after = from?.after;
      let page = await this.engine.history.read(ref, after ?? -1);
      let recovered = page.complete;
      // A resume point from another epoch (a restarted engine), or past the channel's end
      // (the same, with a client that did not say its epoch): everything held is new to it.
      if (after !== undefined && after > 0 && (after > page.last || (from?.epoch !== undefined && from.epoch !== page.epoch))) {
        page = await this.engine.history.read(ref, 0);
        recovered = false;
      }
      const replay = after !== undefined ? page.messages : [];
      const { last, epoch } = page;
      if (ref.opts.presence || s.alwaysPresent) await this.engine.presence.join(ref, presenceOf(s));
      if (!ch.pending.has(s)) throw new ProtocolError(ErrorCode.NotSubscribed, 'unsubscribed while subscribing');
      return { channel: ref, replay, last, recovered: after === undefined || recovered, epoch, after };
    } catch (err) {
      if (ch.pending.has(s)) this.drop(s, ch);
      throw err;
    }
  }

  /** Writes the replay and the held live messages, then moves `s` to the live set. */
  activate(s: Session, sub: Subscribed): void {
    const id = this.ids.get(sub.channel.key);
    if (id === undefined) return;
    const ch = this.channels[id] as ChannelState;
    const held = ch.pending.get(s);
    if (held === undefined || s.closed) return;
    ch.pending.delete(s);
    // The replay covers every message up to `last`; held live messages at or below it are
    // repeats. A live-only subscriber gets every held message.
    const floor = sub.after === undefined ? 0 : sub.last;
    const face = s.face;
    const stats = this.stats;
    const write = (m: Message): void => {
      if (s.intercept !== undefined) {
        s.intercept(ch.ref, m);
        return;
      }
      const frame = face.encode(ch.ref.name, ch.nameJson, m);
      if (s.write(frame, face.binary)) {
        stats.messagesOut++;
        stats.bytesOut += frame.byteLength;
      }
    };
    s.conn.cork(() => {
      for (const m of sub.replay) write(m);
      for (const m of held) if (m.seq === 0 || m.seq > floor) write(m);
    });
    ch.live.add(s);
  }

  /** Removes one subscription; false when `s` was not subscribed. */
  unsubscribe(s: Session, ref: ChannelRef): boolean {
    const id = this.ids.get(ref.key);
    if (id === undefined || !s.bits.has(id)) return false;
    this.drop(s, this.channels[id] as ChannelState);
    return true;
  }

  /** Removes every subscription of a closing session. */
  removeSession(s: Session): void {
    s.closed = true;
    if (s.expiryTimer !== undefined) clearTimeout(s.expiryTimer);
    s.bits.forEach((id) => {
      const ch = this.channels[id];
      if (ch !== undefined) this.drop(s, ch);
    });
  }

  /** The channels `s` is subscribed to (or subscribing to). */
  channelsOf(s: Session): ChannelRef[] {
    const out: ChannelRef[] = [];
    s.bits.forEach((id) => {
      const ch = this.channels[id];
      if (ch !== undefined) out.push(ch.ref);
    });
    return out;
  }

  async presence(ref: ChannelRef): Promise<PresenceEntry[]> {
    return this.engine.presence.list(ref);
  }

  private intern(ref: ChannelRef): ChannelState {
    const known = this.ids.get(ref.key);
    if (known !== undefined) return this.channels[known] as ChannelState;
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.channels.length;
    const ch = new ChannelState(id, ref);
    this.ids.set(ref.key, id);
    this.channels[id] = ch;
    ch.ready = this.engine.broker.subscribe(ref);
    ch.ready.catch((err: unknown) => this.log.warn({ err, channel: ref.key }, 'engine subscribe failed'));
    return ch;
  }

  private drop(s: Session, ch: ChannelState): void {
    s.bits.delete(ch.id);
    s.subscriptions--;
    this.subscriptionCount--;
    ch.live.delete(s);
    ch.pending.delete(s);
    if (ch.ref.opts.presence || s.alwaysPresent) {
      this.engine.presence.leave(ch.ref, s.id).catch((err: unknown) => this.log.warn({ err }, 'presence leave failed'));
    }
    if (ch.size === 0) {
      this.ids.delete(ch.ref.key);
      this.channels[ch.id] = undefined;
      this.freeIds.push(ch.id);
      this.engine.broker.unsubscribe(ch.ref).catch((err: unknown) => this.log.warn({ err }, 'engine unsubscribe failed'));
    }
  }
}

function presenceOf(s: Session): PresenceEntry {
  return {
    conn: s.id,
    ...(s.user !== undefined ? { user: s.user } : {}),
    ...(s.info !== undefined ? { info: s.info } : {}),
  };
}
