import type { TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { route } from './server.js';

/** `/healthz` (the process runs), `/readyz` (it can serve: engine reachable, not draining), `/metrics`. */
export function mountOps(app: TemplatedApp, ready: () => boolean, metrics: Metrics, log: Logger): void {
  route(app, 'get', '/healthz', () => ({ status: 200, body: { status: 'ok' } }), log);
  route(app, 'get', '/readyz', () => (ready() ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: 'not ready' } }), log);
  route(
    app,
    'get',
    '/metrics',
    async () => ({ status: 200, text: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
    log,
  );
}
