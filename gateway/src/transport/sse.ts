import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, ProtocolError, corsHeaders, preflight, type Origins } from '@switchyard/shared';
import type { Admission, Dialect, UpgradeInfo } from '../core/dialect.js';
import { Session, SendResult, type Conn } from '../core/session.js';
import { HEARTBEAT, namedEvent } from '../dialects/sse-events.js';
import { releaseSlots, takeSlots, type HeldSlots } from './open-counts.js';
import { originAllowed, refuseRequest, type SocketHooks } from './ws.js';

export interface SseOptions {
  /** The origins whose pages may read the stream (`--cors-origins`, or the tenant's `corsOrigins`). */
  readonly cors: (query: URLSearchParams) => Origins;
}

/** Request headers a page may send to the stream from another origin (fetch-based clients send the token in one). */
const SSE_REQUEST_HEADERS = ['authorization', 'last-event-id'];

/** Between heartbeats: well under the 30–60 s after which proxies cut a quiet response. */
export const HEARTBEAT_MS = 15_000;

/**
 * A Server-Sent Events response as the core's `Conn`. uWS has no send-buffer figure for an
 * HTTP response, only whether a write left bytes behind; so the bytes written since the
 * response last took a write whole stand for what is buffered (an upper bound): past
 * `--max-buffered-bytes` the stream is a slow consumer, as a WebSocket is. A response that
 * takes nothing for 10 s after a write left bytes behind is cut by uWS itself.
 */
export class SseConn implements Conn {
  open = true;
  private backlog = 0;
  private corked = false;

  constructor(
    private readonly res: HttpResponse,
    /** Called once the server ended the stream (after the current turn), with the close code it sent. */
    private readonly ended: (code: number) => void,
  ) {}

  send(frame: Uint8Array | string): number {
    if (!this.open) return SendResult.Dropped;
    let ok = false;
    // uWS wants every response write corked; the outbox corks several frames, a single one comes here bare.
    if (this.corked) ok = this.res.write(frame);
    else this.res.cork(() => (ok = this.res.write(frame)));
    if (ok) {
      this.backlog = 0;
      return SendResult.Success;
    }
    this.backlog += typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
    return SendResult.Backpressure;
  }

  bufferedAmount(): number {
    return this.backlog;
  }

  cork(fn: () => void): void {
    if (!this.open) return;
    this.res.cork(() => {
      this.corked = true;
      try {
        fn();
      } finally {
        this.corked = false;
      }
    });
  }

  /** The stream has no frames of its own: the close code goes in a `close` event, then the response ends. */
  end(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    // After a drain or a shutdown, clients come back within a second, spread: not all at once.
    const retry = code === 1012 || code === 1001 ? `retry: ${Math.floor(Math.random() * 1000)}\n` : '';
    this.res.cork(() => {
      this.res.write(`${retry}${namedEvent('close', { code, reason })}`);
      this.res.end();
    });
    queueMicrotask(() => this.ended(code));
  }

  /** The client went away: nothing more may touch the response. */
  aborted(): void {
    this.open = false;
  }

  subscribe(): void {
    // Streams receive through their face's `deliver`, never through uWS topics.
  }

  unsubscribe(): void {}
}

/**
 * Mounts the SSE endpoint (`GET`, plus the CORS preflight for fetch-based clients). The
 * request is admitted like a WebSocket upgrade (origin, the dialect's checks, the per-address
 * and per-tenant limits; a refusal is an HTTP error), then its response stays open as the
 * session's connection. Returns the open streams' heartbeat, which the caller stops.
 */
export function mountSseEndpoint(app: TemplatedApp, dialect: Dialect, hooks: SocketHooks, o: SseOptions): { stop(): void } {
  const open = new Set<Session>();
  preflight(app, 'get', dialect.path, o.cors, SSE_REQUEST_HEADERS);
  app.get(dialect.path, (res: HttpResponse, req: HttpRequest) => {
    const query = req.getQuery() ?? '';
    const origin = req.getHeader('origin');
    const address = Buffer.from(res.getRemoteAddressAsText()).toString();
    const info: UpgradeInfo = {
      path: query === '' ? req.getUrl() : `${req.getUrl()}?${query}`,
      query: new URLSearchParams(query),
      protocols: [],
      authorization: req.getHeader('authorization'),
      lastEventId: req.getHeader('last-event-id'),
    };
    const allowed = o.cors(info.query);
    const cors = (): void => corsHeaders(res, allowed, origin);
    const refuse = (err: unknown): void => refuseRequest(res, err, hooks.onRefused, cors);
    if (!originAllowed(hooks.allowedOrigins, origin)) {
      refuse(new ProtocolError(ErrorCode.PermissionDenied, `origin ${origin} may not open connections here (--allowed-origins)`));
      return;
    }
    let admission: Admission;
    try {
      const a = dialect.admit(info);
      if (a instanceof Promise) throw new Error('an SSE dialect admits synchronously');
      admission = a;
    } catch (err) {
      refuse(err);
      return;
    }
    const held: HeldSlots | ProtocolError = takeSlots(hooks, address, admission.tenant);
    if (held instanceof ProtocolError) {
      refuse(held);
      return;
    }
    let session: Session | undefined;
    const closed = (code: number): void => {
      if (session === undefined || !open.delete(session)) return;
      releaseSlots(hooks, held);
      hooks.onClose(session, code);
    };
    const conn = new SseConn(res, closed);
    res.onAborted(() => {
      conn.aborted();
      closed(1006); // cut without a close of ours, as a WebSocket closed without a close frame
    });
    res.cork(() => {
      res.writeStatus('200 OK');
      cors();
      res.writeHeader('content-type', 'text/event-stream; charset=utf-8');
      res.writeHeader('cache-control', 'no-cache, no-transform');
      // nginx buffers responses unless told not to; a stream must leave as it is written.
      res.writeHeader('x-accel-buffering', 'no');
    });
    session = new Session(hooks.nodeId, conn, admission.tenant, dialect, admission.face, hooks.outbox, admission.connId, admission.state);
    open.add(session);
    hooks.onOpen(session);
  });
  const timer = setInterval(() => {
    for (const s of open) s.write(HEARTBEAT, false);
  }, HEARTBEAT_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
