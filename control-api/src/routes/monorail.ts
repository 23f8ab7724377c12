import type { TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, ProtocolError, isPlainObject, monorailBroadcastChannel, payloadText, type CollectionRef, type Req, type Tenant } from '@switchyard/shared';
import { requireBackend, tenantOf } from '../auth.js';
import type { ControlContext } from '../context.js';
import { routeFor } from './route.js';

/**
 * MonoRail's backend face (seed 001): write a collection's items (watchers on every gateway
 * see each change) and broadcast a frame to all connections of a resource, or some of them.
 */
export function mountMonorailRoutes(app: TemplatedApp, ctx: ControlContext): void {
  const route = routeFor(app, ctx);
  const resource = (req: Req): { tenant: Tenant; name: string } => {
    const tenant = tenantOf(ctx, req.query.get('tenant'));
    requireBackend(req, tenant);
    const name = req.params[0] ?? '';
    if (!tenant.monorail.has(name)) throw new ProtocolError(ErrorCode.NotFound, `unknown resource '${name.slice(0, 64)}'`);
    return { tenant, name };
  };
  const collection = (req: Req): { c: CollectionRef; idField: string } => {
    const { tenant, name } = resource(req);
    const r = tenant.monorail.get(name);
    if (r?.type !== 'collection') throw new ProtocolError(ErrorCode.BadRequest, `resource '${name}' is a topic: publish to its channel instead`);
    return { c: { tenant: tenant.id, resource: name }, idField: r.idField };
  };

  route('put', '/v1/monorail/:resource/items/:id', async (req) => {
    const { c, idField } = collection(req);
    const id = req.params[1] ?? '';
    const body = await req.json();
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'an item must be a JSON object');
    // The stored item always carries its id, as watchers and get expect.
    const item = { ...body, [idField]: id };
    const revision = await ctx.engine.collections.put(c, id, payloadText(item));
    return { status: 200, body: { resource: c.resource, id, revision } };
  });

  route('get', '/v1/monorail/:resource/items/:id', async (req) => {
    const { c } = collection(req);
    const item = await ctx.engine.collections.get(c, req.params[1] ?? '');
    if (item === null) throw new ProtocolError(ErrorCode.NotFound, 'no such item');
    return { status: 200, body: JSON.parse(item) as unknown };
  });

  route('del', '/v1/monorail/:resource/items/:id', async (req) => {
    const { c } = collection(req);
    if (!(await ctx.engine.collections.remove(c, req.params[1] ?? ''))) throw new ProtocolError(ErrorCode.NotFound, 'no such item');
    return { status: 200, body: { status: 'ok' } };
  });

  route('get', '/v1/monorail/:resource/items', async (req) => {
    const { c } = collection(req);
    const items = await ctx.engine.collections.items(c);
    return { status: 200, body: { resource: c.resource, items: items.map((x) => JSON.parse(x.item) as unknown) } };
  });

  route('post', '/v1/monorail/:resource/broadcast', async (req) => {
    const { tenant, name } = resource(req);
    const body = await req.json();
    if (!isPlainObject(body) || body.message === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'body must be {"message": <frame>, "connections"?: [ids]}');
    const to = body.connections;
    if (to !== undefined && (!Array.isArray(to) || !to.every((x) => typeof x === 'string'))) {
      throw new ProtocolError(ErrorCode.BadRequest, 'connections must be an array of connection ids');
    }
    const data = payloadText(to === undefined ? { message: body.message } : { message: body.message, to });
    await ctx.publisher.publish(monorailBroadcastChannel(tenant.id, name), data);
    return { status: 200, body: { status: 'ok' } };
  });
}
