import type { TemplatedApp } from 'uWebSockets.js';
import {
  ErrorCode,
  ProtocolError,
  isPlainObject,
  issueSiteToken,
  payloadText,
  resolveChannel,
  safeEqual,
  sitePostAuth,
  verifySiteToken,
  type ErrorFormatter,
  type NodeSnapshot,
  type Origins,
} from '@switchyard/shared';
import { requireAdmin, tenantOf } from '../auth.js';
import type { ControlContext } from '../context.js';
import { routeFor } from './route.js';

/** Seed 002's error form: 400 `{"status":"error","message":…}` (5xx kept for server faults). */
const siteError: ErrorFormatter = (e) => ({
  status: e.code === ErrorCode.Internal ? 500 : e.code === ErrorCode.Unavailable ? 503 : 400,
  body: { status: 'error', message: e.message },
});

/** The site dialect's REST face (seed 002): `GET /token`, `POST /post`, `GET /stats`. */
export function mountSiteRoutes(app: TemplatedApp, ctx: ControlContext): void {
  // Browser-facing (seed 002: the page asks /token itself); neither route takes a secret.
  const cors = (q: URLSearchParams): Origins => ctx.tenants.tenants.get(q.get('site') ?? '')?.corsOrigins ?? ctx.corsOrigins;
  const siteRoute = routeFor(app, ctx, { errorFormat: siteError, cors });

  siteRoute('get', '/token', (req) => {
    const site = tenantOf(ctx, req.query.get('site'), 'site');
    return { status: 200, body: issueSiteToken(site.id, site.secret) };
  });

  siteRoute('post', '/post', async (req) => {
    const site = tenantOf(ctx, req.query.get('site'), 'site');
    const body = await req.json();
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be a JSON object');
    const ref = resolveChannel(site, body.channel);
    verifySiteToken(site.id, site.secret, body.token);
    if (typeof body.auth !== 'string' || !safeEqual(body.auth, sitePostAuth(site.postSecret, body.token as string))) {
      throw new ProtocolError(ErrorCode.PermissionDenied, 'auth does not match token and post secret');
    }
    if (body.message === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'message is required');
    const m = await ctx.publisher.publish(ref, payloadText(body.message));
    // The seed answers {"status":"ok"}; the message's number is added as ord (site naming) and seq.
    return { status: 200, body: { status: 'ok', ord: m.seq, seq: m.seq } };
  });

  routeFor(app, ctx)('get', '/stats', async (req) => {
    requireAdmin(req, ctx);
    // In a cluster every node (this one included) answers with its own figures.
    let nodes = ctx.engine.nodes !== undefined ? await ctx.engine.nodes.gatherStats() : [];
    if (nodes.length === 0) nodes = [ctx.snapshot()];
    const sum = (f: (n: NodeSnapshot) => number): number => nodes.reduce((acc, n) => acc + f(n), 0);
    return {
      status: 200,
      body: {
        uptime: Math.floor((Date.now() - ctx.metrics.stats.startedAt) / 1000),
        memory: process.memoryUsage().rss,
        connections: sum((n) => n.connections),
        channels: sum((n) => n.channels),
        subscriptions: sum((n) => n.subscriptions),
        messages: { in: sum((n) => n.messagesIn), out: sum((n) => n.messagesOut) },
        bytes: { in: sum((n) => n.bytesIn), out: sum((n) => n.bytesOut) },
        nodes: nodes.map((n) => ({ node: n.node, role: n.role, connections: n.connections })),
      },
    };
  });
}
