import { createHmac } from 'node:crypto';
import { safeEqual } from './hmac.js';

/**
 * Signed WSaaS webhooks (docs/dialects/wsaas.md#signed-webhooks). Every call the gateway makes to
 * a tenant's webhook carries
 *
 *   Switchyard-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]
 *
 * with one `v1` per signing key of the tenant, in the configured order, each the lowercase hex
 * HMAC-SHA256 under that key (the key's UTF-8 text) of `<t>.<METHOD>.<body>`: the timestamp, the
 * upper-case HTTP method and the exact body bytes, joined by `.`. The method is covered because
 * the three calls carry the same `ws_uri`: a captured PUT replayed as a DELETE would otherwise
 * make the backend forget a live connection. The URL is not: proxies and load balancers rewrite
 * the host and path the backend sees, and the key is already the tenant's.
 */
export const WEBHOOK_SIGNATURE_HEADER = 'switchyard-signature';

/** The replay window this module's verifier applies by default, and the one the docs recommend. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** The text one `v1` signature covers. */
export const webhookSignedText = (t: number, method: string, body: string | Uint8Array): Buffer =>
  Buffer.concat([Buffer.from(`${t}.${method.toUpperCase()}.`, 'utf8'), typeof body === 'string' ? Buffer.from(body, 'utf8') : body]);

/**
 * The header value for one call. `keys` must not be empty; `t` is the Unix time in whole
 * seconds when the call is sent (not when it was queued), so a PUT that waited behind slow ones
 * is still fresh. Pure: same inputs, same value.
 */
export function signWebhook(keys: readonly string[], method: string, body: string | Uint8Array, t: number): string {
  if (keys.length === 0) throw new Error('signWebhook: no key');
  const prefix = `${t}.${method.toUpperCase()}.`;
  let header = `t=${t}`;
  // Two updates, not webhookSignedText: no copy of a body of up to --max-payload per key.
  for (const key of keys) header += `,v1=${createHmac('sha256', key).update(prefix, 'utf8').update(body).digest('hex')}`;
  return header;
}

/** Why a signature was refused; `ok` when it verified. */
export type WebhookVerdict = 'ok' | 'malformed' | 'stale' | 'mismatch';

/**
 * Checks a `Switchyard-Signature` value the way the docs tell backends to: a well-formed
 * header, `t` within `toleranceSeconds` of `now` (either side: clocks drift), and at least one
 * `v1` equal, in constant time, to the HMAC under one of `keys`. Unknown schemes (`v2=…`) are
 * ignored, so a later scheme can be added beside `v1`.
 */
export function verifyWebhook(
  header: string | undefined,
  method: string,
  body: string | Uint8Array,
  keys: readonly string[],
  o: { readonly now?: number; readonly toleranceSeconds?: number } = {},
): WebhookVerdict {
  if (header === undefined) return 'malformed';
  let t: number | undefined;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1') sigs.push(v.toLowerCase());
  }
  if (t === undefined || sigs.length === 0) return 'malformed';
  const now = o.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (o.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS)) return 'stale';
  const text = webhookSignedText(t, method, body);
  for (const key of keys) {
    const want = createHmac('sha256', key).update(text).digest('hex');
    // Every candidate is compared, so the time taken does not tell which key matched.
    let hit = false;
    for (const s of sigs) hit = safeEqual(s, want) || hit;
    if (hit) return 'ok';
  }
  return 'mismatch';
}
