import { ErrorCode, ProtocolError } from '../codes.js';

/**
 * Browser origins allowed to call a route from another origin: exact origins
 * (`https://app.example.com`, scheme, host and port as the browser sends them in `Origin`),
 * or `*` for any. Empty: CORS off (no Access-Control-* header, preflights refused).
 */
export type Origins = readonly string[];

/** How long a browser may cache a preflight's answer, seconds. */
export const CORS_MAX_AGE_SECONDS = 600;

/** `https://a.example, http://localhost:3000` or `*` → a list; throws on anything that is not an origin. */
export function parseOrigins(text: string, what: string): Origins {
  const list = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const o of list) checkOrigin(o, what);
  if (list.includes('*') && list.length > 1) throw new ProtocolError(ErrorCode.BadRequest, `${what}: * stands alone`);
  return list;
}

/** An origin as browsers send it: `scheme://host[:port]`, nothing after. */
export function checkOrigin(o: string, what: string): void {
  if (o === '*') return;
  let u: URL;
  try {
    u = new URL(o);
  } catch {
    throw new ProtocolError(ErrorCode.BadRequest, `${what}: ${JSON.stringify(o)} is not an origin (scheme://host[:port])`);
  }
  if (u.origin !== o) throw new ProtocolError(ErrorCode.BadRequest, `${what}: ${JSON.stringify(o)} is not an origin: write it as ${u.origin === 'null' ? 'scheme://host[:port]' : u.origin}`);
}

/**
 * The `Access-Control-Allow-Origin` value for a request's `Origin`, or undefined when the
 * origin is not allowed (or CORS is off). `*` answers `*`: never with credentials.
 */
export function allowOrigin(allowed: Origins, origin: string | undefined): string | undefined {
  if (origin === undefined || origin === '' || allowed.length === 0) return undefined;
  if (allowed[0] === '*') return '*';
  return allowed.includes(origin) ? origin : undefined;
}
