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
  const siteRoute = routeFor(app, ctx, { errorFormat: siteError });

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
    return { status: 200, body: { status: 'ok', ord: m.seq } };
  });

  routeFor(app, ctx)('get', '/stats', (req) => {
    requireAdmin(req, ctx);
    const s = ctx.metrics.stats;
    const g = ctx.gateway;
    return {
      status: 200,
      body: {
        uptime: Math.floor((Date.now() - s.startedAt) / 1000),
        memory: process.memoryUsage().rss,
        connections: g?.connections() ?? 0,
        channels: g?.channels() ?? 0,
        subscriptions: g?.subscriptions() ?? 0,
        messages: { in: s.messagesIn, out: s.messagesOut },
        bytes: { in: s.bytesIn, out: s.bytesOut },
      },
    };
  });
}
