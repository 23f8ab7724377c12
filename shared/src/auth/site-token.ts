import { randomBytes } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../codes.js';
import { hmacBase64, hmacSha256, purposeKey, safeEqual } from './hmac.js';

/**
 * Site-dialect tokens (seed 002, `GET /token`). Stateless so that any node can verify one:
 * token = base64(`<site>.<expiresAtSeconds>.<nonce>.<mac>`), mac = base64url of
 * HMAC-SHA256(the tenant secret's `site-token` key, the first three fields). The derived
 * key keeps token MACs from ever equalling a channel `auth` value.
 */
export const SITE_TOKEN_TTL_SECONDS = 300;

const tokenKey = (secret: string): string => purposeKey(secret, 'site-token');

export function issueSiteToken(site: string, secret: string, ttlSeconds = SITE_TOKEN_TTL_SECONDS, nowMs = Date.now()) {
  // Rounded up: a token never lapses before the `expires` seconds it reports.
  const exp = Math.ceil(nowMs / 1000) + ttlSeconds;
  const body = `${site}.${exp}.${randomBytes(12).toString('base64url')}`;
  const mac = hmacSha256(tokenKey(secret), body).toString('base64url');
  return { token: Buffer.from(`${body}.${mac}`, 'utf8').toString('base64'), expires: ttlSeconds };
}

/** Throws `token_invalid` / `token_expired` unless `token` was issued for `site` and is live. */
export function verifySiteToken(site: string, secret: string, token: unknown, nowMs = Date.now()): void {
  if (typeof token !== 'string' || token.length === 0 || token.length > 512) {
    throw new ProtocolError(ErrorCode.TokenInvalid, 'token missing or malformed');
  }
  const parts = Buffer.from(token, 'base64').toString('utf8').split('.');
  if (parts.length !== 4 || parts[0] !== site) throw new ProtocolError(ErrorCode.TokenInvalid, 'token not valid for this site');
  const body = `${parts[0]}.${parts[1]}.${parts[2]}`;
  if (!safeEqual(parts[3] ?? '', hmacSha256(tokenKey(secret), body).toString('base64url'))) {
    throw new ProtocolError(ErrorCode.TokenInvalid, 'token signature invalid');
  }
  if (Number(parts[1]) * 1000 <= nowMs) throw new ProtocolError(ErrorCode.TokenExpired, 'token expired');
}

/** The seed's per-channel subscription auth: base64(HMAC-SHA256(secret, channel + token)). */
export const siteChannelAuth = (secret: string, channel: string, token: string): string =>
  hmacBase64(secret, channel + token);

/** The seed's post auth: base64(HMAC-SHA256(postSecret, token)). */
export const sitePostAuth = (postSecret: string, token: string): string => hmacBase64(postSecret, token);
