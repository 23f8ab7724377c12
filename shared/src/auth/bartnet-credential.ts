import { ErrorCode, ProtocolError } from '../codes.js';
import type { Tenant, TenantRegistry } from '../model/tenant.js';
import { hmacSha256, purposeKey } from './hmac.js';
import { timingSafeEqual } from 'node:crypto';

/**
 * bartnet credentials (seed 000's `"HMAC": "1--iFplvAUtzi_veq_dMKPfnjtg_SQ="` shape):
 * `<expiry, unix seconds>--<base64url(tenant "\n" customer "\n" mac)>`, mac = HMAC-SHA256 with
 * the tenant secret's `bartnet-credential` key ([hmac.ts](./hmac.ts)) over `bartnet/v1\n<tenant>\n<customer>\n<expiry>`. Stateless: any node
 * verifies one, and the credential itself names the tenant (the `/bartnet` URL does not).
 */
/**
 * Customer ids: every character is one a NATS subject token keeps as it is, so a backend
 * publishing straight to `<prefix>.h.<tenant>.~.<customer>/<topic>` names the very subject
 * gateways listen on. A dot would be escaped (`%2E`) on our side and split the token on the
 * backend's: an acknowledged publish that no one would ever receive. So no dots.
 */
export const CUSTOMER_ID_RE = /^[A-Za-z0-9_@-]{1,128}$/;

const macOf = (tenant: Tenant, customer: string, exp: number): Buffer =>
  hmacSha256(purposeKey(tenant.secret, 'bartnet-credential'), `bartnet/v1\n${tenant.id}\n${customer}\n${exp}`);

export function issueBartnetCredential(tenant: Tenant, customer: string, nowMs = Date.now()): { credential: string; expires: number } {
  if (!CUSTOMER_ID_RE.test(customer)) {
    throw new ProtocolError(ErrorCode.BadRequest, 'customer_id must be 1-128 characters of A-Z a-z 0-9 _ @ - (no dots: they would split its NATS subject)');
  }
  const ttl = tenant.bartnet.credentialTtlSeconds;
  const exp = Math.ceil(nowMs / 1000) + ttl;
  const blob = Buffer.concat([Buffer.from(`${tenant.id}\n${customer}\n`, 'utf8'), macOf(tenant, customer, exp)]);
  return { credential: `${exp}--${blob.toString('base64url')}`, expires: ttl };
}

/** The tenant and customer a credential was issued for; throws `token_invalid` / `token_expired`. */
export function verifyBartnetCredential(
  tenants: TenantRegistry,
  credential: unknown,
  nowMs = Date.now(),
): { tenant: Tenant; customer: string } {
  const invalid = new ProtocolError(ErrorCode.TokenInvalid, 'invalid HMAC');
  if (typeof credential !== 'string' || credential.length > 1024) throw invalid;
  const m = /^(\d{1,12})--([A-Za-z0-9_-]+={0,2})$/.exec(credential);
  if (m === null) throw invalid;
  const exp = Number(m[1]);
  const blob = Buffer.from((m[2] as string).replace(/=+$/, ''), 'base64url');
  if (blob.length < 34) throw invalid;
  const mac = blob.subarray(blob.length - 32);
  const [tenantId, customer, rest] = blob.subarray(0, blob.length - 32).toString('utf8').split('\n');
  if (tenantId === undefined || customer === undefined || rest !== '') throw invalid;
  const tenant = tenants.tenants.get(tenantId);
  if (tenant === undefined || !CUSTOMER_ID_RE.test(customer)) throw invalid;
  if (!timingSafeEqual(mac, macOf(tenant, customer, exp))) throw invalid;
  if (exp * 1000 <= nowMs) throw new ProtocolError(ErrorCode.TokenExpired, 'HMAC expired');
  return { tenant, customer };
}
