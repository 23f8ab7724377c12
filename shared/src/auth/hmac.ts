import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256(key: string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** base64(HMAC-SHA256(key, data)), standard alphabet with padding (the site dialect's form). */
export const hmacBase64 = (key: string, data: string): string => hmacSha256(key, data).toString('base64');

/** Lowercase hex HMAC-SHA256. */
export const hmacHex = (key: string, data: string): string => hmacSha256(key, data).toString('hex');

/**
 * What each key Switchyard derives from a tenant secret signs. A signature made for one purpose
 * never verifies for another: the otter presence signature, for instance, used to be an HMAC
 * with the raw `secret`, so a presence string shaped like a JWT's signing input yielded a
 * native token. The seeds' own formulas (site channel `auth`, `/post` auth) keep the raw secret.
 */
export type KeyPurpose = 'native-token' | 'site-token' | 'otter-presence' | 'otter-backend' | 'bartnet-credential' | 'webhook-signature';

/**
 * The key for one purpose: lowercase hex of HMAC-SHA256(secret, `switchyard/<purpose>/v1`),
 * used as the HMAC key (its 64 ASCII characters). The labels hold no `.`, so no JWT signing
 * input and no other signed text Switchyard produces can equal one.
 */
export function purposeKey(secret: string, purpose: KeyPurpose): string {
  const id = `${purpose}\n${secret}`;
  let key = derived.get(id);
  if (key === undefined) {
    if (derived.size >= 4096) derived.clear(); // secrets change only with the tenants file: a bound, never a churn
    key = hmacHex(secret, `switchyard/${purpose}/v1`);
    derived.set(id, key);
  }
  return key;
}
const derived = new Map<string, string>();

/** Constant-time comparison of two strings; false on any length mismatch. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks an `Authorization: Bearer <secret>` header value in constant time. */
export function bearerMatches(header: string, secret: string): boolean {
  // An empty secret (a connection whose tenant is not known yet) never matches.
  return secret !== '' && header.startsWith('Bearer ') && safeEqual(header.slice(7).trim(), secret);
}
