import type { TemplatedApp } from 'uWebSockets.js';
import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  closeCode,
  errorName,
  closeText,
  type Engine,
  type Logger,
  type Metrics,
  type Publisher,
  type TenantRegistry,
  type Tenant,
  type ConnectionCommand,
  type ConnectionReply,
  UNBOUND_TENANT,
  bearerMatches,
} from '@switchyard/shared';
import { Hub } from './core/hub.js';
import type { Session } from './core/session.js';
import type { DialectContext } from './dialects/dialect.js';
import { nativeJsonFace, nativeMsgpackFace } from './dialects/native-faces.js';
import { NATIVE_JSON_PROTOCOL, NATIVE_MSGPACK_PROTOCOL, NativeDialect } from './dialects/native.js';
import { SiteDialect, siteFace } from './dialects/site.js';
import { BartnetDialect } from './dialects/bartnet.js';
import { OtterDialect, otterFace } from './dialects/otter.js';
import { WsaasDialect } from './dialects/wsaas.js';
import { MonorailDialect } from './dialects/monorail.js';
import { mountSocketEndpoint, type SocketLimits } from './transport/ws.js';

export interface GatewayOptions {
  readonly nodeId: string;
  readonly tenants: TenantRegistry;
  readonly engine: Engine;
  readonly publisher: Publisher;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly limits: SocketLimits & { readonly maxSubscriptions: number };
  /** Base URL of the control API as backends reach it: WSaaS ws_uris start with it (read per connection). */
  readonly publicUrl: () => string;
  /** Idle timeout of WSaaS (/hook) connections, seconds (the seed's WS_TIMEOUT). */
  readonly hookIdleTimeoutSeconds: number;
}

/** Paths of the WebSocket endpoints. */
export const NATIVE_PATH = '/v1/ws';
export const SITE_PATH = '/ws';
export const BARTNET_PATH = '/bartnet';
export const OTTER_PATH = '/otter';
export const HOOK_PATH = '/hook/*';
export const MONORAIL_PATH = '/monorail/*';

/** The gateway role: WebSocket endpoints, the subscription hub, and the sessions they hold. */
export class Gateway {
  readonly hub: Hub;
  private readonly sessions = new Map<string, Session>();
  private readonly byDialect = new Map<string, number>();
  private onEmpty: (() => void) | undefined;

  constructor(app: TemplatedApp, private readonly o: GatewayOptions) {
    this.hub = new Hub(o.engine, { maxSubscriptions: o.limits.maxSubscriptions }, o.metrics.stats, o.log.child({ component: 'hub' }));
    const ctx: DialectContext = { nodeId: o.nodeId, hub: this.hub, publisher: o.publisher, metrics: o.metrics, log: o.log };
    const native = new NativeDialect(ctx);
    const site = new SiteDialect(ctx);
    const bartnet = new BartnetDialect(ctx, o.tenants);
    const otter = new OtterDialect(ctx);
    const wsaas = new WsaasDialect(ctx, o.publicUrl);
    const monorail = new MonorailDialect(ctx, o.engine);
    const hooks = {
      nodeId: o.nodeId,
      log: o.log,
      markSlow: this.hub.markSlow,
      onRefused: (err: ProtocolError) => o.metrics.errors.inc({ code: errorName[err.code] }),
      onOpen: (s: Session) => {
        if (o.log.isLevelEnabled('debug')) o.log.debug({ conn: s.id, dialect: s.dialect, tenant: s.tenant.id }, 'connection open');
        this.sessions.set(s.id, s);
        this.byDialect.set(s.dialect, (this.byDialect.get(s.dialect) ?? 0) + 1);
      },
      onClose: (s: Session) => {
        if (o.log.isLevelEnabled('debug')) o.log.debug({ conn: s.id, subscriptions: s.subscriptions }, 'connection closed');
        this.sessions.delete(s.id);
        if (this.sessions.size === 0) this.onEmpty?.();
        this.byDialect.set(s.dialect, (this.byDialect.get(s.dialect) ?? 1) - 1);
        this.hub.removeSession(s);
      },
    };
    mountSocketEndpoint(
      app,
      NATIVE_PATH,
      (u) => {
        const tenant = this.tenant(u.query.get('tenant'), 'tenant');
        const msgpack = u.protocols.includes(NATIVE_MSGPACK_PROTOCOL);
        const json = u.protocols.includes(NATIVE_JSON_PROTOCOL);
        return {
          tenant,
          dialect: native,
          face: msgpack ? nativeMsgpackFace : nativeJsonFace,
          protocol: msgpack ? NATIVE_MSGPACK_PROTOCOL : json ? NATIVE_JSON_PROTOCOL : '',
        };
      },
      o.limits,
      hooks,
    );
    mountSocketEndpoint(
      app,
      SITE_PATH,
      (u) => ({ tenant: this.tenant(u.query.get('site'), 'site'), dialect: site, face: siteFace, protocol: '' }),
      o.limits,
      hooks,
    );
    mountSocketEndpoint(
      app,
      BARTNET_PATH,
      // The tenant follows from the credential of the first `authenticate`.
      () => ({ tenant: UNBOUND_TENANT, dialect: bartnet, face: bartnet.face, protocol: '' }),
      o.limits,
      hooks,
    );
    mountSocketEndpoint(
      app,
      OTTER_PATH,
      (u) => ({ tenant: this.tenant(u.query.get('tenant'), 'tenant'), dialect: otter, face: otterFace, protocol: '' }),
      o.limits,
      hooks,
    );
    mountSocketEndpoint(
      app,
      HOOK_PATH,
      (u) => wsaas.admit(this.hookTenant(u.query.get('tenant')), u.path, u.authorization),
      { ...o.limits, idleTimeoutSeconds: o.hookIdleTimeoutSeconds },
      hooks,
    );
    mountSocketEndpoint(
      app,
      MONORAIL_PATH,
      (u) => {
        const tenant = this.tenant(u.query.get('tenant'), 'tenant');
        const resource = monorail.resourceOf(tenant, u.path);
        return { tenant, dialect: monorail, face: monorail.face, protocol: '', bind: (s) => monorail.bind(s, resource) };
      },
      o.limits,
      hooks,
    );
    o.engine.connections.serve(o.nodeId, (cmd) => this.command(cmd));
    o.metrics.attachGateway({
      connectionsByDialect: () => this.byDialect,
      subscriptions: () => this.hub.subscriptions,
      channels: () => this.hub.channelCount,
    });
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** `?tenant=ID`, or the only tenant with a webhook (the seed's single-tenant deployments). */
  private hookTenant(id: string | null): Tenant {
    if (id !== null && id !== '') return this.tenant(id, 'tenant');
    const hooked = [...this.o.tenants.tenants.values()].filter((t) => t.webhook !== undefined);
    if (hooked.length !== 1) throw new ProtocolError(ErrorCode.BadRequest, 'query parameter tenant is required');
    return hooked[0] as Tenant;
  }

  /** Push, close and info for one of this node's connections (from any process, via the engine). */
  private command(cmd: ConnectionCommand): ConnectionReply {
    const s = this.sessions.get(cmd.conn);
    if (s === undefined || s.closed) return { status: 'gone' };
    const needsBearer = s.tenant.webhook === undefined || s.tenant.webhook.requireBearer || s.dialect !== 'wsaas';
    if (needsBearer && !bearerMatches(cmd.authorization, s.tenant.backendSecret)) return { status: 'unauthorized' };
    switch (cmd.op) {
      case 'push':
        if (cmd.binary !== undefined) s.write(Buffer.from(cmd.binary, 'base64'), true);
        else s.write(cmd.text ?? '', false);
        return { status: 'ok' };
      case 'close':
        s.closed = true;
        s.conn.end(closeCode[CloseReason.ClosedByBackend], closeText[CloseReason.ClosedByBackend]);
        return { status: 'ok' };
      case 'info':
        return {
          status: 'ok',
          info: {
            conn: s.id,
            tenant: s.tenant.id,
            dialect: s.dialect,
            node: this.o.nodeId,
            connectedAt: new Date(s.openedAt).toISOString(),
            subscriptions: s.subscriptions,
            ...(s.user !== undefined ? { user: s.user } : {}),
          },
        };
      default:
        return { status: 'gone' };
    }
  }

  private tenant(id: string | null, param: string): Tenant {
    if (id === null || id === '') throw new ProtocolError(ErrorCode.BadRequest, `query parameter ${param} is required`);
    const t = this.o.tenants.tenants.get(id);
    if (t === undefined) throw new ProtocolError(ErrorCode.UnknownTenant, `unknown ${param} '${id.slice(0, 64)}'`);
    return t;
  }

  /**
   * Closes every connection with the shutdown code (clients reconnect elsewhere and resume),
   * then waits up to `graceMs` for their close handshakes.
   */
  async closeAll(graceMs: number): Promise<void> {
    for (const s of [...this.sessions.values()]) {
      s.closed = true;
      s.conn.end(closeCode[CloseReason.Shutdown], closeText[CloseReason.Shutdown]);
    }
    if (this.sessions.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.onEmpty = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
