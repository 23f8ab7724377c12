import { ErrorCode, ProtocolError, bearerMatches, findTenant, type Req, type Tenant } from '@switchyard/shared';
import type { ControlContext } from './context.js';

/** The tenant named by `id`, or `unknown_tenant` / `bad_request`. */
export function tenantOf(ctx: ControlContext, id: unknown, what = 'tenant'): Tenant {
  return findTenant(ctx.tenants, id, what);
}

/** Requires `Authorization: Bearer <tenant backendSecret>`. */
export function requireBackend(req: Req, tenant: Tenant): void {
  const h = req.headers.get('authorization');
  if (h === undefined) throw new ProtocolError(ErrorCode.Unauthorized, 'Authorization: Bearer <backendSecret> required');
  if (!bearerMatches(h, tenant.backendSecret)) throw new ProtocolError(ErrorCode.Unauthorized, 'bearer token does not match the tenant backendSecret');
}

/** Requires `Authorization: Bearer <adminToken>`. */
export function requireAdmin(req: Req, ctx: ControlContext): void {
  const h = req.headers.get('authorization');
  if (h === undefined || !bearerMatches(h, ctx.tenants.adminToken)) {
    throw new ProtocolError(ErrorCode.Unauthorized, 'Authorization: Bearer <adminToken> required');
  }
}
