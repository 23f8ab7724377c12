import type { TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, ProtocolError, bearerMatches, isPlainObject, issueBartnetCredential, type Tenant } from '@switchyard/shared';
import { requireBackend, tenantOf } from '../auth.js';
import type { ControlContext } from '../context.js';
import { routeFor } from './route.js';

/**
 * bartnet's authorize endpoint (seed 000): a tenant's backend asks for a customer's
 * credential and hands it to its websocket client. The tenant is the one whose backendSecret
 * the bearer carries (or `tenant` in the body, when several share a secret).
 */
export function mountBartnetRoutes(app: TemplatedApp, ctx: ControlContext): void {
  routeFor(app, ctx)('post', '/bartnet/authorize', async (req) => {
    const body = await req.json();
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be a JSON object with customer_id');
    let tenant: Tenant | undefined;
    if (body.tenant !== undefined) {
      tenant = tenantOf(ctx, body.tenant);
      requireBackend(req, tenant);
    } else {
      const h = req.headers.get('authorization') ?? '';
      const matching = [...ctx.tenants.tenants.values()].filter((t) => bearerMatches(h, t.backendSecret));
      if (matching.length === 0) throw new ProtocolError(ErrorCode.Unauthorized, 'Authorization: Bearer <backendSecret> of a tenant required');
      if (matching.length > 1) throw new ProtocolError(ErrorCode.BadRequest, 'several tenants share this backendSecret: name the tenant in the body');
      tenant = matching[0] as Tenant;
    }
    if (typeof body.customer_id !== 'string') throw new ProtocolError(ErrorCode.BadRequest, 'customer_id must be a string');
    const { credential, expires } = issueBartnetCredential(tenant, body.customer_id);
    return { status: 200, body: { HMAC: credential, expires } };
  });
}
