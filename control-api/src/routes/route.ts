import type { TemplatedApp } from 'uWebSockets.js';
import { errorName, route, type Handler, type RouteOptions } from '@switchyard/shared';
import type { ControlContext } from '../context.js';

/** `route` bound to the app, with the body limit and error counting of the control API. */
export function routeFor(app: TemplatedApp, ctx: ControlContext, extra: RouteOptions = {}) {
  const opts: RouteOptions = {
    // A publish body carries the payload plus its envelope.
    maxBody: ctx.maxPayload + 4096,
    onError: (e) => ctx.metrics.errors.inc({ code: errorName[e.code] }),
    ...extra,
  };
  return (method: 'get' | 'post' | 'put' | 'del', pattern: string, handler: Handler): void =>
    route(app, method, pattern, handler, ctx.log, opts);
}
