import { json, type Codec } from './codec.js';
import { Emitter, type Listener } from './emitter.js';
import { ClientErrorName, ErrorCode, SwitchyardError, type ServerErrorBody } from './errors.js';
import {
  isObject,
  type AuthResult,
  type HelloFrame,
  type MessageFrame,
  type PresenceEntry,
  type PublishResult,
  type ReplyFrame,
} from './protocol.js';
import type { ClientEvents, ClientOptions, ClientState, ClosedInfo, ConnectionInfo, PublishOptions, WebSocketConstructor, WebSocketLike } from './options.js';
import { DEFAULTS, closePolicy, reconnectDelay, refreshDelay, type Policy, type Settings } from './reconnect.js';
import { Tracker, type SubscribeOptions, type Subscription, type SubscriptionHost } from './subscription.js';

type Timer = ReturnType<typeof setTimeout>;
/** A command's outcome: the reply frame, or the client's own `disconnected` / `timeout` error. */
type Done = (reply: ReplyFrame | SwitchyardError) => void;

/**
 * A Switchyard native-protocol client (docs/client.md): one WebSocket to
 * `ws(s)://HOST/v1/ws?tenant=ID`, authenticated with tokens from `getToken`, kept open —
 * reconnecting by the close-code policy of docs/protocol.md with exponential backoff and full
 * jitter — and subscriptions that resume after every reconnect without loss (when the history
 * reaches back) and without duplicates.
 */
export class Client {
  readonly url: string;
  private readonly events: Emitter<ClientEvents>;
  private readonly WS: WebSocketConstructor;
  private readonly codec: Codec;
  private readonly s: Settings;
  private _state: ClientState = 'closed';
  private info: ConnectionInfo | undefined = undefined;
  private readonly subs = new Map<string, Tracker<any>>();
  /** Commands waiting for a connection (publish, presence). */
  private readonly waiters = new Set<{ fn: (err?: SwitchyardError) => void; timer: Timer }>();
  private readonly host: SubscriptionHost;
  private readonly opts: ClientOptions;
  /** Tokens handed out so far: the static `token` serves the first. */
  private tokenUses = 0;

  // The current socket and what belongs to it. `gen` changes whenever a socket is opened or
  // dropped, so callbacks of an earlier socket (timers, a late getToken) know they are stale.
  private ws: WebSocketLike | undefined = undefined;
  private gen = 0;
  private hello: HelloFrame | undefined = undefined;
  private token: Promise<string> | undefined = undefined;
  private socketError = '';
  private readonly pending = new Map<number, { done: Done; timer: Timer }>();
  private nextId = 1;
  private lastRx = 0;
  private connectedAt = 0;
  private connectTimer: Timer | undefined = undefined;
  private pingTimer: Timer | undefined = undefined;
  private refreshTimer: Timer | undefined = undefined;

  // Across sockets.
  private attempt = 0;
  private reconnectTimer: Timer | undefined = undefined;

  constructor(url: string, options: ClientOptions = {}) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WS === undefined) throw new TypeError('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)');
    this.url = url;
    this.WS = WS;
    this.codec = options.codec ?? json;
    const s = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as (keyof Settings)[]) {
      const v = options[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new TypeError(`${k} must be a number ≥ 0, not ${String(v)}`);
      s[k] = v;
    }
    this.s = s;
    this.opts = options;
    this.events = new Emitter((err, event) => {
      // An 'error' listener that throws has nowhere left to report to; browsers log it at least.
      if (event === 'error') (globalThis as { reportError?: (e: unknown) => void }).reportError?.(err);
      else this.listenerThrew(err, `a '${event}' listener`);
    });
    this.host = {
      unsubscribe: (t) => this.unsubscribe(t),
      resubscribe: (t, why) => this.resubscribe(t, why),
      listenerThrew: (err, what) => this.listenerThrew(err, what),
    };
  }

  get state(): ClientState {
    return this._state;
  }

  /** The current connection, while `connected`; otherwise undefined. */
  get connection(): ConnectionInfo | undefined {
    return this._state === 'connected' ? this.info : undefined;
  }

  on<K extends keyof ClientEvents>(event: K, fn: Listener<ClientEvents[K]>): this {
    this.events.on(event, fn);
    return this;
  }

  once<K extends keyof ClientEvents>(event: K, fn: Listener<ClientEvents[K]>): this {
    this.events.once(event, fn);
    return this;
  }

  off<K extends keyof ClientEvents>(event: K, fn: Listener<ClientEvents[K]>): this {
    this.events.off(event, fn);
    return this;
  }

  /**
   * Connects, and keeps connecting until `close()` or a terminal close. Does nothing while
   * connecting or connected; while `disconnected` it skips the rest of the delay.
   */
  connect(): this {
    if (this._state === 'connecting' || this._state === 'connected') return this;
    if (this._state === 'closed') this.attempt = 0;
    this.clearReconnect();
    this.open();
    return this;
  }

  /**
   * Closes the connection (code 1000) and stops reconnecting. Pending commands reject with
   * `closed`. Subscriptions are kept, with their positions: a later `connect()` resumes them.
   */
  close(): this {
    if (this._state === 'closed') return this;
    this.toClosed({ reason: 'closed by the client' }, true);
    return this;
  }

  /**
   * Subscribes to `channel` (sent now if connected, else once connected) and keeps the
   * subscription through reconnects. Throws if the channel already has a subscription
   * (`getSubscription`) or `after` is not an integer ≥ -1.
   */
  subscribe<T = unknown>(channel: string, options: SubscribeOptions<T> = {}): Subscription<T> {
    if (this.subs.has(channel)) throw new Error(`already subscribed to ${channel}: use getSubscription()`);
    const after = options.after;
    if (after !== undefined && (!Number.isSafeInteger(after) || after < -1)) throw new TypeError(`after must be an integer ≥ -1, not ${String(after)}`);
    const t = new Tracker<T>(channel, options, this.host);
    this.subs.set(channel, t);
    if (this._state === 'connected') this.sendSubscribe(t);
    return t.sub;
  }

  /** The live subscription of `channel` (not `unsubscribed`), if any. */
  getSubscription<T = unknown>(channel: string): Subscription<T> | undefined {
    return this.subs.get(channel)?.sub as Subscription<T> | undefined;
  }

  /**
   * Publishes `data` (any JSON value) to `channel`; the namespace must allow client
   * publishes. Waits for a connection if there is none (within the timeout). Resolves with
   * the message's seq and time; rejects with a `SwitchyardError`: the server's refusal
   * (`permission_denied`, `payload_too_large`, `unavailable`, …), `timeout`, `closed`, or
   * `disconnected` when the connection dropped before the reply. **At most once**: a publish
   * is never resent; after `disconnected` or `timeout` it may or may not have been stored.
   */
  publish(channel: string, data: unknown, options?: PublishOptions & { readonly ack?: true }): Promise<PublishResult>;
  publish(channel: string, data: unknown, options: PublishOptions & { readonly ack: false }): Promise<void>;
  publish(channel: string, data: unknown, options?: PublishOptions): Promise<PublishResult | void>;
  publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult | void> {
    const timeoutMs = options.timeoutMs ?? this.s.commandTimeoutMs;
    if (options.ack === false) {
      // No id: the only reply is a refusal, which comes without one and goes to the `error` event.
      return new Promise((resolve, reject) => {
        if (this._state === 'closed') return reject(closedError());
        this.whenConnected(Date.now() + timeoutMs, (err) => {
          if (err !== undefined) return reject(err);
          this.write({ type: 'publish', ack: false, channel, data });
          resolve();
        });
      });
    }
    return this.request({ type: 'publish', channel, data }, timeoutMs).then((r) => {
      if (typeof r.seq !== 'number' || typeof r.time !== 'number') throw badReply('publish', r);
      return { seq: r.seq, time: r.time };
    });
  }

  /**
   * The connections subscribed to `channel` (the namespace must have presence on; you need
   * not be subscribed). Waits for a connection like `publish`; rejects with a `SwitchyardError`.
   */
  presence(channel: string, options: { readonly timeoutMs?: number } = {}): Promise<PresenceEntry[]> {
    return this.request({ type: 'presence', channel }, options.timeoutMs ?? this.s.commandTimeoutMs).then((r) => {
      if (!Array.isArray(r.clients)) throw badReply('presence', r);
      return r.clients as PresenceEntry[];
    });
  }

  // ---- connection lifecycle ----

  private open(): void {
    const gen = ++this.gen;
    this.hello = undefined;
    this.token = undefined;
    this.socketError = '';
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url, [this.codec.protocol]);
    } catch (err) {
      // A malformed URL: no retry can fix it.
      this.toClosed({ reason: `cannot open ${this.url}: ${messageOf(err)}`, error: SwitchyardError.client(ClientErrorName.Closed, `cannot open ${this.url}: ${messageOf(err)}`, err) }, false);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.connectTimer = setTimeout(() => this.drop(gen, 0, `not connected within ${this.s.connectTimeoutMs} ms`, 'backoff'), this.s.connectTimeoutMs);
    ws.onopen = () => {
      if (gen !== this.gen) return;
      this.lastRx = Date.now();
      // The token is fetched while the server sends hello; not before the socket opened, so that
      // attempts against a server that is down do not call the backend.
      if (this.opts.getToken !== undefined || this.opts.token !== undefined) {
        this.token = this.fetchToken();
        this.token.catch(() => {}); // handled where it is awaited (hello)
      }
    };
    ws.onmessage = (ev: { data: unknown }) => this.onData(gen, ev.data);
    ws.onerror = (ev: { message?: unknown; error?: unknown }) => {
      if (gen !== this.gen) return;
      // Browsers say nothing; ws says why (ECONNREFUSED, a 404 on the upgrade). The close follows.
      if (typeof ev?.message === 'string' && ev.message !== '') this.socketError = ev.message;
    };
    ws.onclose = (ev: { code?: unknown; reason?: unknown }) => {
      const code = typeof ev?.code === 'number' ? ev.code : 1006;
      const reason = typeof ev?.reason === 'string' && ev.reason !== '' ? ev.reason : this.socketError;
      this.drop(gen, code, reason, closePolicy(code));
    };
    this.setState('connecting');
  }

  /** The token for this connect: `token` first, `getToken()` after (or always, without `token`). */
  private async fetchToken(): Promise<string> {
    const first = this.tokenUses++ === 0;
    const getToken = this.opts.getToken;
    let token: unknown;
    if (this.opts.token !== undefined && (first || getToken === undefined)) token = this.opts.token;
    else {
      try {
        token = await getToken!();
      } catch (err) {
        throw SwitchyardError.client(ClientErrorName.GetTokenFailed, `getToken failed: ${messageOf(err)}`, err);
      }
    }
    if (typeof token !== 'string' || token === '') throw SwitchyardError.client(ClientErrorName.GetTokenFailed, 'getToken must return a non-empty string');
    return token;
  }

  private onHello(gen: number, f: HelloFrame): void {
    this.hello = f;
    const token = this.token;
    if (token === undefined) {
      if (f.auth === 'required') {
        const error = new SwitchyardError(ErrorCode.Unauthorized, 'unauthorized', 'the tenant requires authentication: pass getToken or token');
        this.toClosed({ reason: error.message, error }, true);
      } else {
        this.authenticated(gen, { conn: f.conn });
      }
      return;
    }
    token.then(
      (t) => {
        if (gen !== this.gen) return;
        this.command({ type: 'auth', token: t }, this.s.connectTimeoutMs, (r) => this.onAuthReply(gen, r));
      },
      (err: SwitchyardError) => {
        if (gen !== this.gen) return;
        this.emitError(err);
        this.drop(gen, 0, err.message, 'backoff');
      },
    );
  }

  private onAuthReply(gen: number, r: ReplyFrame | SwitchyardError): void {
    if (gen !== this.gen) return;
    if (r instanceof SwitchyardError) {
      // disconnected: the socket's close handles it; timeout: the connect timer fires as well.
      return;
    }
    if (r.error === undefined) {
      this.authenticated(gen, (r.result ?? {}) as Partial<AuthResult>);
      return;
    }
    const error = SwitchyardError.fromServer(r.error);
    if (error.code === ErrorCode.TokenExpired && this.opts.getToken !== undefined) {
      // The backend handed out an expired token (or the clocks disagree): ask again, with backoff.
      this.emitError(error);
      this.drop(gen, 0, `auth refused: ${error.message}`, 'backoff');
      return;
    }
    // token_invalid, permission_denied, or expired without a way to get another: retrying cannot help.
    this.toClosed({ reason: `auth refused: ${error.message}`, error }, true);
  }

  private authenticated(gen: number, r: Partial<AuthResult>): void {
    const hello = this.hello!;
    clearTimer(this.connectTimer);
    this.connectTimer = undefined;
    this.info = {
      conn: typeof r.conn === 'string' ? r.conn : hello.conn,
      node: hello.node,
      ...(typeof r.user === 'string' ? { user: r.user } : {}),
      ...(typeof r.exp === 'number' ? { exp: r.exp } : {}),
    };
    this.connectedAt = Date.now();
    this._state = 'connected';
    this.scheduleRefresh(gen);
    this.schedulePing(gen);
    // Resubscribe first: commands are answered in order, so what the app sends next sees them.
    for (const t of this.subs.values()) this.sendSubscribe(t);
    for (const w of [...this.waiters]) {
      if (gen !== this.gen) break;
      this.waiters.delete(w);
      clearTimer(w.timer);
      w.fn();
    }
    if (gen !== this.gen) return;
    this.events.emit('state', 'connected', 'connecting');
    if (gen === this.gen) this.events.emit('connected', this.info);
  }

  /**
   * Ends the connection `gen` (if it is still the current one) and applies `policy`:
   * reconnect after a delay, or close for good.
   */
  private drop(gen: number, code: number, reason: string, policy: Policy): void {
    if (gen !== this.gen || this.ws === undefined) return;
    const stable = this.connectedAt > 0 && Date.now() - this.connectedAt >= this.s.backoffResetMs;
    this.teardown(false);
    if (policy === 'terminal') {
      this.toClosed({ code, reason }, false);
      return;
    }
    if (stable) this.attempt = 0;
    const delay = reconnectDelay(policy, this.attempt, this.s);
    if (policy === 'backoff') this.attempt = Math.min(this.attempt + 1, 30);
    const next = this.gen;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.gen === next && this._state === 'disconnected') this.open();
    }, delay);
    const previous = this._state;
    this._state = 'disconnected';
    this.events.emit('state', 'disconnected', previous);
    if (this.gen === next) this.events.emit('disconnected', { code, reason, reconnectInMs: delay });
  }

  /** Stops for good: `close()` (`graceful`: a close frame; commands in flight fail with `closed`) or a terminal close. */
  private toClosed(info: ClosedInfo, graceful: boolean): void {
    if (this.ws !== undefined) this.teardown(graceful);
    this.clearReconnect();
    this.gen++;
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      clearTimer(w.timer);
      w.fn(closedError());
    }
    const previous = this._state;
    this._state = 'closed';
    const gen = this.gen;
    if (info.error !== undefined) this.emitError(info.error);
    if (gen !== this.gen) return;
    if (previous !== 'closed') this.events.emit('state', 'closed', previous);
    if (gen === this.gen) this.events.emit('closed', info);
  }

  /**
   * Forgets the current socket: detached, closed, its subscriptions suspended, its commands
   * failed — with `closed` when the app closed the client (`graceful`), else `disconnected`.
   */
  private teardown(graceful: boolean): void {
    const ws = this.ws!;
    this.ws = undefined;
    this.gen++;
    this.info = undefined;
    this.hello = undefined;
    this.token = undefined;
    this.connectedAt = 0;
    for (const t of [this.connectTimer, this.pingTimer, this.refreshTimer]) clearTimer(t);
    this.connectTimer = this.pingTimer = this.refreshTimer = undefined;
    ws.onopen = ws.onmessage = ws.onclose = null;
    // Not null: `ws` throws an 'error' event nobody listens to (aborting a handshake emits one).
    ws.onerror = () => {};
    try {
      if (graceful || ws.terminate === undefined) ws.close(1000, graceful ? 'client closed' : undefined);
      else ws.terminate();
    } catch {
      // Closing a socket that is already closing may throw in some implementations; it is gone either way.
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const t of this.subs.values()) t.suspend();
    for (const p of pending) {
      clearTimer(p.timer);
      p.done(graceful ? closedError() : SwitchyardError.client(ClientErrorName.Disconnected, 'the connection dropped before the reply'));
    }
  }

  private setState(to: ClientState): void {
    const previous = this._state;
    if (previous === to) return;
    this._state = to;
    this.events.emit('state', to, previous);
  }

  private clearReconnect(): void {
    clearTimer(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  // ---- frames ----

  private onData(gen: number, data: unknown): void {
    if (gen !== this.gen) return;
    this.lastRx = Date.now();
    let f: unknown;
    try {
      f = this.codec.decode(data);
    } catch (err) {
      this.emitError(SwitchyardError.client(ClientErrorName.BadFrame, `undecodable frame from the server: ${messageOf(err)}`, err));
      return;
    }
    if (!isObject(f)) {
      this.emitError(SwitchyardError.client(ClientErrorName.BadFrame, 'frame from the server is not an object'));
      return;
    }
    switch (f.type) {
      case 'message':
        if (typeof f.channel === 'string' && typeof f.seq === 'number') this.subs.get(f.channel)?.message(f as unknown as MessageFrame);
        break;
      case 'join':
      case 'leave':
        if (typeof f.channel === 'string' && typeof f.conn === 'string') {
          const member: PresenceEntry = { conn: f.conn, ...(typeof f.user === 'string' ? { user: f.user } : {}), ...(f.info !== undefined ? { info: f.info } : {}) };
          this.subs.get(f.channel)?.presenceChange(f.type, member);
        }
        break;
      case 'reply':
        this.onReply(f as unknown as ReplyFrame);
        break;
      case 'hello':
        if (this.hello === undefined && this._state === 'connecting') this.onHello(gen, f as unknown as HelloFrame);
        break;
      case 'error':
        if (isObject(f.error)) this.emitError(SwitchyardError.fromServer(f.error as unknown as ServerErrorBody));
        break;
      default:
        // A frame type of a later protocol version: nothing to do with it.
        break;
    }
  }

  private onReply(f: ReplyFrame): void {
    if (f.id === undefined) {
      // Every command but `publish` with ack:false carries an id.
      if (f.error !== undefined) {
        const e = SwitchyardError.fromServer(f.error);
        this.emitError(new SwitchyardError(e.code, e.codeName, `publish (ack: false) refused: ${e.message}`, e.temporary));
      }
      return;
    }
    const p = this.pending.get(f.id as number);
    if (p === undefined) return; // answered after its timeout
    this.pending.delete(f.id as number);
    clearTimer(p.timer);
    p.done(f);
  }

  // ---- commands ----

  /** Sends `frame` with a fresh id; `done` gets the reply, or `timeout` after `timeoutMs`, or `disconnected`. */
  private command(frame: Record<string, unknown>, timeoutMs: number, done: Done): void {
    const id = this.nextId++;
    const timer = setTimeout(() => {
      if (this.pending.delete(id)) done(SwitchyardError.client(ClientErrorName.Timeout, `no reply to ${String(frame.type)} within ${Math.round(timeoutMs)} ms`));
    }, timeoutMs);
    this.pending.set(id, { done, timer });
    this.write({ ...frame, id });
  }

  private write(frame: Record<string, unknown>): void {
    const ws = this.ws;
    if (ws === undefined) return;
    try {
      ws.send(this.codec.encode(frame));
    } catch (err) {
      // A socket that cannot take a frame is no use; its close may never come (browsers).
      this.drop(this.gen, 0, `send failed: ${messageOf(err)}`, 'backoff');
    }
  }

  /** A command for the app: waits for a connection until the deadline, then for the reply. */
  private request(frame: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this._state === 'closed') return reject(closedError());
      const deadline = Date.now() + timeoutMs;
      this.whenConnected(deadline, (err) => {
        if (err !== undefined) return reject(err);
        this.command(frame, Math.max(1, deadline - Date.now()), (r) => {
          if (r instanceof SwitchyardError) reject(r);
          else if (r.error !== undefined) reject(SwitchyardError.fromServer(r.error));
          else resolve(r.result ?? {});
        });
      });
    });
  }

  /** Calls `fn()` synchronously once connected (now, if it is), or `fn(error)` at the deadline or on close. */
  private whenConnected(deadline: number, fn: (err?: SwitchyardError) => void): void {
    if (this._state === 'connected') return fn();
    const wait = Math.max(1, deadline - Date.now());
    const w = {
      fn,
      timer: setTimeout(() => {
        if (this.waiters.delete(w)) fn(SwitchyardError.client(ClientErrorName.Timeout, `not connected within ${Math.round(wait)} ms`));
      }, wait),
    };
    this.waiters.add(w);
  }

  // ---- subscriptions ----

  private sendSubscribe(t: Tracker<any>): void {
    const frame = t.frame();
    const gen = this.gen;
    this.command(frame, this.s.commandTimeoutMs, (r) => {
      if (this.subs.get(t.channel) !== t) return; // unsubscribed meanwhile
      if (r instanceof SwitchyardError) {
        // The server answers subscribes within seconds even without NATS: a connection that
        // does not is stuck. (disconnected: resubscribed on the next connection.)
        if (r.codeName === ClientErrorName.Timeout) this.drop(gen, 0, `no reply to subscribe ${t.channel} within ${this.s.commandTimeoutMs} ms`, 'backoff');
        return;
      }
      if (r.error !== undefined) {
        this.subscribeRefused(t, SwitchyardError.fromServer(r.error), gen);
        return;
      }
      const res = r.result;
      if (!isObject(res) || typeof res.last !== 'number' || typeof res.epoch !== 'string') {
        this.subscribeRefused(t, badReply('subscribe', res), gen);
        return;
      }
      t.subscribed({ channel: t.channel, last: res.last, epoch: res.epoch, recovered: res.recovered === true, delta: res.delta === true }, frame);
    });
  }

  private subscribeRefused(t: Tracker<any>, err: SwitchyardError, gen: number): void {
    if (!err.temporary) {
      this.subs.delete(t.channel);
      t.refused(err, true);
      return;
    }
    // internal, unavailable (NATS unreachable): try again, with backoff, on this connection.
    const delay = Math.random() * Math.min(this.s.reconnectMaxMs, this.s.reconnectBaseMs * 2 ** Math.min(t.attempts++, 30));
    t.clearRetry();
    t.retryTimer = setTimeout(() => {
      t.retryTimer = undefined;
      if (gen === this.gen && this._state === 'connected' && this.subs.get(t.channel) === t) this.sendSubscribe(t);
    }, delay);
    t.refused(err, false);
  }

  /**
   * A delta of `t` did not apply: unsubscribe and subscribe again on this connection (the
   * server runs them in order), resuming after the last message delivered; its next
   * messages come in full first. Frames of the old subscription meanwhile are ignored.
   */
  private resubscribe(t: Tracker<any>, why: string): void {
    this.emitError(SwitchyardError.client(ClientErrorName.BadFrame, `subscription ${t.channel}: ${why}; subscribing again`));
    if (this._state !== 'connected' || this.subs.get(t.channel) !== t) return;
    this.command({ type: 'unsubscribe', channel: t.channel }, this.s.commandTimeoutMs, () => {});
    this.sendSubscribe(t);
  }

  private unsubscribe(t: Tracker<any>): Promise<void> {
    if (this.subs.get(t.channel) !== t) return Promise.resolve();
    this.subs.delete(t.channel);
    t.end();
    const done = this._state !== 'connected'
      ? Promise.resolve()
      : new Promise<void>((resolve) => this.command({ type: 'unsubscribe', channel: t.channel }, this.s.commandTimeoutMs, () => resolve()));
    t.events.emit('unsubscribed');
    return done;
  }

  // ---- liveness and tokens ----

  /** Pings when nothing came from the server for `pingIntervalMs`; drops the connection when the ping goes unanswered. */
  private schedulePing(gen: number): void {
    if (this.s.pingIntervalMs <= 0) return;
    this.pingTimer = setTimeout(() => {
      this.pingTimer = undefined;
      if (gen !== this.gen) return;
      if (Date.now() - this.lastRx < this.s.pingIntervalMs) return this.schedulePing(gen);
      this.command({ type: 'ping' }, this.s.pingTimeoutMs, (r) => {
        if (gen !== this.gen) return;
        if (r instanceof SwitchyardError) {
          if (r.codeName === ClientErrorName.Timeout) this.drop(gen, 0, `no ping reply within ${this.s.pingTimeoutMs} ms`, 'backoff');
          return;
        }
        this.schedulePing(gen);
      });
    }, Math.max(0, this.lastRx + this.s.pingIntervalMs - Date.now()));
  }

  /** Arms the re-auth before the current token expires (only with `getToken`: a static token cannot be renewed). */
  private scheduleRefresh(gen: number): void {
    clearTimer(this.refreshTimer);
    this.refreshTimer = undefined;
    const exp = this.info?.exp;
    if (exp === undefined || this.opts.getToken === undefined) return;
    // Undefined also when the server accepted a token our clock says has expired: the clocks
    // disagree. Do not guess; the server's 4101 at its expiry brings a reconnect with a fresh token.
    const delay = refreshDelay(exp * 1000 - Date.now());
    if (delay === undefined) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh(gen);
    }, delay);
  }

  /** Re-authenticates on the open connection (docs/protocol.md#auth); on failure the 4101 at expiry reconnects. */
  private async refresh(gen: number): Promise<void> {
    let token: string;
    try {
      token = await this.fetchToken();
    } catch (err) {
      if (gen === this.gen) this.emitError(err as SwitchyardError);
      return;
    }
    if (gen !== this.gen || this._state !== 'connected') return;
    this.command({ type: 'auth', token }, this.s.commandTimeoutMs, (r) => {
      if (gen !== this.gen) return;
      if (r instanceof SwitchyardError) {
        if (r.codeName === ClientErrorName.Timeout) this.emitError(new SwitchyardError(0, r.codeName, `token refresh: ${r.message}`, true));
        return;
      }
      if (r.error !== undefined) {
        const e = SwitchyardError.fromServer(r.error);
        this.emitError(new SwitchyardError(e.code, e.codeName, `token refresh refused: ${e.message}`, e.temporary));
        return;
      }
      const exp = r.result?.exp;
      if (this.info !== undefined) {
        const { exp: _old, ...rest } = this.info;
        this.info = typeof exp === 'number' ? { ...rest, exp } : rest;
      }
      this.scheduleRefresh(gen);
    });
  }

  // ---- errors ----

  private emitError(err: SwitchyardError): void {
    this.events.emit('error', err);
  }

  private listenerThrew(err: unknown, what: string): void {
    this.emitError(SwitchyardError.client(ClientErrorName.ListenerThrew, `${what} threw: ${messageOf(err)}`, err));
  }
}

const clearTimer = (t: Timer | undefined): void => {
  if (t !== undefined) clearTimeout(t);
};
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const closedError = (): SwitchyardError => SwitchyardError.client(ClientErrorName.Closed, 'the client is closed: call connect() first');
const badReply = (what: string, r: unknown): SwitchyardError =>
  SwitchyardError.client(ClientErrorName.BadFrame, `malformed ${what} reply: ${JSON.stringify(r)?.slice(0, 200)}`);
