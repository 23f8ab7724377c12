import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  closeCode,
  closeText,
  type Tenant,
  type WebhookOptions,
} from '@switchyard/shared';
import { FaceIndex, type Face } from '../core/face.js';
import { newConnectionId, type Session } from '../core/session.js';
import type { Admission } from '../transport/ws.js';
import type { Dialect, DialectContext } from './dialect.js';

/** WSaaS connections carry no channel messages; only pushes through their ws_uri reach them. */
const wsaasFace: Face = {
  index: FaceIndex.NativeJson,
  binary: false,
  encode() {
    throw new Error('WSaaS connections do not subscribe to channels');
  },
};

interface Outbox {
  readonly hook: WebhookOptions;
  readonly wsUri: string;
  /** Bodies waiting for their PUT, oldest first; the DELETE goes last. */
  readonly queue: string[];
  busy: boolean;
  /** A PUT failed and the connection was closed: later PUTs are dropped, the DELETE still goes. */
  failed: boolean;
}

/** The path of a connection's ws_uri on the control API. */
export const CONNECTIONS_PATH = '/v1/connections/';

/**
 * WebSocket as a service (seed 003, docs/dialects/wsaas.md): the backend never holds a
 * socket. Connect → POST {ws_uri} to the tenant's webhook (only {"code":"OK"} admits);
 * each client frame → PUT, in order, through a bounded queue; close → DELETE. The backend
 * pushes, closes and inspects through the ws_uri on the control API.
 */
export class WsaasDialect implements Dialect {
  readonly name = 'wsaas';
  private readonly outboxes = new WeakMap<Session, Outbox>();

  constructor(
    private readonly ctx: DialectContext,
    /** Base URL of the control API as backends reach it (the seed's WS_HOSTNAME). */
    private readonly publicUrl: () => string,
  ) {}

  wsUri(conn: string): string {
    return `${this.publicUrl()}${CONNECTIONS_PATH}${encodeURIComponent(conn)}`;
  }

  /** Asks the backend before the upgrade completes; resolves with the admission or refuses. */
  async admit(tenant: Tenant, path: string, authorization: string): Promise<Admission> {
    const hook = tenant.webhook;
    if (hook === undefined) throw new ProtocolError(ErrorCode.NotFound, `tenant '${tenant.id}' has no webhook configured`);
    const connId = newConnectionId(this.ctx.nodeId);
    const wsUri = this.wsUri(connId);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authorization !== '') headers.authorization = authorization;
    const res = await this.call(hook, 'POST', { headers, body: JSON.stringify({ ws_uri: wsUri, path }) });
    let code: unknown;
    try {
      code = ((await res.json()) as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    if (code !== 'OK') {
      throw new ProtocolError(ErrorCode.PermissionDenied, `backend refused the connection (code ${JSON.stringify(code ?? null)})`);
    }
    return {
      tenant,
      dialect: this,
      face: wsaasFace,
      protocol: '',
      connId,
      // Accepted by the backend but the client left before the upgrade: tell the backend.
      abandoned: () => void this.call(hook, 'DELETE', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ws_uri: wsUri }) }).catch(() => {}),
    };
  }

  /** One webhook call, bounded by the tenant's timeout; HTTP errors and timeouts become ProtocolErrors. */
  private async call(hook: WebhookOptions, method: string, init: { headers: Record<string, string>; body: string }): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(hook.url, { method, ...init, signal: AbortSignal.timeout(hook.timeoutMs) });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new ProtocolError(
        timedOut ? ErrorCode.BackendTimeout : ErrorCode.BackendError,
        timedOut ? `backend did not answer within ${hook.timeoutMs} ms` : 'backend unreachable',
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new ProtocolError(ErrorCode.BackendError, `backend answered HTTP ${res.status}`);
    }
    return res;
  }

  open(s: Session): void {
    const hook = s.tenant.webhook as WebhookOptions;
    this.outboxes.set(s, { hook, wsUri: this.wsUri(s.id), queue: [], busy: false, failed: false });
  }

  message(s: Session, data: ArrayBuffer, binary: boolean): void {
    const box = this.outboxes.get(s);
    if (box === undefined) return;
    if (box.queue.length >= box.hook.maxQueue) {
      this.ctx.log.warn({ conn: s.id, queued: box.queue.length }, 'webhook queue full: closing');
      s.closed = true;
      s.conn.end(closeCode[CloseReason.BackendSlow], closeText[CloseReason.BackendSlow]);
      return;
    }
    const buf = Buffer.from(data);
    const body = binary
      ? JSON.stringify({ ws_uri: box.wsUri, data: buf.toString('base64'), binary: true })
      : JSON.stringify({ ws_uri: box.wsUri, data: buf.toString('utf8') });
    box.queue.push(`PUT ${body}`);
    void this.pump(s, box);
  }

  error(s: Session, err: ProtocolError): void {
    this.ctx.log.info({ conn: s.id, err: err.message }, 'wsaas connection error');
  }

  close(s: Session): void {
    const box = this.outboxes.get(s);
    if (box === undefined) return;
    box.queue.push(`DELETE ${JSON.stringify({ ws_uri: box.wsUri })}`);
    void this.pump(s, box);
  }

  /** Sends queued calls one at a time, so the backend sees a connection's frames in order. */
  private async pump(s: Session, box: Outbox): Promise<void> {
    if (box.busy) return;
    box.busy = true;
    while (box.queue.length > 0) {
      const item = box.queue[0] as string;
      const space = item.indexOf(' ');
      const method = item.slice(0, space);
      if (box.failed && method === 'PUT') {
        box.queue.shift();
        continue;
      }
      try {
        const res = await this.call(box.hook, method, { headers: { 'content-type': 'application/json' }, body: item.slice(space + 1) });
        await res.body?.cancel();
      } catch (err) {
        this.ctx.log.warn({ conn: s.id, method, err: (err as Error).message }, 'webhook call failed');
        if (method === 'PUT') box.failed = true;
        if (method === 'PUT' && !s.closed) {
          s.closed = true;
          s.conn.end(closeCode[CloseReason.BackendError], closeText[CloseReason.BackendError]);
        }
      }
      box.queue.shift();
    }
    box.busy = false;
  }
}
