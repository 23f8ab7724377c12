import { createHmac } from 'node:crypto';
import { ErrorCode, ProtocolError } from '../codes.js';
import { purposeKey, safeEqual } from './hmac.js';

/**
 * Native-protocol client tokens: compact JWTs (HS256) signed with the `native-token` key of the
 * tenant `secret` (`purposeKey`), so a backend in any language can mint them with a stock JWT
 * library once it derived that key, and any node can verify them. Callers pass the tenant secret.
 */
export interface ClientClaims {
  /** User id (`sub`). Optional: anonymous-but-signed clients have none. */
  readonly user?: string;
  /** Expiry, seconds since the epoch (`exp`). Absent = never expires. */
  readonly exp?: number;
  /** Presence info (`info`): any JSON value, shown to others in channel presence. */
  readonly info?: unknown;
  /** Channel patterns this token may subscribe to (`channels`): exact names, or a prefix ending in `*`. Absent = all. */
  readonly channels?: readonly string[];
}

/** The longest token `verifyClientToken` reads (a client's whole `auth` frame stays small). */
export const MAX_CLIENT_TOKEN_LENGTH = 8192;

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');
const HEADER = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

export function signClientToken(secret: string, claims: ClientClaims): string {
  const body: Record<string, unknown> = {};
  if (claims.user !== undefined) body.sub = claims.user;
  if (claims.exp !== undefined) body.exp = claims.exp;
  if (claims.info !== undefined) body.info = claims.info;
  if (claims.channels !== undefined) body.channels = claims.channels;
  const unsigned = `${HEADER}.${b64url(JSON.stringify(body))}`;
  return `${unsigned}.${createHmac('sha256', purposeKey(secret, 'native-token')).update(unsigned).digest('base64url')}`;
}

/** Verifies signature, algorithm and expiry; throws `token_invalid` or `token_expired`. */
export function verifyClientToken(secret: string, token: unknown, nowMs = Date.now()): ClientClaims {
  const invalid = (why: string): ProtocolError => new ProtocolError(ErrorCode.TokenInvalid, `invalid token: ${why}`);
  if (typeof token !== 'string' || token.length > MAX_CLIENT_TOKEN_LENGTH) throw invalid(`not a string of at most ${MAX_CLIENT_TOKEN_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('not a JWT');
  const [h, p, s] = parts as [string, string, string];
  const expected = createHmac('sha256', purposeKey(secret, 'native-token')).update(`${h}.${p}`).digest('base64url');
  if (!safeEqual(s, expected)) throw invalid('bad signature');
  let header: unknown;
  let payload: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    throw invalid('undecodable header or payload');
  }
  if (typeof header !== 'object' || header === null || (header as { alg?: unknown }).alg !== 'HS256') {
    throw invalid('alg must be HS256');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('payload not an object');
  const c = payload as Record<string, unknown>;
  if (c.sub !== undefined && typeof c.sub !== 'string') throw invalid('sub must be a string');
  if (c.exp !== undefined && typeof c.exp !== 'number') throw invalid('exp must be a number');
  if (c.channels !== undefined && (!Array.isArray(c.channels) || !c.channels.every((x) => typeof x === 'string'))) {
    throw invalid('channels must be an array of strings');
  }
  if (typeof c.exp === 'number' && c.exp * 1000 <= nowMs) {
    throw new ProtocolError(ErrorCode.TokenExpired, 'token expired');
  }
  return {
    ...(typeof c.sub === 'string' ? { user: c.sub } : {}),
    ...(typeof c.exp === 'number' ? { exp: c.exp } : {}),
    ...(c.info !== undefined ? { info: c.info } : {}),
    ...(Array.isArray(c.channels) ? { channels: c.channels as string[] } : {}),
  };
}

/** Whether a token's `channels` claim lets it subscribe to `channel`. */
export function channelAllowed(patterns: readonly string[] | undefined, channel: string): boolean {
  if (patterns === undefined) return true;
  for (const p of patterns) {
    if (p.endsWith('*') ? channel.startsWith(p.slice(0, -1)) : p === channel) return true;
  }
  return false;
}
