import { fuzzFrame } from './mutate.js';
import { Bin, fromJs, toJson, type Node } from './node.js';
import { Ring, formatSent, preview } from './ring.js';
import type { Rng } from './rng.js';
import { DEMO_BACKEND, postAuth, type Credentials } from './seeds.js';
import { HEADERS_TOO_LARGE, type Shared } from './shared.js';
import { NUMBERS, STRINGS, longString } from './values.js';

/** A request of the control API or a dialect's REST face. */
interface Req {
  method: string;
  path: string;
  query: [string, string][];
  auth: string | undefined;
  contentType: string | undefined;
  body: Node | undefined;
  /** An event stream's resume point (`Last-Event-ID`). */
  lastEventId?: string;
}

/** What the REST fuzzing did and found. */
export interface RestStats {
  requests: number;
  /** Answers by HTTP status. */
  readonly statuses: Map<number, number>;
  readonly failures: string[];
}

/** How long one request may take, ms. */
const REQUEST_DEADLINE_MS = 15_000;
/** Requests in flight at once. */
const WORKERS = 3;
const MAX_FAILURES = 5;

const req = (method: string, path: string, o: Partial<Req> = {}): Req => ({ method, path, query: [], auth: undefined, contentType: undefined, body: undefined, ...o });

/** The admin token of the fuzzed server's tenants (testkit TENANTS). */
const ADMIN = 'Bearer test-admin-token';

/** The valid requests of docs/control-api.md and the dialect pages, aimed at `conn` where they name a connection. */
function seeds(c: Credentials, conn: string): Req[] {
  const B = DEMO_BACKEND;
  const demo: [string, string][] = [['tenant', 'demo']];
  const json = 'application/json';
  const c64 = encodeURIComponent(conn);
  return [
    req('POST', '/v1/publish', { auth: B, contentType: json, body: fromJs({ tenant: 'demo', channel: 'chat:lobby', data: { text: 'hi' } }) }),
    req('POST', '/v1/publish', { auth: B, body: fromJs({ tenant: 'demo', channels: ['news:world', 'news:europe'], data: { headline: '…' } }) }),
    req('POST', '/v1/publish', { auth: B, body: fromJs({ tenant: 'demo', messages: [{ channel: 'chat:lobby', data: 'one' }, { channel: 'live:x', data: 'two' }, { channel: 'news:world', data: 'three' }] }) }),
    req('POST', '/v1/publish', { auth: 'Bearer other-backend-secret', body: fromJs({ tenant: 'other', channel: 'x', data: 1 }) }),
    req('GET', '/v1/history', { auth: B, query: [['tenant', 'demo'], ['channel', 'chat:lobby'], ['after', '5'], ['limit', '2']] }),
    req('GET', '/v1/presence', { auth: B, query: [['tenant', 'demo'], ['channel', 'chat:lobby']] }),
    req('POST', '/v1/tokens', { auth: B, body: fromJs({ tenant: 'demo', user: 'alice', ttl: 3600, info: { name: 'Alice' }, channels: ['chat:*'] }) }),
    req('GET', `/v1/connections/${c64}`, { auth: B }),
    req('PUT', `/v1/connections/${c64}`, { auth: B, contentType: json, body: fromJs({ text: 'hi' }) }),
    req('PUT', `/v1/connections/${c64}`, { auth: B, contentType: 'application/octet-stream', body: new Bin(Uint8Array.from([0, 1, 2, 255])) }),
    req('DELETE', `/v1/connections/${c64}`, { auth: B }),
    req('PUT', '/v1/monorail/nodes/items/n1', { auth: B, query: demo, contentType: json, body: fromJs({ name: 'alpha', status: 'up' }) }),
    req('PUT', '/v1/monorail/catalogs/items/7', { auth: B, query: demo, body: fromJs({ catalogId: '7', name: 'seven' }) }),
    req('GET', '/v1/monorail/nodes/items/n1', { auth: B, query: demo }),
    req('DELETE', '/v1/monorail/nodes/items/n2', { auth: B, query: demo }),
    req('GET', '/v1/monorail/catalogs/items', { auth: B, query: demo }),
    req('POST', '/v1/monorail/nodes/broadcast', { auth: B, query: demo, body: fromJs({ message: { handler: 'notice', text: 'maintenance at 18:00' } }) }),
    req('POST', '/v1/monorail/workflow-logs/broadcast', { auth: B, query: demo, body: fromJs({ message: { handler: 'notice' }, connections: [conn] }) }),
    req('GET', '/token', { query: [['site', 'demo']] }),
    req('POST', '/post', { query: [['site', 'demo']], body: fromJs({ channel: 'foo', message: { text: 'hello' }, token: c.siteToken, auth: postAuth(c.siteToken) }) }),
    req('GET', '/stats', { auth: ADMIN }),
    req('POST', '/bartnet/authorize', { auth: B, body: fromJs({ customer_id: 'abc1234' }) }),
    req('GET', '/otter/channels/room%201/clients', { auth: B, query: demo }),
    req('GET', '/v1/sse', { auth: `Bearer ${c.nativeToken}`, query: [['tenant', 'demo'], ['channel', 'chat:lobby'], ['channel', 'live:x']] }),
    req('GET', '/v1/sse', { query: [['tenant', 'demo'], ['channel', 'chat:lobby'], ['token', c.chatToken], ['lastEventId', '3.0123456789ab']] }),
    req('GET', '/v1/sse', { query: [['tenant', 'other'], ['channel', 'news'], ['channel', 'chat:x'], ['lastEventId', '0_0']] }),
    req('GET', '/admin/api/overview', { auth: ADMIN }),
    req('GET', '/admin/api/channels', { auth: ADMIN, query: [['tenant', 'demo'], ['limit', '5']] }),
    req('GET', '/admin/api/channel', { auth: ADMIN, query: [['tenant', 'demo'], ['channel', 'chat:lobby'], ['limit', '10']] }),
    req('POST', '/admin/api/publish', { auth: ADMIN, contentType: json, body: fromJs({ tenant: 'demo', channel: 'news:world', data: { from: 'admin' } }) }),
    req('GET', `/admin/api/connections/${c64}`, { auth: ADMIN }),
    req('DELETE', `/admin/api/connections/${c64}`, { auth: ADMIN }),
    req('GET', '/healthz'),
    req('GET', '/readyz'),
  ];
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const AUTHS = [undefined, 'Bearer wrong', 'bearer demo-backend-secret', 'Bearer other-backend-secret', 'Bearer test-admin-token',
  'Bearer demo-client-secret', 'Bearer ', 'Basic ZGVtbzpkZW1v', `Bearer ${'x'.repeat(9000)}`, 'Bearer demo-backend-secret '];
const CONTENT_TYPES = [undefined, 'text/plain', 'application/octet-stream', 'application/json; charset=latin1', 'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded', 'text/html;charset=utf-16'];

/** A path segment or query value, percent-encoded; lone surrogates become the bytes of their invalid UTF-8. */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return s.replace(/[\ud800-\udfff]/g, '%ED%A0%80').replace(/[^\w%-]/g, (ch) => encodeURIComponent(ch));
  }
}

function oddValue(rng: Rng): string {
  return rng.weighted([
    [6, () => rng.pick(STRINGS)],
    [4, () => toJson(rng.pick(NUMBERS))],
    [1, () => longString(rng, rng.range(300, 9000))],
  ])();
}

/** One change of a request: its body along its grammar, a query value, a path segment, a header, the method. */
function mutate(rng: Rng, r: Req, otherBodies: readonly Node[], how: string[]): string | Uint8Array | undefined {
  const plan = rng.weighted([[18, 'valid'], [42, 'body'], [14, 'query'], [9, 'path'], [9, 'headers'], [5, 'method'], [3, 'mix']] as const);
  how.push(plan);
  if (plan === 'query' || plan === 'mix') {
    const i = rng.int(r.query.length + 1);
    const op = rng.weighted([[6, 'value'], [2, 'drop'], [2, 'repeat'], [1, 'add']] as const);
    if (op === 'add' || i === r.query.length) r.query.push([rng.pick(['after', 'limit', 'tenant', 'channel', 'site', 'x', '__proto__']), oddValue(rng)]);
    else if (op === 'value') r.query[i]![1] = oddValue(rng);
    else if (op === 'drop') r.query.splice(i, 1);
    else r.query.push([r.query[i]![0], oddValue(rng)]);
    how.push(`query ${op}`);
  }
  if (plan === 'path' || plan === 'mix') {
    const parts = r.path.split('/');
    const i = 1 + rng.int(parts.length - 1);
    parts[i] = rng.weighted([[5, enc(rng.pick(STRINGS))], [2, '%ZZ'], [1, parts[i]!.toUpperCase()], [1, `${parts[i]}/`], [1, ''], [1, 'x'.repeat(5000)]]);
    r.path = parts.join('/');
    how.push('path');
  }
  if (plan === 'headers' || plan === 'mix') {
    const which = rng.weighted([[6, 'auth'], [3, 'type'], [1, 'last-event-id']] as const);
    if (which === 'auth') r.auth = rng.pick(AUTHS);
    else if (which === 'type') r.contentType = rng.pick(CONTENT_TYPES);
    else r.lastEventId = rng.chance(0.5) ? oddValue(rng) : rng.pick(['1.0123456789ab_0', '0_0_0', '9007199254740993.0123456789ab_1', '_', '1.']);
  }
  if (plan === 'method') r.method = rng.pick(METHODS);
  if (r.body === undefined) return undefined;
  if (plan !== 'body' && plan !== 'mix') return r.body instanceof Bin ? r.body.bytes : toJson(r.body);
  const f = fuzzFrame(rng, r.body, otherBodies, 'json');
  how.push(f.how);
  return f.data;
}

/**
 * Sends `count` requests, each a valid request of some route mutated (or not); `WORKERS` at a
 * time. Failures: a 5xx, no answer in REQUEST_DEADLINE_MS, a body that is not JSON where the
 * docs say every answer is JSON (all but `/metrics` and HEAD).
 */
export async function fuzzRest(base: string, count: number, requestsRng: Rng, creds: Credentials, shared: Shared): Promise<RestStats> {
  const stats: RestStats = { requests: 0, statuses: new Map(), failures: [] };
  const ring = new Ring();
  shared.rings.set('rest', ring);
  const bodies = seeds(creds, 'x').flatMap((r) => (r.body !== undefined && !(r.body instanceof Bin) ? [r.body] : []));
  const worker = async (): Promise<void> => {
    while (stats.requests < count && stats.failures.length < MAX_FAILURES) {
      const n = stats.requests++;
      // Request n is the same in every run of a seed, but for the connection it names (open ones change with timing).
      const rng = requestsRng.derive(`request ${n}`);
      const ids = [...shared.ids];
      const conn = ids.length > 0 && rng.chance(0.8) ? rng.pick(ids) : rng.pick(['fuzz:AAAAAAAAAAAA', 'nope', '', '%ZZ', 'fuzz:' + 'x'.repeat(300)]);
      const r = rng.chance(0.003) ? req('GET', '/metrics') : rng.pick(seeds(creds, conn)); // fresh objects: mutate may change them
      const how: string[] = [];
      const body = mutate(rng, r, bodies, how);
      const sendBody = body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
      const url = `${base}${r.path}${r.query.length > 0 ? '?' : ''}${r.query.map(([k, v]) => `${enc(k)}=${rng.chance(0.05) ? v : enc(v)}`).join('&')}`;
      const shown = `${r.method} ${url.slice(base.length, base.length + 300)}${r.auth !== undefined ? ` auth=${r.auth.slice(0, 40)}` : ''}`;
      ring.push({ at: Date.now(), endpoint: `rest request ${n}`, conn: undefined, how: how.join(' > '), preview: `${shown} ${sendBody ? preview(body, false) : ''}` });
      const fail = (what: string): void => void stats.failures.push(`rest: ${shown}: ${what}\n  last requests sent:\n${formatSent(ring.list().slice(-12))}`);
      try {
        const headers: Record<string, string> = {};
        if (r.auth !== undefined) headers.authorization = r.auth;
        if (r.contentType !== undefined && sendBody) headers['content-type'] = r.contentType;
        if (r.lastEventId !== undefined) headers['last-event-id'] = r.lastEventId;
        // A plain timer, not AbortSignal.any with AbortSignal.timeout: Node 20 may collect the
        // timeout signal before it fires, and a stream that never ends then hangs the run.
        const abort = new AbortController();
        const deadline = setTimeout(() => abort.abort(new Error(`no answer within ${REQUEST_DEADLINE_MS} ms`)), REQUEST_DEADLINE_MS);
        try {
          const res = await fetch(url, { method: r.method, headers, ...(sendBody ? { body } : {}), signal: abort.signal });
          if (res.status === 200 && res.headers.get('content-type')?.startsWith('text/event-stream') === true) {
            // An event stream does not end: it must open with `subscribed` (or say why it cannot).
            const opening = await firstEvent(res);
            abort.abort();
            stats.statuses.set(200, (stats.statuses.get(200) ?? 0) + 1);
            if (!/^event: (subscribed|failure)$/m.test(opening)) fail(`an event stream opened with ${JSON.stringify(opening.slice(0, 300))}`);
            continue;
          }
          const text = await res.text();
          stats.statuses.set(res.status, (stats.statuses.get(res.status) ?? 0) + 1);
          if (res.status >= 500) fail(`answered ${res.status} ${text.slice(0, 300)}`);
          else if (r.method !== 'HEAD' && !(r.path === '/metrics' && res.status === 200) && res.status !== HEADERS_TOO_LARGE && !isJson(text)) fail(`answered ${res.status} with a body that is not JSON: ${JSON.stringify(text.slice(0, 300))}`);
        } finally {
          clearTimeout(deadline);
        }
      } catch (err) {
        // Refused by fetch itself, never sent.
        if (err instanceof TypeError && /Invalid URL|invalid header|ByteString/i.test(String((err as Error).message))) continue;
        if (err instanceof TypeError && /InvalidArgumentError: invalid .* header/.test(String((err as Error).cause))) continue;
        fail(`no answer: ${(err as Error).message} ${String((err as Error).cause ?? '')}`);
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return stats;
}

/**
 * A stream's text up to the end of its first named event. Lines end only at CR and LF (a
 * channel name may hold U+2028, which a regex's `.` and `^` would take for a line end).
 */
async function firstEvent(res: Response): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  const named = (): boolean => {
    const blocks = text.split(/\r?\n\r?\n/);
    blocks.pop(); // not complete yet
    return blocks.some((b) => b.split(/\r?\n/).some((line) => line.startsWith('event: ')));
  };
  while (!named()) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
