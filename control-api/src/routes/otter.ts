import type { TemplatedApp } from 'uWebSockets.js';
import { resolveChannel } from '@switchyard/shared';
import { requireBackend, tenantOf } from '../auth.js';
import type { ControlContext } from '../context.js';
import { routeFor } from './route.js';

/** otter's REST face (seed 004): the clients subscribed to a channel, across the cluster. */
export function mountOtterRoutes(app: TemplatedApp, ctx: ControlContext): void {
  routeFor(app, ctx)('get', '/otter/channels/:channel/clients', async (req) => {
    const tenant = tenantOf(ctx, req.query.get('tenant'));
    requireBackend(req, tenant);
    const ref = resolveChannel(tenant, req.params[0]);
    const entries = await ctx.engine.presence.list(ref);
    return {
      status: 200,
      body: {
        channel: ref.name,
        clients: entries.map((e) => (e.info === undefined ? { id: e.conn } : { id: e.conn, presence: e.info })),
      },
    };
  });
}
