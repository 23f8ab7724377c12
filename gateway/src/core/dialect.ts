import type { Engine, Logger, Metrics, ProtocolError, Publisher, Tenant, TenantRegistry } from '@switchyard/shared';
import type { Command, Done } from './commands.js';
import type { Face, FaceTable } from './face.js';
import type { Hub } from './hub.js';
import type { Out, Session } from './session.js';

/** What an endpoint learned at upgrade time, from the URL and headers alone. */
export interface Admission {
  readonly tenant: Tenant;
  readonly face: Face | undefined;
  /** The subprotocol to echo ('' for none). */
  readonly protocol: string;
  /** The connection id to use, when admission had to know it (WSaaS gives it to the backend). */
  readonly connId?: string;
  /** The initial value of `Session.state`. */
  readonly state?: unknown;
  /** Called when the client went away after an asynchronous admission accepted it. */
  readonly abandoned?: () => void;
}

export interface UpgradeInfo {
  readonly path: string;
  readonly query: URLSearchParams;
  /** Offered subprotocols, trimmed. */
  readonly protocols: readonly string[];
  /** The client's Authorization header ('' when absent). */
  readonly authorization: string;
  /** SSE: the `Last-Event-ID` header ('' when absent). */
  readonly lastEventId?: string;
}

/** What a dialect may use: never the socket library. */
export interface DialectContext {
  readonly nodeId: string;
  readonly tenants: TenantRegistry;
  /** Read-only questions about subscriptions (`isSubscribed`, `channelsOf`). */
  readonly hub: Pick<Hub, 'isSubscribed' | 'channelsOf'>;
  readonly faces: FaceTable;
  readonly engine: Engine;
  readonly publisher: Publisher;
  readonly log: Logger;
  /** Where dialects count what only they see (the WSaaS webhook calls, `deliver` faces' frames). */
  readonly metrics: Pick<Metrics, 'webhookSeconds' | 'stats'>;
  /** Base URL of the control API as backends reach it (WSaaS ws_uris). */
  readonly publicUrl: () => string;
}

/**
 * A client protocol: a codec plus its own authentication. It turns frames into the internal
 * commands and outcomes back into frames; the runner executes, orders, limits, counts errors
 * and closes. `R` is the dialect's parsed request, opaque to the core and handed back with
 * the outcome so answers can be correlated.
 */
export interface Dialect<R = unknown> {
  /** Metrics label and log field. */
  readonly name: string;
  /** URL pattern of its WebSocket endpoint. */
  readonly path: string;
  /** Idle timeout of its connections, seconds, when it differs from the gateway's. */
  readonly idleTimeoutSeconds?: number;
  /** Decides at upgrade; throws a ProtocolError (answered as an HTTP error) to refuse. */
  admit(u: UpgradeInfo): Admission | Promise<Admission>;
  /** The connection is open: its greeting, and a command to run first (answered to no one). */
  open(s: Session): { readonly send?: Out; readonly command?: Command } | undefined;
  /** Reads a client frame (valid only during the call). Throws a ProtocolError for a frame it cannot read. */
  parse(data: ArrayBuffer, binary: boolean): R;
  /**
   * The command a request asks for, in the connection's turn (so it sees every earlier
   * command's effect). Checks the dialect's own credentials; throws a ProtocolError to refuse.
   */
  command(s: Session, req: R): Command;
  /** The answer to a command that succeeded (undefined: silent). May record the success in `s.state`. */
  reply(s: Session, req: R, done: Done): Out | undefined;
  /** The answer to a failure; `req` is undefined when the frame could not be read. */
  error(s: Session, req: R | undefined, err: ProtocolError): Out | undefined;
  /** The connection closed; called before its subscriptions are removed. */
  closed?(s: Session): void;
  /** Whether the connection must authenticate before anything else (it is closed with 4103 if it does not in time). */
  authRequired?(s: Session): boolean;
  /** A backend's push (`PUT /v1/connections/<id>`) as this dialect sends it (default: the body as is). */
  pushFrame?(text: string | undefined, base64: string | undefined): Out;
  /**
   * Whether a backend may push to, close or inspect this connection, given whether it proved
   * the connection's tenant's backendSecret (default: exactly that).
   */
  backendMay?(s: Session, proven: boolean): boolean;
}
