import { Emitter, type Listener } from './emitter.js';
import type { SwitchyardError } from './errors.js';
import type { Message, MessageFrame, PresenceEntry, SubscribeResult } from './protocol.js';

/**
 * - `subscribing`: waiting to be (re)subscribed: before `connect()`, while disconnected, or
 *   while the `subscribe` command is on its way;
 * - `subscribed`: the server confirmed; messages flow;
 * - `unsubscribed`: ended by `unsubscribe()` or by a refusal that retrying cannot fix
 *   (`permission_denied`, `invalid_channel`, `limit_exceeded`, …). Terminal: subscribe again
 *   with `client.subscribe()` for a new subscription.
 */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

/** The `subscribed` event: the server's answer to one (re)subscribe. */
export interface SubscribedInfo {
  readonly channel: string;
  /**
   * False when messages may have been missed: the subscribe resumed after a seq that the
   * history no longer reaches back to, or the channel's sequence restarted (`epoch` changed:
   * a server restart on one node). **Reload the state you derive from the channel** from
   * your backend, then carry on with the messages that follow. Always false when a channel
   * without history (seq 0, epoch "") is subscribed again after a disconnect: what was
   * published meanwhile is gone. Always true when `resumed` is false (a live-only subscribe
   * misses nothing it asked for).
   */
  readonly recovered: boolean;
  /** Identifies the run of the channel's seqs (docs/protocol.md#subscribe). */
  readonly epoch: string;
  /** The channel's last seq when the server answered. */
  readonly last: number;
  /**
   * True when this subscribe asked to resume from a position: the one the client tracked
   * from an earlier connection, or the `after` you passed. False for a first live-only subscribe.
   */
  readonly resumed: boolean;
}

export interface SubscriptionEvents<T> {
  /** A channel message, in seq order, each at most once. */
  message: [message: Message<T>];
  /** Every successful (re)subscribe: after the first `connect` and after every reconnect. */
  subscribed: [info: SubscribedInfo];
  /**
   * The server refused the subscribe. A `temporary` error (`internal`, `unavailable`) is
   * retried with backoff and the subscription stays `subscribing`; any other one ends it
   * (state `unsubscribed`, then the `unsubscribed` event).
   */
  error: [error: SwitchyardError];
  /** The subscription ended: `unsubscribe()`, or a refusal that is not temporary. */
  unsubscribed: [];
  /**
   * Channels of a `joinLeave` namespace: a connection subscribed (never this one). One user
   * with several tabs joins once per connection; dedupe by `user` if you show people.
   */
  join: [member: PresenceEntry];
  /** It unsubscribed, disconnected, or its gateway died (`info` is not repeated). */
  leave: [member: PresenceEntry];
}

/**
 * Applies delta-compressed messages (docs/client.md#delta-compression). `fossil` from
 * `@switchyard/client/delta` is the one the server speaks.
 */
export interface DeltaCodec {
  /** The name the subscribe asks for (`"fossil"`). */
  readonly name: string;
  /** `base` with `delta` applied. Throws when it does not apply (its checksum does not match). */
  apply(base: Uint8Array, delta: Uint8Array): Uint8Array;
}

export interface SubscribeOptions<T = unknown> {
  /**
   * Where to start. Absent (the default): live only, from now on. `N ≥ 0`: every message
   * with seq > N that the history still holds, then live (0 = the whole history). `-1`:
   * the newest message of the history, then live. Only the first subscribe uses it: later
   * ones resume after the last message delivered.
   */
  readonly after?: number;
  /** The epoch `after` belongs to (from an earlier `subscribed` event or `position`); only with `after`. */
  readonly epoch?: string;
  /**
   * Asks for delta compression (`fossil` from `@switchyard/client/delta`): where the channel's
   * namespace allows it, the server sends each message after the first as a delta against
   * the previous one, and the client rebuilds it. You still get every message whole. A delta
   * that does not apply makes the client resubscribe (resuming after the last message
   * delivered); after three, it asks for full messages only.
   */
  readonly delta?: DeltaCodec;
  /** Shorthand for `sub.on('message', fn)`. */
  readonly onMessage?: Listener<[Message<T>]>;
  /** Shorthand for `sub.on('subscribed', fn)`. */
  readonly onSubscribed?: Listener<[SubscribedInfo]>;
  /** Shorthand for `sub.on('error', fn)`. */
  readonly onError?: Listener<[SwitchyardError]>;
}

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  unsubscribe(t: Tracker<any>): Promise<void>;
  /** A delta did not apply (`why`): subscribe again, the subscription being `subscribing` already. */
  resubscribe(t: Tracker<any>, why: string): void;
  listenerThrew(err: unknown, what: string): void;
}

/**
 * The client's bookkeeping for one subscription (not exported from the package): where it
 * is in the channel, and the delivery rule. Works on frames synchronously as the socket
 * hands them over, so that the reply and the messages right behind it are seen in order.
 */
export class Tracker<T = unknown> {
  readonly sub: Subscription<T>;
  readonly events: Emitter<SubscriptionEvents<T>>;
  state: SubscriptionState = 'subscribing';
  /** Failed temporary subscribes in a row (backoff exponent). */
  attempts = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** The seq of the last message delivered (or skipped over as known), once a subscribe was answered: the resume point. */
  private floor: number | undefined = undefined;
  private epoch: string | undefined;
  /** The server sends deltas for this subscription (its last subscribe reply said so). */
  private deltaOn = false;
  /** The previous message's delta text (the base of the next delta), once a full message came. */
  private base: Uint8Array | undefined = undefined;
  /** Deltas that did not apply; at MAX_DELTA_FAILURES the client asks for full messages only. */
  private deltaFailures = 0;

  constructor(
    readonly channel: string,
    private readonly first: SubscribeOptions<T>,
    readonly host: SubscriptionHost,
  ) {
    this.events = new Emitter((err, event) => host.listenerThrew(err, `a '${String(event)}' listener of subscription ${channel}`));
    this.epoch = first.after !== undefined ? first.epoch : undefined;
    if (first.onMessage !== undefined) this.events.on('message', first.onMessage);
    if (first.onSubscribed !== undefined) this.events.on('subscribed', first.onSubscribed);
    if (first.onError !== undefined) this.events.on('error', first.onError);
    this.sub = new Subscription(this);
  }

  get position(): { seq: number; epoch: string } | undefined {
    return this.floor !== undefined && this.epoch !== undefined ? { seq: this.floor, epoch: this.epoch } : undefined;
  }

  /** The `subscribe` command for the next (re)subscribe. */
  frame(): { type: 'subscribe'; channel: string; after?: number; epoch?: string; delta?: string } {
    const after = this.floor ?? this.first.after;
    const codec = this.first.delta;
    const f: { type: 'subscribe'; channel: string; after?: number; epoch?: string; delta?: string } = { type: 'subscribe', channel: this.channel };
    if (after !== undefined) {
      f.after = after;
      if (this.epoch !== undefined) f.epoch = this.epoch;
    }
    if (codec !== undefined && this.deltaFailures < MAX_DELTA_FAILURES) f.delta = codec.name;
    return f;
  }

  /** The server confirmed the subscribe `sent`; the messages it announces come next. */
  subscribed(r: SubscribeResult, sent: { after?: number }): void {
    // The channel's seqs started again (a new epoch, or — when no epoch was known — a resume
    // point beyond the channel's end): everything the server sends now is new to us.
    const restarted = (this.epoch !== undefined && r.epoch !== this.epoch) || (sent.after !== undefined && sent.after > r.last);
    // A channel without history (epoch "", seq 0) keeps nothing: whatever was published while
    // we were away is gone, though the server cannot tell and answers recovered:true.
    const lostGap = this.floor !== undefined && r.epoch === '';
    if (restarted) {
      this.floor = 0;
    } else if (sent.after === undefined) {
      // Live only: resume after what the channel held when we joined.
      this.floor = r.last;
    } else if (sent.after === -1) {
      // The newest message (seq = last) comes next: seq > last − 1 is exactly it and what follows,
      // contiguous seqs or not.
      this.floor = r.last > 0 ? r.last - 1 : 0;
    } else {
      this.floor = sent.after;
    }
    this.epoch = r.epoch;
    this.deltaOn = r.delta === true && this.first.delta !== undefined;
    this.base = undefined;
    this.state = 'subscribed';
    this.attempts = 0;
    this.events.emit('subscribed', {
      channel: this.channel,
      recovered: r.recovered && !restarted && !lostGap,
      epoch: r.epoch,
      last: r.last,
      resumed: sent.after !== undefined,
    });
  }

  /** Delivers `f` unless it is one already delivered in this epoch. */
  message(f: MessageFrame): void {
    if (this.state !== 'subscribed') return;
    let data = f.data;
    if (this.deltaOn) {
      // Before the duplicate check: a full message is the next delta's base even when it is a repeat.
      if (f.delta === true) {
        const rebuilt = this.applyDelta(f);
        if (rebuilt === undefined) return;
        data = rebuilt;
      } else {
        this.base = utf8.encode(deltaText(f.data));
      }
    } else if (f.delta === true) {
      return this.deltaFailed(f, 'a delta on a subscription without delta compression');
    }
    // seq 0: a channel without history; nothing to order or deduplicate by.
    if (f.seq !== 0) {
      if (this.floor !== undefined && f.seq <= this.floor) return;
      this.floor = f.seq;
    }
    const m: Message<T> = f.from === undefined
      ? { channel: f.channel, seq: f.seq, time: f.time, data: data as T }
      : { channel: f.channel, seq: f.seq, time: f.time, data: data as T, from: f.from };
    this.events.emit('message', m);
  }

  /** A `join` / `leave` frame for this channel. */
  presenceChange(type: 'join' | 'leave', member: PresenceEntry): void {
    this.events.emit(type, member);
  }

  /** The payload a delta frame stands for, and the next base; undefined when it did not apply (a resubscribe is on its way). */
  private applyDelta(f: MessageFrame): unknown {
    const codec = this.first.delta as DeltaCodec;
    if (this.base === undefined) return this.deltaFailed(f, 'a delta before any full message');
    const d = f.data;
    const delta = typeof d === 'string' ? utf8.encode(d) : d instanceof Uint8Array ? d : undefined;
    if (delta === undefined) return this.deltaFailed(f, 'delta data is neither a string nor bytes');
    let text: string;
    let value: unknown;
    try {
      // The codec verifies the delta's checksum of what it rebuilt.
      const next = codec.apply(this.base, delta);
      text = utf8Decoder.decode(next);
      value = JSON.parse(text);
      this.base = next;
    } catch (err) {
      return this.deltaFailed(f, err instanceof Error ? err.message : String(err));
    }
    return value;
  }

  /** Drops what this subscription holds and has the client subscribe again (full messages first). */
  private deltaFailed(f: MessageFrame, why: string): undefined {
    this.deltaFailures++;
    this.base = undefined;
    this.state = 'subscribing';
    this.host.resubscribe(this, `seq ${f.seq}: ${why}`);
    return undefined;
  }

  /** The connection dropped: the subscription waits for the next one. */
  suspend(): void {
    this.clearRetry();
    if (this.state === 'subscribed') this.state = 'subscribing';
  }

  /** A refusal: `final` ends the subscription (the client forgot it already). */
  refused(err: SwitchyardError, final: boolean): void {
    if (final) {
      this.end();
      this.events.emit('error', err);
      this.events.emit('unsubscribed');
    } else {
      this.events.emit('error', err);
    }
  }

  /** Ends it without events. */
  end(): void {
    this.clearRetry();
    this.state = 'unsubscribed';
  }

  clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

/** Deltas that may fail to apply on one subscription before it asks for full messages only. */
const MAX_DELTA_FAILURES = 3;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const NON_ASCII = /[\u0080-\uffff]/g;

/**
 * The text a delta applies to (docs/protocol.md#delta-compression): the value as
 * `JSON.stringify` writes it, every character above U+007F as a `\uXXXX` escape. ASCII, so
 * its UTF-8 bytes are its characters.
 */
export function deltaText(value: unknown): string {
  const text = JSON.stringify(value);
  NON_ASCII.lastIndex = 0;
  return NON_ASCII.test(text) ? text.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}

/**
 * One channel subscription, made by `client.subscribe(channel, options)`. It survives
 * reconnects: after each one the client subscribes again, resuming after the last message
 * delivered, and delivers every message at most once and in seq order (see `message` and
 * `subscribed`).
 */
export class Subscription<T = unknown> {
  /** @internal Made by `Client.subscribe`. */
  constructor(private readonly t: Tracker<T>) {}

  get channel(): string {
    return this.t.channel;
  }

  get state(): SubscriptionState {
    return this.t.state;
  }

  /**
   * The seq of the last message delivered (or, before the first one, the channel's last seq
   * when the subscribe was answered) and its epoch: where a resume starts. Persist it and pass
   * `{ after: seq, epoch }` to a later `subscribe` to resume across page loads.
   * Undefined until the first subscribe was answered.
   */
  get position(): { seq: number; epoch: string } | undefined {
    return this.t.position;
  }

  on<K extends keyof SubscriptionEvents<T>>(event: K, fn: Listener<SubscriptionEvents<T>[K]>): this {
    this.t.events.on(event, fn);
    return this;
  }

  once<K extends keyof SubscriptionEvents<T>>(event: K, fn: Listener<SubscriptionEvents<T>[K]>): this {
    this.t.events.once(event, fn);
    return this;
  }

  off<K extends keyof SubscriptionEvents<T>>(event: K, fn: Listener<SubscriptionEvents<T>[K]>): this {
    this.t.events.off(event, fn);
    return this;
  }

  /**
   * Ends the subscription: no message is delivered from now on, and the server is told (when
   * connected). Resolves once the server confirmed, or at once when not connected. Never
   * rejects; idempotent.
   */
  unsubscribe(): Promise<void> {
    return this.t.host.unsubscribe(this.t);
  }
}
