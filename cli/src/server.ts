import { hostname } from 'node:os';
import { App, LIBUS_LISTEN_EXCLUSIVE_PORT, us_listen_socket_close, us_socket_local_port, type us_listen_socket } from 'uWebSockets.js';
import {
  CloseReason,
  Publisher,
  createMetrics,
  localOps,
  mountOps,
  type Engine,
  type Metrics,
  type OpsSource,
  type Logger,
  type NodeSnapshot,
  type Origins,
  type StatsQuery,
  type TenantRegistry,
} from '@switchyard/shared';
import { Gateway, type GatewayOptions } from '@switchyard/gateway';
import { mountControlApi } from '@switchyard/control-api';
import { embeddedEngine } from './engine.js';

export type Role = 'dev' | 'gateway' | 'control-api';

export interface ServerOptions {
  readonly role: Role;
  readonly host: string;
  /** 0 = any free port; the chosen one is in `RunningServer.port`. */
  readonly port: number;
  readonly nodeId: string;
  readonly tenants: TenantRegistry;
  readonly limits: GatewayOptions['limits'];
  readonly log: Logger;
  /** Defaults to a new embedded engine (single node). */
  readonly engine?: Engine;
  /** Base URL of the control API for backends (WSaaS ws_uri); default: this server's own URL. */
  readonly publicUrl?: string;
  /** Idle timeout of WSaaS connections, seconds; default: `limits.idleTimeoutSeconds`. */
  readonly hookIdleTimeoutSeconds?: number;
  /** Origins whose pages may call the browser-facing REST routes (`--cors-origins`); default none. */
  readonly corsOrigins?: Origins;
  /**
   * Run as one thread of a multi-threaded process: no listening socket of its own (the main
   * thread's acceptor hands it connections), no process-wide metrics, and `/readyz` and
   * `/metrics` answered for the whole process by `gather`.
   */
  readonly thread?: { readonly gather: (local: OpsSource) => OpsSource };
}

export interface RunningServer {
  readonly port: number;
  /** http://host:port, with a loopback host when listening on every interface. */
  readonly url: string;
  readonly gateway: Gateway | undefined;
  readonly engine: Engine;
  readonly metrics: Metrics;
  /** A thread's app, for the main thread's acceptor (`addChildAppDescriptor`); only with `thread`. */
  readonly descriptor: unknown;
  /** A thread learns the process's URL once the main thread listens. */
  setUrl(url: string): void;
  /** Whether this server can serve (engine reachable, not draining). */
  ready(): boolean;
  /**
   * Ordered shutdown: not ready, stop accepting, close sessions, close the engine. Without a
   * drain, at once and with 1001; with one (SIGTERM), `/readyz` turns 503 at once, the server
   * keeps serving for `delayMs` (load balancers see it go), then closes its connections with
   * 1012 spread evenly over `spreadMs`.
   */
  close(drain?: Drain): Promise<void>;
  /** Cuts a drain short: what is left of the delay and of the spread goes at once. */
  hurry(): void;
}

/** A graceful stop's timing (`--drain-delay`, `--drain-seconds`). */
export interface Drain {
  readonly delayMs: number;
  readonly spreadMs: number;
}

/** Waits out a drain's delay (still serving, not ready), or less once `hurried` settles. */
export async function drainDelay(drain: Drain | undefined, hurried: Promise<void>): Promise<void> {
  if (drain === undefined || drain.delayMs <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((r) => (timer = setTimeout(r, drain.delayMs))), hurried]);
  clearTimeout(timer);
}

/** Starts one Switchyard process: the roles it runs share one uWS app and one port. */
export async function startServer(o: ServerOptions): Promise<RunningServer> {
  const engine: Engine = o.engine ?? embeddedEngine(o.tenants);
  const metrics = createMetrics(o.role, { processMetrics: o.thread === undefined });
  const publisher = new Publisher(engine, metrics, o.limits.maxPayload);
  metrics.counter('switchyard_broker_reconnects_total', 'Times the connection to NATS came back after a loss (0 on the embedded engine).', () => engine.reconnects);
  const app = App();
  let draining = false;
  let url = '';

  const gateway =
    o.role === 'control-api'
      ? undefined
      : new Gateway(app, {
          nodeId: o.nodeId,
          tenants: o.tenants,
          engine,
          publisher,
          metrics,
          log: o.log.child({ component: 'gateway' }),
          limits: o.limits,
          corsOrigins: o.corsOrigins ?? [],
          publicUrl: () => o.publicUrl ?? url,
          hookIdleTimeoutSeconds: o.hookIdleTimeoutSeconds ?? o.limits.idleTimeoutSeconds,
        });
  const s = metrics.stats;
  const ready = (): boolean => !draining && engine.ready();
  const host = hostname();
  // Answers `GET /stats` and the admin page (every node of a cluster, over NATS). The busiest
  // channels cost a pass over the node's channels: only when asked for.
  const snapshot = (q: StatsQuery = {}): NodeSnapshot => {
    const mem = process.memoryUsage();
    return {
      node: o.nodeId,
      role: o.role,
      connections: gateway?.connections ?? 0,
      channels: gateway?.hub.channelCount ?? 0,
      subscriptions: gateway?.hub.subscriptions ?? 0,
      messagesIn: s.messagesIn,
      messagesOut: s.messagesOut,
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      ready: ready(),
      draining,
      startedAt: s.startedAt,
      at: Date.now(),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      pid: process.pid,
      host,
      dialects: gateway === undefined ? {} : Object.fromEntries(gateway.connectionsByDialect()),
      dialectSubscriptions: gateway === undefined ? {} : Object.fromEntries(gateway.subscriptionsByDialect()),
      ...(gateway !== undefined && q.top !== undefined && q.top > 0 ? { busiest: gateway.hub.busiest(q.top, q.tenant) } : {}),
    };
  };
  engine.nodes?.serveStats(snapshot);
  if (o.role !== 'gateway') {
    mountControlApi(app, {
      tenants: o.tenants,
      engine,
      publisher,
      metrics,
      log: o.log.child({ component: 'control-api' }),
      maxPayload: o.limits.maxPayload,
      corsOrigins: o.corsOrigins ?? [],
      snapshot,
    });
  }
  engine.registerMetrics(metrics);
  const local = localOps(ready, metrics);
  mountOps(app, o.thread === undefined ? local : o.thread.gather(local), o.log);
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').writeHeader('content-type', 'application/json');
    res.end(JSON.stringify({ code: 'not_found', message: 'no such endpoint' }));
  });

  let listenSocket: us_listen_socket | undefined;
  let port = 0;
  if (o.thread === undefined) {
    const ls = await new Promise<us_listen_socket>((resolve, reject) => {
      // Exclusive: a second process on a busy port must fail, not silently share it (SO_REUSEPORT).
      app.listen(o.host, o.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (s) => {
        if (s) resolve(s);
        else reject(new Error(`cannot listen on ${o.host}:${o.port} (in use, or not a local address)`));
      });
    }).catch(async (err: unknown) => {
      // Nothing may keep a process that failed to start alive (a NATS connection would).
      app.close();
      await engine.close();
      throw err;
    });
    listenSocket = ls;
    port = us_socket_local_port(ls);
    url = localUrl(o.host, port);
    o.log.info({ role: o.role, port, url, engine: engine.kind }, `switchyard ${o.role} listening on ${url}`);
  }

  let closing: Promise<void> | undefined;
  let hurry: () => void = () => {};
  const hurried = new Promise<void>((resolve) => (hurry = resolve));
  return {
    port,
    get url() {
      return url;
    },
    gateway,
    engine,
    metrics,
    descriptor: o.thread === undefined ? undefined : app.getDescriptor(),
    setUrl(u) {
      url = u;
    },
    ready,
    close(drain) {
      closing ??= (async () => {
        draining = true;
        await drainDelay(drain, hurried);
        if (listenSocket !== undefined) us_listen_socket_close(listenSocket);
        if (gateway !== undefined) {
          await gateway.closeAll(1000, drain === undefined ? {} : { reason: CloseReason.Restart, spreadMs: drain.spreadMs, hurry: hurried });
        }
        // Ends idle keep-alive HTTP connections too, so the process can exit.
        app.close();
        await engine.close();
      })();
      return closing;
    },
    hurry,
  };
}

/** http://host:port, with a loopback host when listening on every interface. */
export function localUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}
