import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  type BusiestChannels,
  type ChannelLoad,
  type ChannelRef,
  type Engine,
  type HistoryPage,
  type Logger,
  type Message,
  type NodeStats,
  type PresenceChange,
  type PresenceEntry,
} from '@switchyard/shared';
import { ChannelState } from './channel.js';
import type { ResumePoint, Subscribed, SubscribeTarget } from './commands.js';
import { DeltaState } from './delta.js';
import { epochTag } from './epoch-tag.js';
import type { Face, FaceTable } from './face.js';
import type { Session, TopicBus } from './session.js';
import { SlowSweep } from './sweep.js';

/** A subscription made but not yet live: what `activate` writes first. */
export interface Pending extends Subscribed {
  readonly replay: readonly Message[];
  /** The resume point the client gave (undefined: live only). */
  readonly after: number | undefined;
}

/**
 * `Hub.busiest` starts a new rate window only when the current one is at least this old, so
 * that several callers close together (control-API replicas, admin pages) each still get a
 * window long enough to mean something.
 */
export const MIN_RATE_WINDOW_MS = 1000;

export interface HubLimits {
  /** Subscriptions one connection may hold. */
  readonly maxSubscriptions: number;
  /** Send buffer per connection past which it is closed as a slow consumer (4100). */
  readonly maxBufferedBytes: number;
}

/**
 * The node's subscription index and fan-out. Channels are interned to dense ids (recycled when
 * their last local subscriber leaves); each session holds the ids of its channels.
 */
export class Hub {
  private readonly ids = new Map<string, number>();
  private readonly channels: (ChannelState | undefined)[] = [];
  private readonly freeIds: number[] = [];
  private readonly slow: Session[] = [];
  private subscriptionCount = 0;
  /** When the current rate window of the per-channel message counts started (see `busiest`). */
  private windowStart = Date.now();
  /** `busiest`'s min-heap, reused (emptied after each call). */
  private readonly heap: ChannelState[] = [];
  /** Closes topic subscribers whose send buffer passed the limit (the outbox checks the rest). */
  readonly sweep: SlowSweep;

  constructor(
    private readonly engine: Engine,
    private readonly faces: FaceTable,
    private readonly bus: TopicBus,
    private readonly limits: HubLimits,
    private readonly stats: NodeStats,
    private readonly log: Logger,
    /** Runs the sweep's checks on the next turn (setImmediate in production). */
    schedule?: (fn: () => void) => void,
  ) {
    this.sweep = new SlowSweep(limits.maxBufferedBytes, this.markSlow, schedule);
    // The engine's reader (a NATS subscription callback) must survive anything a broadcast
    // does: a throw there would end the reader, and every channel of the node would go quiet.
    engine.broker.setDeliveryHandler((ch, msg) => {
      try {
        this.broadcast(ch, msg);
      } catch (err) {
        this.log.error({ err, channel: ch.key, seq: msg.seq }, 'broadcast failed');
      }
    });
    // Remote connections' join / leave (cluster engines); this node's own are announced where
    // they happen (`subscribe`, `drop`), so the engine never hands them back.
    engine.presenceEvents?.setHandler((ref, change) => {
      const id = this.ids.get(ref.key);
      if (id === undefined) return;
      try {
        this.announce(this.channels[id] as ChannelState, change);
      } catch (err) {
        this.log.error({ err, channel: ref.key }, 'presence announce failed');
      }
    });
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
   * once, for all its subscribers: one publish to the face's topic, which uWS copies to each
   * subscriber's queue in C++ and writes after the turn, corked with whatever else the
   * connection gets. Only `deliver` faces cost JavaScript per subscriber.
   *
   * A channel with delta subscribers (`ch.delta`) also has a delta topic per face: its
   * subscribers get the delta frame (or the full frame when there is no delta), so each
   * face still encodes at most two frames. Subscribers that joined since the last message
   * got this one in full on the full topic, and move to the delta topic after it.
   */
  broadcast(ref: ChannelRef, msg: Message): void {
    const id = this.ids.get(ref.key);
    if (id === undefined) return;
    const ch = this.channels[id] as ChannelState;
    // Engines hand each message over once, in seq order (Broker's contract): no dedupe here.
    ch.relay(msg.seq);
    ch.messages++;
    const onTopic = ch.onTopic;
    const d = ch.delta;
    const delta = d === undefined ? undefined : d.next(msg.data, d.onDelta.size > 0);
    let n = 0;
    let bytes = 0;
    let largest = 0;
    for (let f = 0; f < onTopic.length; f++) {
      const count = onTopic[f] as number;
      const deltas = d === undefined ? 0 : (d.counts[f] as number);
      if (count === 0 && deltas === 0) continue;
      const face = this.faces.get(f);
      // The full frame, unless only delta subscribers are left and there is a delta for them.
      if (count > 0 || delta === undefined) {
        let frame: Uint8Array;
        try {
          frame = (face.encode as Encode)(ref.name, ch.nameJson, msg);
        } catch (err) {
          this.encodeFailed(err, face, ref, msg); // this face's subscribers miss it; nobody else does
          d?.resync(); // its delta subscribers could not apply the next delta: that one goes in full
          continue;
        }
        if (count > 0) this.bus.publish(ch.topic(f), frame, face.binary);
        // No delta (the first message, or a delta no smaller): the delta topic gets the full frame.
        if (deltas > 0 && delta === undefined) this.bus.publish(ch.deltaTopic(f), frame, face.binary);
        const to = delta === undefined ? count + deltas : count;
        n += to;
        bytes += to * frame.byteLength;
        if (frame.byteLength > largest) largest = frame.byteLength;
      }
      if (deltas > 0 && delta !== undefined) {
        let frame: Uint8Array;
        try {
          frame = (face.encodeDelta as EncodeDelta)(ref.name, ch.nameJson, msg, delta);
        } catch (err) {
          this.encodeFailed(err, face, ref, msg);
          d?.resync();
          continue;
        }
        this.bus.publish(ch.deltaTopic(f), frame, face.binary);
        n += deltas;
        bytes += deltas * frame.byteLength;
        if (frame.byteLength > largest) largest = frame.byteLength;
      }
    }
    if (largest > 0) this.sweep.note(ch, largest);
    if (d !== undefined && d.joining.size > 0) this.promote(ch, d);
    if (ch.delivered !== undefined) {
      for (const s of ch.delivered) {
        const face = s.face as Face & { deliver: Deliver };
        try {
          face.deliver(s, ref, msg);
        } catch (err) {
          this.encodeFailed(err, face, ref, msg);
        }
      }
    }
    if (ch.pending.size > 0) for (const q of ch.pending.values()) q.push(msg);
    this.stats.messagesOut += n;
    this.stats.bytesOut += bytes;
  }

  /**
   * A `join` / `leave` of a `joinLeave` channel to its live subscribers: one frame per face
   * that has `encodePresence` (the native ones), published to the face's topics, so other
   * dialects get nothing. A subscriber is on its topic only once live (after its own join
   * was announced) and leaves it before its own leave is: nobody gets its own join or leave.
   * Subscribers still replaying miss the changes of that moment (they list presence after
   * the subscribe reply).
   */
  private announce(ch: ChannelState, change: PresenceChange): void {
    const d = ch.delta;
    let bytes = 0;
    for (let f = 0; f < ch.onTopic.length; f++) {
      const count = ch.onTopic[f] as number;
      const deltas = d === undefined ? 0 : (d.counts[f] as number);
      if (count === 0 && deltas === 0) continue;
      const face = this.faces.get(f);
      if (face.encodePresence === undefined) continue;
      const frame = face.encodePresence(ch.ref.name, ch.nameJson, change);
      if (count > 0) this.bus.publish(ch.topic(f), frame, face.binary);
      if (deltas > 0) this.bus.publish(ch.deltaTopic(f), frame, face.binary);
      bytes += (count + deltas) * frame.byteLength;
    }
    // Bytes only: `messagesOut` counts channel messages, and these are not.
    this.stats.bytesOut += bytes;
  }

  /**
   * The `n` channels with the most messages since the current rate window started (ties: the
   * most local subscribers), most first; only `tenant`'s when given. One pass over the
   * channels keeping the best `n` in a min-heap: O(channels · log n), no sort of them all, and
   * nothing on the broadcast path but `ChannelState.messages++`. A window at least
   * MIN_RATE_WINDOW_MS old ends with this call (the counts returned are that window's) and
   * the next one starts.
   */
  busiest(n: number, tenant?: string, now = Date.now()): BusiestChannels {
    const windowMs = Math.max(0, now - this.windowStart);
    const roll = windowMs >= MIN_RATE_WINDOW_MS;
    if (roll) this.windowStart = now;
    const heap = this.heap;
    for (const ch of this.channels) {
      if (ch === undefined) continue;
      ch.recent = ch.messages - ch.mark;
      if (roll) ch.mark = ch.messages;
      if (n <= 0 || (tenant !== undefined && ch.ref.tenant !== tenant)) continue;
      if (heap.length < n) {
        heap.push(ch);
        siftUp(heap, heap.length - 1);
      } else if (lighter(heap[0] as ChannelState, ch)) {
        heap[0] = ch;
        siftDown(heap, 0);
      }
    }
    heap.sort((a, b) => (lighter(a, b) ? 1 : lighter(b, a) ? -1 : 0));
    const channels: ChannelLoad[] = heap.map((ch) => ({ tenant: ch.ref.tenant, channel: ch.ref.name, subscribers: ch.size, messages: ch.recent }));
    heap.length = 0;
    return { windowMs, channels };
  }

  /**
   * Moves the delta subscribers that just got a full message (on the full topic) to the
   * delta topic: once per subscription, not per message. uWS drains a topic with queued
   * frames before a subscriber leaves or joins it, so the full frame still reaches it and
   * this message's delta frame does not.
   */
  private promote(ch: ChannelState, d: DeltaState): void {
    for (const s of d.joining) {
      if (s.closed) continue; // a slow consumer being closed: `drop` takes it off its topic
      const f = (s.face as Face).index;
      s.conn.unsubscribe(ch.topic(f));
      s.conn.subscribe(ch.deltaTopic(f));
      (ch.onTopic[f] as number)--;
      (d.counts[f] as number)++;
      d.joining.delete(s);
      d.onDelta.add(s);
    }
  }

  /**
   * A face that could not encode a message (faces must not throw; the ingress bounds make it
   * so). Logged; only that face's subscribers miss the message.
   */
  private encodeFailed(err: unknown, face: Face, ref: ChannelRef, msg: Message): void {
    this.log.error({ err, face: face.name, channel: ref.key, seq: msg.seq }, 'a face could not encode a message');
  }

  /** Called by a session that became a slow consumer; closed after the current loop. */
  readonly markSlow = (s: Session): void => {
    if (this.slow.push(s) === 1) queueMicrotask(this.closeSlow);
  };

  private readonly closeSlow = (): void => {
    for (const s of this.slow) {
      this.stats.slowConsumerCloses++;
      s.close(CloseReason.SlowConsumer);
    }
    this.slow.length = 0;
  };

  isSubscribed(s: Session, ref: ChannelRef): boolean {
    const id = this.ids.get(ref.key);
    return id !== undefined && s.channels.has(id);
  }

  /**
   * Subscribes `s`, optionally resuming after seq `after` (-1: the last message). Live
   * messages are held for `s` until `activate`, so replay and live flow join with no
   * duplicate, hole or reordering. Rolls back if the engine refuses.
   */
  async subscribe(s: Session, target: SubscribeTarget): Promise<Pending> {
    const ref = target.channel;
    if (s.face === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'this connection cannot subscribe to channels');
    if (this.isSubscribed(s, ref)) throw new ProtocolError(ErrorCode.AlreadySubscribed, `already subscribed to ${ref.name}`);
    if (s.subscriptions >= this.limits.maxSubscriptions) throw this.limitError();
    const ch = this.intern(ref);
    s.channels.add(ch.id);
    s.subscriptions++;
    this.subscriptionCount++;
    ch.pending.set(s, []);
    const delta = target.delta === true && ref.opts.delta === true && s.face.encodeDelta !== undefined;
    if (delta) (ch.delta ??= new DeltaState(this.faces.size)).pending.add(s);
    try {
      await ch.ready;
      const from = target.from;
      const after = from?.after;
      let page: HistoryPage;
      if (after === undefined) {
        page = await this.position(ch);
      } else {
        this.stats.historyReads++;
        page = await this.engine.history.read(ref, after);
        ch.learn(page);
      }
      let recovered = page.complete;
      // A resume point from another epoch (a restarted engine), or past the channel's end
      // (the same, with a client that did not say its epoch): everything held is new to it.
      if (after !== undefined && after > 0 && (after > page.last || otherEpoch(from as ResumePoint, page.epoch))) {
        this.stats.historyReads++;
        page = await this.engine.history.read(ref, 0);
        recovered = false;
      }
      let replay = after !== undefined ? page.messages : [];
      const filter = target.replayFilter;
      if (filter !== undefined && replay.length > 0) {
        const now = Date.now();
        replay = replay.filter((m) => filter(m, now));
      }
      const { last, epoch } = page;
      if (!ch.pending.has(s)) throw unsubscribedMeanwhile();
      if (ref.opts.presence || target.presence === true) {
        (ch.present ??= new Set()).add(s); // before the await: a drop meanwhile leaves presence too
        const entry = s.presenceEntry();
        // Announced with the add to `present`, as the leave is with the delete: one join, then one leave.
        if (ref.opts.joinLeave === true) this.announce(ch, { type: 'join', entry });
        await this.engine.presence.join(ref, entry);
        if (!ch.pending.has(s)) throw unsubscribedMeanwhile();
      }
      if (after !== undefined && !recovered) this.stats.unrecovered++;
      return { channel: ref, replay, last, recovered: after === undefined || recovered, epoch, after, delta };
    } catch (err) {
      if (ch.pending.has(s)) this.drop(s, ch);
      throw err;
    }
  }

  /**
   * Where a live-only subscriber starts: the channel's last seq and epoch. `last` is at least
   * the seq of every message relayed before the subscriber joined (each later one reaches it),
   * as a read made after it joined would say.
   */
  private async position(ch: ChannelState): Promise<HistoryPage> {
    if (ch.epoch === undefined) {
      let reading = ch.reading;
      if (reading === undefined) {
        this.stats.historyReads++;
        reading = ch.reading = this.engine.history.read(ch.ref, -1);
      }
      let page: HistoryPage;
      try {
        page = await reading;
      } finally {
        if (ch.reading === reading) ch.reading = undefined;
      }
      ch.learn(page);
    }
    return ch.position(ch.epoch as string);
  }

  /** `limit_exceeded` for a connection at its subscription limit. */
  limitError(): ProtocolError {
    return new ProtocolError(ErrorCode.LimitExceeded, `at most ${this.limits.maxSubscriptions} subscriptions per connection`);
  }

  /** Writes the replay and the held live messages, then moves `s` to the live set. */
  activate(s: Session, sub: Pending): void {
    const id = this.ids.get(sub.channel.key);
    if (id === undefined) return;
    const ch = this.channels[id] as ChannelState;
    const held = ch.pending.get(s);
    if (held === undefined || s.closed) return;
    ch.pending.delete(s);
    // The replay covers every message up to `last`; held live messages at or below it are
    // repeats. A live-only subscriber gets every held message.
    const floor = sub.after === undefined ? 0 : sub.last;
    const face = s.face as Face;
    const stats = this.stats;
    const write = (m: Message): void => {
      let frame: Uint8Array;
      try {
        if (face.deliver !== undefined) {
          face.deliver(s, ch.ref, m);
          return;
        }
        frame = (face.encode as Encode)(ch.ref.name, ch.nameJson, m);
      } catch (err) {
        this.encodeFailed(err, face, ch.ref, m);
        return;
      }
      if (s.write(frame, face.binary)) {
        stats.messagesOut++;
        stats.bytesOut += frame.byteLength;
      }
    };
    // Queued in the outbox: the replay and the held messages leave in one write with the answer.
    for (const m of sub.replay) write(m);
    for (const m of held) if (m.seq === 0 || m.seq > floor) write(m);
    if (face.deliver !== undefined) {
      ch.live.add(s);
      (ch.delivered ??= new Set()).add(s);
      return;
    }
    // From here live frames come through the topic, and uWS writes a connection's topic frames
    // before anything later sent to it directly: what is queued (the answer, replay and held
    // messages) must leave first, so it leaves now.
    s.flush();
    if (s.closed) return; // turned slow on its replay
    ch.live.add(s);
    s.conn.subscribe(ch.topic(face.index));
    (ch.onTopic[face.index] as number)++;
    // A delta subscriber starts on the full topic: the next message reaches it in full.
    const d = ch.delta;
    if (sub.delta && d !== undefined && d.pending.delete(s)) d.joining.add(s);
  }

  /** Removes one subscription; false when `s` was not subscribed. */
  unsubscribe(s: Session, ref: ChannelRef): boolean {
    const id = this.ids.get(ref.key);
    if (id === undefined || !s.channels.has(id)) return false;
    this.drop(s, this.channels[id] as ChannelState);
    return true;
  }

  /** Removes every subscription of a closing session. */
  removeSession(s: Session): void {
    s.dispose();
    for (const id of s.channels.take()) {
      const ch = this.channels[id];
      if (ch !== undefined) this.drop(s, ch);
    }
  }

  /** The channels `s` is subscribed to (or subscribing to). */
  channelsOf(s: Session): ChannelRef[] {
    const out: ChannelRef[] = [];
    s.channels.forEach((id) => {
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
    const ch = new ChannelState(id, ref, this.faces.size);
    this.ids.set(ref.key, id);
    this.channels[id] = ch;
    ch.ready = this.engine.broker.subscribe(ref);
    ch.ready.catch((err: unknown) => this.log.warn({ err, channel: ref.key }, 'engine subscribe failed'));
    if (ref.opts.joinLeave === true) this.engine.presenceEvents?.watch(ref);
    return ch;
  }

  private drop(s: Session, ch: ChannelState): void {
    s.channels.delete(ch.id);
    s.subscriptions--;
    this.subscriptionCount--;
    if (ch.live.delete(s)) {
      const face = s.face as Face;
      if (face.deliver !== undefined) {
        ch.delivered?.delete(s);
      } else if (ch.delta?.onDelta.delete(s) === true) {
        (ch.delta.counts[face.index] as number)--;
        s.conn.unsubscribe(ch.deltaTopic(face.index));
      } else {
        (ch.onTopic[face.index] as number)--;
        s.conn.unsubscribe(ch.topic(face.index));
        ch.delta?.joining.delete(s);
      }
    }
    ch.pending.delete(s);
    const d = ch.delta;
    if (d !== undefined) {
      d.pending.delete(s);
      if (d.size === 0) ch.delta = undefined; // and with it the previous message
    }
    if (ch.present?.delete(s) === true) {
      if (ch.ref.opts.joinLeave === true) this.announce(ch, { type: 'leave', entry: s.presenceEntry() });
      this.engine.presence.leave(ch.ref, s.id).catch((err: unknown) => this.log.warn({ err }, 'presence leave failed'));
    }
    if (ch.size === 0) {
      this.ids.delete(ch.ref.key);
      this.channels[ch.id] = undefined;
      this.freeIds.push(ch.id);
      if (ch.ref.opts.joinLeave === true) this.engine.presenceEvents?.unwatch(ch.ref);
      this.engine.broker.unsubscribe(ch.ref).catch((err: unknown) => this.log.warn({ err }, 'engine unsubscribe failed'));
    }
  }
}

/** `a` ranks below `b` among the busiest: fewer messages in the window, then fewer subscribers. */
const lighter = (a: ChannelState, b: ChannelState): boolean => a.recent < b.recent || (a.recent === b.recent && a.size < b.size);

/** Min-heap by `lighter`: the lightest at 0. */
function siftUp(h: ChannelState[], i: number): void {
  const x = h[i] as ChannelState;
  while (i > 0) {
    const p = (i - 1) >> 1;
    const parent = h[p] as ChannelState;
    if (!lighter(x, parent)) break;
    h[i] = parent;
    i = p;
  }
  h[i] = x;
}

function siftDown(h: ChannelState[], i: number): void {
  const x = h[i] as ChannelState;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= h.length) break;
    if (c + 1 < h.length && lighter(h[c + 1] as ChannelState, h[c] as ChannelState)) c++;
    const child = h[c] as ChannelState;
    if (!lighter(child, x)) break;
    h[i] = child;
    i = c;
  }
  h[i] = x;
}

type Encode = NonNullable<Face['encode']>;
type Deliver = NonNullable<Face['deliver']>;
type EncodeDelta = NonNullable<Face['encodeDelta']>;

/** Whether a resume point names an epoch (or its tag) other than the channel's. */
const otherEpoch = (from: ResumePoint, epoch: string): boolean =>
  (from.epoch !== undefined && from.epoch !== epoch) || (from.epochTag !== undefined && from.epochTag !== epochTag(epoch));

const unsubscribedMeanwhile = (): ProtocolError => new ProtocolError(ErrorCode.NotSubscribed, 'unsubscribed while subscribing');
