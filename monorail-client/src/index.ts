import { Emitter, type Listener } from './emitter.js';

export { Emitter, type Listener };

/** The part of the standard WebSocket API the client uses (browsers' WebSocket and `ws` have it). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface MonoRailOptions {
  /** A WebSocket implementation; defaults to the global one (browsers, Node 22+). In Node 20 pass `ws`. */
  readonly WebSocket?: WebSocketConstructor;
  /** First reconnection delay, ms (doubles per failed attempt, with jitter). Default 250. */
  readonly minReconnectDelayMs?: number;
  /** Longest reconnection delay, ms. Default 10000. */
  readonly maxReconnectDelayMs?: number;
  /** Reconnect when the connection closes or fails. Default true. */
  readonly reconnect?: boolean;
}

export type Params = Record<string, unknown>;
const OPEN = 1;

/**
 * The MonoRail client (seed 001's client API): `connect`, `disconnect`, `ready`, `init`, `all`,
 * `query`, `get`, `watch`, `stop`, and events `open`, `close`, `error`, `message`, `ready`,
 * `init` plus one per server handler (`session`, `list`, `item`, `remove`, `error`).
 * After a reconnect it re-sends every active watch, then emits `ready` again.
 *
 * Note: a server `error` frame is emitted as `error` too, with the frame as argument; socket
 * errors are emitted as `error` with the socket's event.
 */
export class MonoRailClient {
  readonly events = new Emitter();
  wsConn: WebSocketLike | undefined;
  /** The id from the last `session` frame (see `init`). */
  sessionId: string | undefined;
  private readonly watches: Params[] = [];
  private readonly WS: WebSocketConstructor;
  private attempts = 0;
  private wanted = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly url: string,
    private readonly options: MonoRailOptions = {},
  ) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WS === undefined) throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. the ws package)');
    this.WS = WS;
  }

  on(event: string, fn: Listener): this {
    this.events.on(event, fn);
    return this;
  }

  once(event: string, fn: Listener): this {
    this.events.once(event, fn);
    return this;
  }

  off(event: string, fn: Listener): this {
    this.events.off(event, fn);
    return this;
  }

  get isOpen(): boolean {
    return this.wsConn?.readyState === OPEN;
  }

  /** Opens the connection (and keeps it open, reconnecting with backoff, until `disconnect`). */
  connect(): this {
    this.wanted = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const old = this.wsConn;
    if (old !== undefined && (old.readyState === 0 || old.readyState === OPEN)) return this;
    const ws = new this.WS(this.url);
    this.wsConn = ws;
    ws.onopen = (ev) => {
      this.attempts = 0;
      this.events.emit('open', ev);
      for (const params of this.watches) this.send({ handler: 'watch', params });
      this.events.emit('ready');
    };
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onerror = (ev) => this.events.emit('error', ev);
    ws.onclose = (ev) => {
      if (this.wsConn === ws) this.wsConn = undefined;
      this.events.emit('close', ev);
      if (this.wanted && this.options.reconnect !== false) this.scheduleReconnect();
    };
    return this;
  }

  /** Closes the connection and stops reconnecting. Watches are kept for a later `connect`. */
  disconnect(): this {
    this.wanted = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.wsConn?.close(1000, 'client disconnect');
    return this;
  }

  /** Calls back once the connection is open (now, if it is). */
  ready(callback: () => void): this {
    if (this.isOpen) queueMicrotask(callback);
    else this.events.once('ready', callback);
    return this;
  }

  /** Asks the server for a session id; calls back with it (and emits `init`). */
  init(callback?: (id: string) => void): this {
    if (callback !== undefined) this.events.once('init', callback);
    this.ready(() => this.send({ handler: 'init' }));
    return this;
  }

  all(): this {
    return this.request({ handler: 'all' });
  }

  query(params: Params = {}): this {
    return this.request({ handler: 'query', params });
  }

  get(params: Params): this {
    return this.request({ handler: 'get', params });
  }

  /** Follows matching items until `stop(params)`; re-established after every reconnect. */
  watch(params: Params = {}): this {
    this.watches.push(params);
    if (this.isOpen) this.send({ handler: 'watch', params });
    return this;
  }

  /** Stops the watches with these params (all of them without params). */
  stop(params?: Params): this {
    const key = params === undefined ? undefined : canonical(params);
    for (let i = this.watches.length - 1; i >= 0; i--) if (key === undefined || canonical(this.watches[i] as Params) === key) this.watches.splice(i, 1);
    if (this.isOpen) this.send(params === undefined ? { handler: 'stop' } : { handler: 'stop', params });
    return this;
  }

  private request(frame: Record<string, unknown>): this {
    this.ready(() => this.send(frame));
    return this;
  }

  private send(frame: Record<string, unknown>): void {
    this.wsConn?.send(JSON.stringify(frame));
  }

  private onFrame(data: unknown): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer);
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    this.events.emit('message', frame);
    if (typeof frame.handler !== 'string') return;
    if (frame.handler === 'session' && typeof frame.id === 'string') {
      this.sessionId = frame.id;
      this.events.emit('init', frame.id);
    }
    this.events.emit(frame.handler, frame);
  }

  private scheduleReconnect(): void {
    const min = this.options.minReconnectDelayMs ?? 250;
    const max = this.options.maxReconnectDelayMs ?? 10_000;
    const delay = Math.min(max, min * 2 ** this.attempts) * (0.5 + Math.random() / 2);
    this.attempts++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.wanted) this.connect();
    }, delay);
  }
}

const canonical = (p: Params): string => JSON.stringify(Object.fromEntries(Object.entries(p).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
