import type { TemplatedApp } from 'uWebSockets.js';
import {
  CloseReason,
  closeLabel,
  errorName,
  type ConnectionCommand,
  type ConnectionReply,
  type Engine,
  type Logger,
  type Metrics,
  type Origins,
  type ProtocolError,
  type Publisher,
  type TenantRegistry,
} from '@switchyard/shared';
import type { Dialect, DialectContext } from './core/dialect.js';
import { FaceTable } from './core/face.js';
import { Hub } from './core/hub.js';
import { Outbox } from './core/outbox.js';
import { CommandRunner } from './core/runner.js';
import type { Session } from './core/session.js';
import { createDialects } from './dialects/index.js';
import { OpenCounts } from './transport/open-counts.js';
import { SseDialect } from './dialects/sse.js';
import { mountSseEndpoint } from './transport/sse.js';
import { mountSocketEndpoint, type SocketLimits } from './transport/ws.js';

export interface GatewayOptions {
  readonly nodeId: string;
  readonly tenants: TenantRegistry;
  readonly engine: Engine;
  readonly publisher: Publisher;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly limits: SocketLimits & {
    readonly maxSubscriptions: number;
    /** Seconds a connection that must authenticate may stay open without it (0: no limit; default 10). */
    readonly authTimeoutSeconds?: number;
    /** Open connections one peer address may hold on this process (0 or absent: no limit). */
    readonly maxConnectionsPerIp?: number;
    /** Origins whose pages may open WebSockets and event streams (`--allowed-origins`; absent or empty: any). */
    readonly allowedOrigins?: Origins;
  };
  /** Origins whose pages may read event streams (`/v1/sse`) from another origin (`--cors-origins`; a tenant's `corsOrigins` overrides it). */
  readonly corsOrigins?: Origins;
  /** Base URL of the control API as backends reach it: WSaaS ws_uris start with it (read per connection). */
  readonly publicUrl: () => string;
  /** Idle timeout of WSaaS (/hook) connections, seconds (the seed's WS_TIMEOUT). */
  readonly hookIdleTimeoutSeconds: number;
}

/** How long a connection that must authenticate may stay open without it, by default (`--auth-timeout`). */
export const DEFAULT_AUTH_TIMEOUT_SECONDS = 10;

/** Frames a connection may have waiting while one of its commands is in progress. */
export const MAX_QUEUED_FRAMES = 256;

/** The gateway role: the dialects' WebSocket endpoints, the subscription hub, and the sessions they hold. */
export class Gateway {
  readonly hub: Hub;
  readonly dialects: readonly Dialect[];
  private readonly runner: CommandRunner;
  private readonly sessions = new Map<string, Session>();
  private readonly byDialect = new Map<string, number>();
  private onEmpty: (() => void) | undefined;
  /** The event streams' heartbeat. */
  private readonly heartbeat: { stop(): void };

  constructor(app: TemplatedApp, private readonly o: GatewayOptions) {
    const faces = new FaceTable();
    // Channel frames go through uWS pub/sub (one publish per face, written per connection in C++).
    const bus = { publish: (topic: string, frame: Uint8Array, binary: boolean) => void app.publish(topic, frame, binary, false) };
    const limits = { maxSubscriptions: o.limits.maxSubscriptions, maxBufferedBytes: o.limits.maxBufferedBytes };
    this.hub = new Hub(o.engine, faces, bus, limits, o.metrics.stats, o.log.child({ component: 'hub' }));
    const ctx: DialectContext = {
      nodeId: o.nodeId,
      tenants: o.tenants,
      hub: this.hub,
      faces,
      engine: o.engine,
      publisher: o.publisher,
      log: o.log,
      metrics: o.metrics,
      publicUrl: o.publicUrl,
    };
    this.dialects = createDialects(ctx, { hookIdleTimeoutSeconds: o.hookIdleTimeoutSeconds });
    // Every dialect's series from the start: a sum over an idle dialect is 0, not empty.
    for (const d of this.dialects) this.byDialect.set(d.name, 0);
    const runner = (this.runner = new CommandRunner(this.hub, o.publisher, o.metrics, o.log, {
      maxPayload: o.limits.maxPayload,
      maxQueued: MAX_QUEUED_FRAMES,
      authTimeoutMs: (o.limits.authTimeoutSeconds ?? DEFAULT_AUTH_TIMEOUT_SECONDS) * 1000,
    }));
    const hooks = {
      nodeId: o.nodeId,
      outbox: new Outbox(o.limits.maxBufferedBytes, this.hub.markSlow),
      onRefused: (err: ProtocolError) => o.metrics.errors.inc({ code: errorName[err.code] }),
      perAddress: new OpenCounts(),
      perTenant: new OpenCounts(),
      maxPerAddress: o.limits.maxConnectionsPerIp ?? 0,
      allowedOrigins: o.limits.allowedOrigins ?? [],
      onOpen: (s: Session) => {
        if (o.log.isLevelEnabled('debug')) o.log.debug({ conn: s.id, dialect: s.dialect.name, tenant: s.tenant.id }, 'connection open');
        this.sessions.set(s.id, s);
        this.byDialect.set(s.dialect.name, (this.byDialect.get(s.dialect.name) ?? 0) + 1);
        try {
          runner.open(s);
        } catch (err) {
          this.threw(s, err);
        }
      },
      onFrame: (s: Session, data: ArrayBuffer, binary: boolean) => {
        try {
          runner.frame(s, data, binary);
        } catch (err) {
          this.threw(s, err);
        }
      },
      onClose: (s: Session, code: number) => {
        o.metrics.closes.inc({ code: closeLabel(code) });
        if (o.log.isLevelEnabled('debug')) o.log.debug({ conn: s.id, subscriptions: s.subscriptions }, 'connection closed');
        this.sessions.delete(s.id);
        if (this.sessions.size === 0) this.onEmpty?.();
        this.byDialect.set(s.dialect.name, (this.byDialect.get(s.dialect.name) ?? 1) - 1);
        runner.closed(s);
      },
    };
    for (const d of this.dialects) mountSocketEndpoint(app, d, o.limits, hooks);
    const sse = new SseDialect(ctx, o.limits.maxSubscriptions);
    this.byDialect.set(sse.name, 0);
    const corsOrigins = o.corsOrigins ?? [];
    this.heartbeat = mountSseEndpoint(app, sse, hooks, { cors: (q) => o.tenants.tenants.get(q.get('tenant') ?? '')?.corsOrigins ?? corsOrigins });
    o.engine.connections.serve(o.nodeId, (cmd) => this.command(cmd));
    o.metrics.attachGateway({
      connectionsByDialect: () => this.byDialect,
      subscriptions: () => this.hub.subscriptions,
      channels: () => this.hub.channelCount,
    });
  }

  /** The runner answers every error itself; getting here is a bug, never a reason to crash. */
  private threw(s: Session, err: unknown): void {
    this.o.log.error({ err, conn: s.id, dialect: s.dialect.name }, 'dialect threw');
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** Open connections by dialect name, every dialect included (0 for an idle one). */
  connectionsByDialect(): ReadonlyMap<string, number> {
    return this.byDialect;
  }

  /** Subscriptions of open connections by dialect name: a pass over the connections, for the admin page's few samples a minute. */
  subscriptionsByDialect(): Map<string, number> {
    const out = new Map<string, number>();
    for (const d of this.byDialect.keys()) out.set(d, 0);
    for (const s of this.sessions.values()) out.set(s.dialect.name, (out.get(s.dialect.name) ?? 0) + s.subscriptions);
    return out;
  }

  /** Push, close and info for one of this node's connections (from any process, via the engine). */
  private command(cmd: ConnectionCommand): ConnectionReply {
    const s = this.sessions.get(cmd.conn);
    if (s === undefined || s.closed) return { status: 'gone' };
    const proven = cmd.backendOf.includes(s.tenant.id);
    const may = s.dialect.backendMay?.(s, proven) ?? proven;
    if (!may) return { status: 'unauthorized' };
    switch (cmd.op) {
      case 'push':
        if (s.dialect.pushFrame !== undefined) s.send(s.dialect.pushFrame(cmd.text, cmd.binary));
        else if (cmd.binary !== undefined) s.write(Buffer.from(cmd.binary, 'base64'), true);
        else s.write(cmd.text ?? '', false);
        return { status: 'ok' };
      case 'close':
        s.close(CloseReason.ClosedByBackend);
        return { status: 'ok' };
      case 'info':
        return {
          status: 'ok',
          info: {
            conn: s.id,
            tenant: s.tenant.id,
            dialect: s.dialect.name,
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

  /**
   * Closes every connection with `reason` (clients reconnect elsewhere and resume), spread
   * evenly over `spreadMs` so that they do not all come back in the same second (the rest at
   * once when `hurry` settles), then waits up to `graceMs` for the close handshakes.
   */
  async closeAll(graceMs: number, o: { reason?: CloseReason; spreadMs?: number; hurry?: Promise<void> } = {}): Promise<void> {
    const reason = o.reason ?? CloseReason.Shutdown;
    this.heartbeat.stop();
    await spreadOver([...this.sessions.values()], o.spreadMs ?? 0, o.hurry, (s) => s.close(reason));
    for (const s of [...this.sessions.values()]) s.close(reason); // any that opened meanwhile
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

/** How often a spread close wakes up to close the connections now due. */
const SPREAD_TICK_MS = 20;

/**
 * Calls `close` on every item, at an even rate over `spreadMs`: by time t, ⌈n·t/spreadMs⌉ of
 * them. The rest go at once when `hurry` settles. Resolves when all are closed.
 */
export async function spreadOver<T>(items: readonly T[], spreadMs: number, hurry: Promise<void> | undefined, close: (item: T) => void): Promise<void> {
  let hurried = spreadMs <= 0;
  void hurry?.then(() => (hurried = true));
  const start = Date.now();
  let done = 0;
  while (done < items.length) {
    const due = hurried ? items.length : Math.min(items.length, Math.ceil((items.length * (Date.now() - start)) / spreadMs));
    while (done < due) close(items[done++] as T);
    if (done < items.length) await Promise.race([new Promise((r) => setTimeout(r, SPREAD_TICK_MS)), hurry]);
  }
}
