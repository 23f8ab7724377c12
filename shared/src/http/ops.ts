import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { route } from './server.js';

/** What `/readyz` and `/metrics` answer; a multi-threaded process gathers them from every thread. */
export interface OpsSource {
  ready(): boolean | Promise<boolean>;
  /** The Prometheus exposition text. */
  metrics(): Promise<string>;
}

/** The source of a single-threaded process: its own readiness and registry. */
export const localOps = (ready: () => boolean, metrics: Metrics): OpsSource => ({
  ready,
  metrics: () => metrics.registry.metrics(),
});

/** `/healthz` (the process runs), `/readyz` (it can serve: engine reachable, not draining), `/metrics`. */
export function mountOps(app: TemplatedApp, ops: OpsSource, log: Logger): void {
  route(app, 'get', '/healthz', () => ({ status: 200, body: { status: 'ok' } }), log);
  route(app, 'get', '/readyz', async () => ((await ops.ready()) ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: 'not ready' } }), log);
  route(app, 'get', '/metrics', async () => ({ status: 200, text: await ops.metrics(), contentType: METRICS_CONTENT_TYPE }), log);
}

/** Prometheus text exposition format 0.0.4 (what prom-client's registries produce). */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
