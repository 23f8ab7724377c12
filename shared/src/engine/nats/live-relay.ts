import type { Msg, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../log.js';
import type { ChannelRef, CollectionRef } from '../../model/channel.js';
import type { Message } from '../../model/message.js';
import type { DeliveryHandler } from '../engine.js';
import { liveMessage } from './codec.js';
import type { BrokerConnection } from './connection.js';
import { errorText, guardedCallback, unavailable } from './errors.js';
import { GapSequencer } from './gap-sequencer.js';
import type { NatsHistory } from './history.js';
import type { KvCollections } from './kv-collections.js';
import type { NatsTimings } from './options.js';
import { retry } from './retry.js';
import type { Subjects } from './subjects.js';

/** This node's live state for one channel it has local subscribers on. */
interface LiveChannel {
  readonly ref: ChannelRef;
  /** Aborted when the channel is dropped or the engine closes: ends its fills and catch-ups. */
  readonly life: AbortController;
  /** Unsubscribes from the live subject, or stops the watch. */
  readonly release: () => void;
  /** Orders live messages and asks for gap fills (a collection's change channel has none). */
  readonly sequencer: GapSequencer<Message> | undefined;
}

/** A channel fed by its live subject. */
interface SubjectChannel extends LiveChannel {
  readonly sequencer: GapSequencer<Message>;
}

/**
 * Interest-based live delivery: one core-NATS subscription per channel with local
 * subscribers (never a firehose), so a node receives only what its own subscribers need.
 * Channels with history are ordered and gap-filled from the stream (GapSequencer); a
 * collection's change channel is fed by a watch of its KV bucket instead.
 *
 * subscribe/unsubscribe of one channel run one after another and settle on the last call, so
 * an unsubscribe racing a subscribe can neither leak a subscription nor remove one that a
 * newer subscribe asked for.
 */
export class LiveRelay {
  private readonly live = new Map<string, LiveChannel>();
  /** The last subscribe (true) or unsubscribe (false) call per channel, while it matters. */
  private readonly wanted = new Map<string, boolean>();
  /** The tail of each channel's chain of operations. */
  private readonly ops = new Map<string, Promise<void>>();
  private deliver: DeliveryHandler = () => {};
  /** Messages this node received on live subjects and collection watches (what interest keeps low). */
  received = 0;

  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly history: NatsHistory,
    private readonly collections: KvCollections,
    private readonly t: NatsTimings,
    private readonly log: Logger,
  ) {
    // Closing the engine ends every channel's fills and catch-ups; the subscriptions end with
    // the connection (an abort must not unsubscribe). One listener here rather than
    // AbortSignal.any per channel: Node 20 keeps such composites alive as long as their
    // long-lived source.
    conn.stop.addEventListener('abort', () => {
      for (const lc of this.live.values()) lc.life.abort();
    }, { once: true });
  }

  /** Channels this node is subscribed to. */
  get size(): number {
    return this.live.size;
  }

  setDeliveryHandler(handler: DeliveryHandler): void {
    this.deliver = handler;
  }

  /** Idempotent; rejects with `unavailable` when the engine does not become ready in time. */
  subscribe(ch: ChannelRef): Promise<void> {
    this.wanted.set(ch.key, true);
    return this.sync(ch);
  }

  /** Idempotent. */
  unsubscribe(ch: ChannelRef): Promise<void> {
    this.wanted.set(ch.key, false);
    return this.sync(ch);
  }

  /**
   * After a reconnect: live messages sent while the node was away are lost, and no later
   * one may come to reveal it. Ask the stream how far each channel got instead.
   */
  catchUp(): void {
    for (const lc of this.live.values()) {
      const seq = lc.sequencer;
      if (seq === undefined || seq.last === undefined || lc.ref.opts.history === 0) continue;
      void retry(() => this.history.lastStored(lc.ref), {
        everyMs: this.t.retryEveryMs,
        stop: lc.life.signal,
        onFailure: (err) => this.log.warn({ err: errorText(err), channel: lc.ref.key }, 'catch-up after reconnect failed; retrying'),
      }).then((last) => {
        if (last !== undefined && last !== null && this.live.get(lc.ref.key) === lc) seq.catchUp(last.seq);
      });
    }
  }

  /** Brings the channel's subscription to the last wanted state, after the operations before it. */
  private sync(ch: ChannelRef): Promise<void> {
    const key = ch.key;
    const op = (this.ops.get(key) ?? Promise.resolve())
      .catch(() => {
        // the previous operation's caller saw its error; this one starts afresh
      })
      .then(async () => {
        const want = this.wanted.get(key) === true;
        const have = this.live.get(key);
        if (want && have === undefined) {
          await this.conn.waitReady(this.t.readyWaitMs);
          await (ch.collection !== undefined ? this.watch(ch, ch.collection) : this.listen(ch));
        } else if (!want && have !== undefined) {
          this.live.delete(key);
          have.life.abort();
          have.release();
        }
      });
    this.ops.set(key, op);
    void op
      .finally(() => {
        if (this.ops.get(key) === op) {
          this.ops.delete(key);
          if (this.wanted.get(key) === false) this.wanted.delete(key);
        }
      })
      .catch(() => {
        // reported to the caller through `op`
      });
    return op;
  }

  /** Subscribes to the channel's live subject. */
  private async listen(ch: ChannelRef): Promise<void> {
    const nc = this.conn.nc();
    // The callbacks below run only once messages come, after `lc` exists.
    const sequencer = new GapSequencer<Message>({
      deliver: (msg) => this.deliver(ch, msg),
      fill: (from, to) => this.fill(lc, from, to),
    });
    let sub: Subscription;
    try {
      sub = nc.subscribe(this.subjects.live(ch), { callback: guardedCallback<Msg>(this.log, 'live message', (m) => this.onLive(lc, m)) });
    } catch (err) {
      throw unavailable(this.log, err, 'live subscribe failed', { channel: ch.key });
    }
    const lc: SubjectChannel = { ref: ch, life: new AbortController(), release: () => sub.unsubscribe(), sequencer };
    this.live.set(ch.key, lc);
    try {
      // Once the server has the subscription, every later publish reaches us.
      await nc.flush();
    } catch (err) {
      throw unavailable(this.log, err, 'live subscribe failed', { channel: ch.key });
    }
  }

  /** Feeds a collection's change channel from a watch of its bucket. */
  private async watch(ch: ChannelRef, collection: CollectionRef): Promise<void> {
    let stop: (() => void) | undefined;
    const lc: LiveChannel = { ref: ch, life: new AbortController(), release: () => stop?.(), sequencer: undefined };
    this.live.set(ch.key, lc);
    try {
      stop = await this.collections.watch(collection, (msg) => {
        if (this.live.get(ch.key) === lc) {
          this.received++;
          this.deliver(ch, msg);
        }
      });
    } catch (err) {
      this.live.delete(ch.key);
      throw err;
    }
  }

  private onLive(lc: SubjectChannel, m: Msg): void {
    if (this.live.get(lc.ref.key) !== lc) return; // unsubscribed meanwhile
    this.received++;
    const lm = liveMessage(m);
    if (lm === undefined) {
      this.log.warn({ subject: m.subject }, 'dropped a live message whose payload is not JSON or nests too deep');
      return;
    }
    lc.sequencer.live(lm.msg, lm.prev);
  }

  /** Reads the missed range from the stream, retrying until it works or the channel is dropped. */
  private fill(lc: SubjectChannel, from: number, to: number): void {
    void retry(() => this.history.readRange(lc.ref, from, to), {
      everyMs: this.t.retryEveryMs,
      stop: lc.life.signal,
      onFailure: (err) => this.log.warn({ err: errorText(err), channel: lc.ref.key }, 'gap fill failed; retrying'),
    }).then((msgs) => {
      if (msgs !== undefined && this.live.get(lc.ref.key) === lc) lc.sequencer.filled(from, to, msgs);
    });
  }
}
