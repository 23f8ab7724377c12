import type { Codec } from './codec.js';
import type { SwitchyardError } from './errors.js';

/**
 * The part of the standard WebSocket API the client uses: browsers' `WebSocket` and the
 * `ws` package's both fit. The client sets the `on…` handlers and `binaryType` itself.
 */
export interface WebSocketLike {
  readonly readyState: number;
  /** The negotiated subprotocol. */
  readonly protocol: string;
  binaryType: string;
  // Event parameters are left open so that both browsers' and `ws`'s event types fit.
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
  onmessage: ((ev: any) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: destroys the socket at once (a half-open connection never answers a close). */
  terminate?(): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * - `connecting`: opening the WebSocket, waiting for `hello`, authenticating;
 * - `connected`: authenticated (or anonymous): commands run, subscriptions are (re)made;
 * - `disconnected`: the connection ended and a reconnect is scheduled;
 * - `closed`: not connected and not trying: before the first `connect()`, after `close()`,
 *   and after a terminal close (close code 1000 or 4000–4099, a token the server refuses).
 *   `connect()` starts again from here.
 */
export type ClientState = 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface ClientOptions {
  /**
   * The WebSocket class, called as `new WebSocket(url, [subprotocol])`. Default: the global
   * `WebSocket` (browsers, Node 22+). In Node 20 pass the `ws` package's default export.
   */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Returns a token for the tenant (docs/protocol.md#tokens), typically from your backend.
   * Called at every connect (in parallel with the WebSocket handshake) and before the
   * current token's expiry, to re-authenticate on the open connection.
   */
  readonly getToken?: () => string | Promise<string>;
  /**
   * A token to use as is. With `getToken` too, it serves the first connect and `getToken`
   * every later one. Alone, it cannot be refreshed: when it expires (close 4101) the client
   * reconnects, the server answers `token_expired`, and the client closes.
   */
  readonly token?: string;
  /** Frame format: `json` (default) or `msgpack` from `@switchyard/client/msgpack`. */
  readonly codec?: Codec;
  /** Backoff: the cap of the first reconnect delay, doubled per failed attempt, ms. Default 500. */
  readonly reconnectBaseMs?: number;
  /** Backoff: the largest cap of a reconnect delay, ms. Default 20000. */
  readonly reconnectMaxMs?: number;
  /** The largest delay of the immediate reconnects after close 1012 (server restarting) and 4101 (token expired), ms. Default 1000. */
  readonly restartJitterMs?: number;
  /** A connection that authenticated and stayed open this long resets the backoff, ms. Default 5000. */
  readonly backoffResetMs?: number;
  /** Opening, `hello` and `auth` must be done within this, or the attempt counts as failed, ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** Default timeout of `publish` and `presence` (waiting for a connection included), and of `subscribe` replies, ms. Default 10000. */
  readonly commandTimeoutMs?: number;
  /** After this long without any frame from the server, send an application `ping`, ms. Default 25000. */
  readonly pingIntervalMs?: number;
  /** No reply to that `ping` within this: the connection is dead; drop it and reconnect, ms. Default 10000. */
  readonly pingTimeoutMs?: number;
}

/** Who the client is connected as: the `connected` event, and `client.connection`. */
export interface ConnectionInfo {
  /** This connection's id (changes with every connection). */
  readonly conn: string;
  /** The node holding it. */
  readonly node: string;
  /** The token's `sub`, when it has one. */
  readonly user?: string;
  /** The current token's expiry, seconds since 1970 (updated by refreshes); absent without one. */
  readonly exp?: number;
}

export interface DisconnectedInfo {
  /**
   * The WebSocket close code (1006: cut without a close frame, or the connection could not
   * be made), or 0 when the client dropped the connection itself (no ping reply, connect
   * timeout, `getToken` failed, `token_expired` answer): `reason` says why.
   */
  readonly code: number;
  readonly reason: string;
  /** When the next attempt starts, ms from now. */
  readonly reconnectInMs: number;
}

export interface ClosedInfo {
  /** The close code when the server closed the connection (1000, 4000–4099). */
  readonly code?: number;
  readonly reason: string;
  /** Why, when the server refused: `token_invalid`, `permission_denied`, `token_expired` without `getToken`, `unauthorized` without a token. */
  readonly error?: SwitchyardError;
}

export interface ClientEvents {
  /** Every state change. */
  state: [state: ClientState, previous: ClientState];
  /** Authenticated on a new connection; resubscribes are already on their way. */
  connected: [info: ConnectionInfo];
  /** The connection ended; a reconnect is scheduled in `reconnectInMs`. */
  disconnected: [info: DisconnectedInfo];
  /** The client stopped: `close()` or a terminal close. */
  closed: [info: ClosedInfo];
  /**
   * Something went wrong that no promise reports: a refused `auth` or token refresh,
   * `getToken` failing, an `error` frame, an `ack: false` publish refused, a listener that
   * threw. The connection carries on unless a `disconnected` or `closed` event follows.
   */
  error: [error: SwitchyardError];
}

export interface PublishOptions {
  /**
   * `true` (default): resolve with the message's seq and time. `false`: the server sends no
   * success reply (for high-rate publishers); the promise resolves once the frame is sent, and
   * a refusal comes as the client's `error` event.
   */
  readonly ack?: boolean;
  /** Overrides `commandTimeoutMs` for this call, ms. */
  readonly timeoutMs?: number;
}
