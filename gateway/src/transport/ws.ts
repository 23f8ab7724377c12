import { type HttpRequest, type HttpResponse, type TemplatedApp, type us_socket_context_t } from 'uWebSockets.js';
import { ErrorCode, ProtocolError, allowOrigin, errorName, httpStatus, type Origins } from '@switchyard/shared';
import type { Admission, Dialect, UpgradeInfo } from '../core/dialect.js';
import type { Outbox } from '../core/outbox.js';
import { Session } from '../core/session.js';
import { releaseSlots, takeSlots, type HeldSlots, type OpenLimits } from './open-counts.js';
import { UwsConn } from './uws-conn.js';

interface UserData {
  admission: Admission;
  /** Its place under `--max-connections-per-ip` and the tenant's `maxConnections`, until the socket closes. */
  held: HeldSlots;
  session: Session | undefined;
  conn: UwsConn<UserData> | undefined;
}

export interface SocketLimits {
  /** Largest client frame handled, in bytes; larger ones get an error and close 1009 (the runner checks). */
  readonly maxPayload: number;
  /** Send buffer per connection before it is closed as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Seconds without traffic before uWS closes the connection (pings keep it alive). */
  readonly idleTimeoutSeconds: number;
}

/** What every endpoint of a gateway (WebSocket or SSE) shares: the per-address and per-tenant limits among them. */
export interface SocketHooks extends OpenLimits {
  readonly nodeId: string;
  onOpen(s: Session): void;
  /** One client frame (valid only during the call). */
  onFrame(s: Session, data: ArrayBuffer, binary: boolean): void;
  /** The socket closed with `code` (the peer's, ours, or 1006 when it was cut). */
  onClose(s: Session, code: number): void;
  /** Where sessions queue their frames. */
  readonly outbox: Outbox;
  /** An upgrade refused with an HTTP error (counted like the errors answered on open sockets). */
  onRefused(err: ProtocolError): void;
  /** `--allowed-origins`: the `Origin` an upgrade may carry (empty: any). */
  readonly allowedOrigins: Origins;
}

/** An HTTP error answer to a request refused before it became a connection, with the control API's `{code, message}` body. */
export function refuseRequest(res: HttpResponse, err: unknown, onRefused: (e: ProtocolError) => void, headers?: () => void): void {
  const e = err instanceof ProtocolError ? err : new ProtocolError(ErrorCode.Internal, 'internal error');
  onRefused(e);
  res.cork(() => {
    res.writeStatus(`${httpStatus[e.code]} Refused`);
    headers?.();
    res.writeHeader('content-type', 'application/json').end(JSON.stringify({ code: errorName[e.code], message: e.message }));
  });
}

/** Whether a request's `Origin` may connect (`--allowed-origins`). Browsers always send one; other clients need not, and are not checked. */
export const originAllowed = (allowed: Origins, origin: string): boolean => origin === '' || allowed.length === 0 || allowOrigin(allowed, origin) !== undefined;

/**
 * Mounts a dialect's WebSocket endpoint. uWS glue only: admission at upgrade (refused with an
 * HTTP error body), then frames handed to the core, which never sees the socket itself.
 */
export function mountSocketEndpoint(app: TemplatedApp, dialect: Dialect, limits: SocketLimits, hooks: SocketHooks): void {
  app.ws<UserData>(dialect.path, {
    compression: 0, // uWS DISABLED (its typings export the name as a type only)
    // Frames up to 16× the limit are read so their sender gets a clear error and close code;
    // beyond that uWS drops the connection before buffering more.
    maxPayloadLength: limits.maxPayload * 16,
    // No uWS limit: a frame uWS dropped inside its pub/sub drain could not be answered without
    // a gap. The core's own checks close a slow consumer (4100) with a gap-free prefix: the
    // outbox after every frame it writes, the hub's sweep for channel frames (see SlowSweep).
    maxBackpressure: 0,
    closeOnBackpressureLimit: false,
    idleTimeout: dialect.idleTimeoutSeconds ?? limits.idleTimeoutSeconds,
    sendPingsAutomatically: true,

    upgrade: (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
      const key = req.getHeader('sec-websocket-key');
      const offered = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const query = req.getQuery();
      const origin = req.getHeader('origin');
      const address = Buffer.from(res.getRemoteAddressAsText()).toString();
      // Everything the upgrade needs is copied now: `req` is invalid once this handler returns.
      const info: UpgradeInfo = {
        path: query ? `${req.getUrl()}?${query}` : req.getUrl(),
        query: new URLSearchParams(query ?? ''),
        protocols: offered === '' ? [] : offered.split(',').map((p) => p.trim()),
        authorization: req.getHeader('authorization'),
      };
      const refuse = (err: unknown): void => refuseRequest(res, err, hooks.onRefused);
      // Never inside res.cork(), not even after an await (where uWS asks for a cork): after the
      // handler, cork() checks the response's state, and when the upgrade's realloc kept the
      // socket's address it reads the new WebSocket's memory as that state and may shut the
      // fresh connection down (clients see 1006; uWebSockets.js#1108, uWebSockets#1928; about
      // one async-admitted connection in ten in our tests). Uncorked, uWS prints a cork warning
      // on stderr for each upgrade that follows an await (WSaaS webhooks), and the connection works.
      const accept = (admission: Admission): void => {
        const held = takeSlots(hooks, address, admission.tenant);
        if (held instanceof ProtocolError) {
          admission.abandoned?.();
          refuse(held);
          return;
        }
        const ud: UserData = { admission, held, session: undefined, conn: undefined };
        res.upgrade(ud, key, admission.protocol, extensions, context);
      };
      if (!originAllowed(hooks.allowedOrigins, origin)) {
        refuse(new ProtocolError(ErrorCode.PermissionDenied, `origin ${origin} may not open connections here (--allowed-origins)`));
        return;
      }
      let admitted: Admission | Promise<Admission>;
      try {
        admitted = dialect.admit(info);
      } catch (err) {
        refuse(err);
        return;
      }
      if (!(admitted instanceof Promise)) {
        accept(admitted);
        return;
      }
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      admitted.then(
        (a) => {
          if (aborted) a.abandoned?.();
          else accept(a);
        },
        (err: unknown) => {
          if (!aborted) refuse(err);
        },
      );
    },

    open: (ws) => {
      const ud = ws.getUserData();
      const a = ud.admission;
      const conn = new UwsConn(ws);
      const s = new Session(hooks.nodeId, conn, a.tenant, dialect, a.face, hooks.outbox, a.connId, a.state);
      ud.conn = conn;
      ud.session = s;
      hooks.onOpen(s);
    },

    message: (ws, data, isBinary) => {
      const s = ws.getUserData().session;
      if (s !== undefined) hooks.onFrame(s, data, isBinary);
    },

    close: (ws, code) => {
      const ud = ws.getUserData();
      releaseSlots(hooks, ud.held);
      if (ud.conn !== undefined) ud.conn.open = false;
      if (ud.session !== undefined) hooks.onClose(ud.session, code);
    },
  });
}
