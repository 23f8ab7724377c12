import type { TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, ProtocolError, bearerMatches, type ConnectionCommand, type ConnectionReply, type Req, type TenantRegistry } from '@switchyard/shared';
import type { ControlContext } from '../context.js';
import { routeFor } from './route.js';

/**
 * One connection, wherever it is held (a WSaaS ws_uri): PUT pushes the body to the client,
 * DELETE closes it, GET describes it. The bearer is checked here, against every tenant's
 * backend secret; the owning gateway is told only which tenants it proved (it never sees the
 * secret, nor does anyone reading the bus) and allows the command if the connection's tenant
 * is one. A connection that is gone answers 410.
 */
export function mountConnectionRoutes(app: TemplatedApp, ctx: ControlContext): void {
  const route = routeFor(app, ctx);
  const send = async (req: Req, op: ConnectionCommand['op'], extra: Partial<ConnectionCommand> = {}): Promise<ConnectionReply> => {
    const backendOf = backendTenants(ctx.tenants, req.headers.get('authorization') ?? '');
    const reply = await ctx.engine.connections.send({ op, conn: req.params[0] ?? '', backendOf, ...extra });
    if (reply.status === 'gone') throw new ProtocolError(ErrorCode.Gone, 'connection is closed or unknown');
    if (reply.status === 'unauthorized') throw new ProtocolError(ErrorCode.Unauthorized, "Authorization: Bearer <backendSecret> of the connection's tenant required");
    return reply;
  };

  route('put', '/v1/connections/:conn', async (req) => {
    const body = await req.body();
    const type = req.headers.get('content-type') ?? '';
    // Binary unless the body is declared as text or JSON (the seed's backends push JSON).
    const asText = type === '' || /^(text\/|application\/json)/i.test(type);
    await send(req, 'push', asText ? { text: body.toString('utf8') } : { binary: body.toString('base64') });
    return { status: 200, body: { status: 'ok' } };
  });

  route('del', '/v1/connections/:conn', async (req) => {
    await send(req, 'close');
    return { status: 200, body: { status: 'ok' } };
  });

  route('get', '/v1/connections/:conn', async (req) => {
    const reply = await send(req, 'info');
    return { status: 200, body: reply.status === 'ok' ? (reply.info ?? {}) : {} };
  });
}

/** The tenants whose backend secret `authorization` carries (`Bearer <secret>`), each compared in constant time. */
function backendTenants(tenants: TenantRegistry, authorization: string): string[] {
  const out: string[] = [];
  if (authorization === '') return out;
  for (const t of tenants.tenants.values()) if (bearerMatches(authorization, t.backendSecret)) out.push(t.id);
  return out;
}
