import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256(key: string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** base64(HMAC-SHA256(key, data)), standard alphabet with padding (the site dialect's form). */
export const hmacBase64 = (key: string, data: string): string => hmacSha256(key, data).toString('base64');

/** Lowercase hex HMAC-SHA256. */
export const hmacHex = (key: string, data: string): string => hmacSha256(key, data).toString('hex');

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
