import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  findTenant,
  signWebhook,
  WEBHOOK_SIGNATURE_HEADER,
  type Tenant,
  type TenantRegistry,
  type WebhookOptions,
} from '@switchyard/shared';
import type { Command } from '../core/commands.js';
import type { Admission, Dialect, DialectContext, UpgradeInfo } from '../core/dialect.js';
import { newConnectionId, type Session } from '../core/session.js';

export const HOOK_PATH = '/hook/*';

interface Outbox {
  readonly hook: WebhookOptions;
  readonly wsUri: string;
  /** Bodies waiting for their PUT, oldest first; the DELETE goes last. */
  readonly queue: string[];
  busy: boolean;
  /** A PUT failed and the connection was closed: later PUTs are dropped, the DELETE still goes. */
  failed: boolean;
}

/** A client frame, copied out of the socket's buffer. */
export interface WsaasRequest {
  readonly data: Buffer;
  readonly binary: boolean;
}

/** The path of a connection's ws_uri on the control API. */
export const CONNECTIONS_PATH = '/v1/connections/';

/**
 * WebSocket as a service (seed 003, docs/dialects/wsaas.md): the backend never holds a
 * socket. Connect → POST {ws_uri} to the tenant's webhook (only {"code":"OK"} admits);
 * each client frame → PUT, in order, through a bounded queue; close → DELETE. The backend
 * pushes, closes and inspects through the ws_uri on the control API.
 */
export class WsaasDialect implements Dialect<WsaasRequest> {
  readonly name = 'wsaas';
  readonly path = HOOK_PATH;

  constructor(
    private readonly ctx: DialectContext,
    /** Idle timeout of WSaaS connections, seconds (the seed's WS_TIMEOUT). */
    readonly idleTimeoutSeconds: number,
  ) {}

  /** The connection's URL on the control API (the base is the seed's WS_HOSTNAME). */
  wsUri(conn: string): string {
    return `${this.ctx.publicUrl()}${CONNECTIONS_PATH}${encodeURIComponent(conn)}`;
  }

  /** Asks the backend before the upgrade completes; resolves with the admission or refuses. */
  async admit(u: UpgradeInfo): Promise<Admission> {
    const tenant = hookTenant(this.ctx.tenants, u.query.get('tenant'));
    const { path, authorization } = u;
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
    const box: Outbox = { hook, wsUri, queue: [], busy: false, failed: false };
    return {
      tenant,
      face: undefined, // no channel messages: only pushes through the ws_uri reach it
      protocol: '',
      connId,
      state: box,
      // Accepted by the backend but the client left before the upgrade: tell the backend.
      abandoned: () => void this.call(hook, 'DELETE', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ws_uri: wsUri }) }).catch(() => {}),
    };
  }

  /**
   * One webhook call, signed (`Switchyard-Signature`, signed when sent, so a PUT that waited in
   * the queue is fresh) and bounded by the tenant's timeout; HTTP errors and timeouts become
   * ProtocolErrors.
   */
  private async call(hook: WebhookOptions, method: string, init: { headers: Record<string, string>; body: string }): Promise<Response> {
    const done = this.ctx.metrics.webhookSeconds.startTimer({ method });
    const headers = { ...init.headers, [WEBHOOK_SIGNATURE_HEADER]: signWebhook(hook.signingKeys, method, init.body, Math.floor(Date.now() / 1000)) };
    let res: Response;
    try {
      res = await fetch(hook.url, { method, headers, body: init.body, signal: AbortSignal.timeout(hook.timeoutMs) });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      done({ outcome: timedOut ? 'timeout' : 'unreachable' });
      throw new ProtocolError(
        timedOut ? ErrorCode.BackendTimeout : ErrorCode.BackendError,
        timedOut ? `backend did not answer within ${hook.timeoutMs} ms` : 'backend unreachable',
      );
    }
    done({ outcome: res.ok ? 'ok' : 'http_error' }); // the answer's head: what the backend took
    if (!res.ok) {
      await res.body?.cancel();
      throw new ProtocolError(ErrorCode.BackendError, `backend answered HTTP ${res.status}`);
    }
    return res;
  }

  open(): undefined {
    // The backend greets, if it wants, by a PUT to the ws_uri.
    return undefined;
  }

  parse(data: ArrayBuffer, binary: boolean): WsaasRequest {
    return { data: Buffer.from(data.slice(0)), binary };
  }

  /**
   * Every frame goes up to the backend as a PUT, in order, through the connection's bounded
   * outbox; the core has nothing to do with it. A full outbox closes the connection (4102).
   */
  command(s: Session, req: WsaasRequest): Command {
    const box = s.state as Outbox;
    if (box.queue.length >= box.hook.maxQueue) {
      this.ctx.log.warn({ conn: s.id, queued: box.queue.length }, 'webhook queue full: closing');
      s.close(CloseReason.BackendSlow);
      return { op: 'local' };
    }
    const body = req.binary
      ? JSON.stringify({ ws_uri: box.wsUri, data: req.data.toString('base64'), binary: true })
      : JSON.stringify({ ws_uri: box.wsUri, data: req.data.toString('utf8') });
    box.queue.push(`PUT ${body}`);
    void this.pump(s, box);
    return { op: 'local' };
  }

  reply(): undefined {
    return undefined;
  }

  /** No frame can carry an error to a WSaaS client (its frames belong to the backend): logged. */
  error(s: Session, _req: WsaasRequest | undefined, err: ProtocolError): undefined {
    this.ctx.log.info({ conn: s.id, err: err.message }, 'wsaas connection error');
    return undefined;
  }

  closed(s: Session): void {
    const box = s.state as Outbox;
    box.queue.push(`DELETE ${JSON.stringify({ ws_uri: box.wsUri })}`);
    void this.pump(s, box);
  }

  /** A backend needs the bearer only when the tenant's webhook asks for it (the seed's ws_uri is the capability). */
  backendMay(s: Session, proven: boolean): boolean {
    return s.tenant.webhook?.requireBearer === false || proven;
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
        if (method === 'PUT' && !s.closed) s.close(CloseReason.BackendError);
      }
      box.queue.shift();
    }
    box.busy = false;
  }
}

/** `?tenant=ID`, or the only tenant with a webhook (the seed's single-tenant deployments). */
function hookTenant(tenants: TenantRegistry, id: string | null): Tenant {
  if (id !== null && id !== '') return findTenant(tenants, id, 'tenant', 'query parameter tenant is required');
  const hooked = [...tenants.tenants.values()].filter((t) => t.webhook !== undefined);
  if (hooked.length !== 1) throw new ProtocolError(ErrorCode.BadRequest, 'query parameter tenant is required');
  return hooked[0] as Tenant;
}
