import { pack } from './msgpack.js';
import { fromJs, type Node } from './node.js';
import type { Encoding } from './mutate.js';
import type { FuzzConn } from './conn.js';
import type { Rng } from './rng.js';
import { ECHO_PREFIX, type Webhook } from './webhook.js';
import { bartnetSeeds, monorailSeeds, nativeSeeds, otterBackend, otterPresence, otterSeeds, siteSeeds, wsaasSeeds, type Credentials } from './seeds.js';

/** A connection once its greeting is read and its first valid frames are sent. */
export interface Session {
  /** The connection id, when the dialect tells it (a target for the REST fuzzer's `/v1/connections/<id>`). */
  readonly id: string | undefined;
  /** Valid frames of this connection to mutate. */
  readonly seeds: readonly Node[];
}

/** A frame whose answer is promised (docs), sent after each window of fuzz frames: the endpoint still answers, in order. */
export interface Sentinel {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
  matches(frame: unknown): boolean;
}

/** One WebSocket endpoint under fuzz. */
export interface EndpointSpec {
  readonly name: string;
  readonly enc: Encoding;
  readonly protocols: readonly string[];
  /** Close codes the docs allow the server on this endpoint (1000: the REST fuzzer's `DELETE /v1/connections/<id>`). */
  readonly closeCodes: ReadonlySet<number>;
  /** Path and query of the `n`th connection. */
  path(n: number): string;
  /** Upgrade requests to try now and then: each must be accepted or refused with a 4xx and a JSON body. */
  readonly oddPaths: readonly string[];
  start(conn: FuzzConn, rng: Rng, path: string): Promise<Session>;
  sentinel(n: number): Sentinel;
}

/** How long a greeting or a sentinel's answer may take, ms. Generous: two cores, and the fuzzer runs on them too. */
export const ANSWER_DEADLINE_MS = 15_000;

const COMMON_CLOSES = [1000, 1006, 1009, 4100];
const tag = (n: number): string => `${ECHO_PREFIX}${n}`;
const obj = (f: unknown): Record<string, any> => (typeof f === 'object' && f !== null ? (f as Record<string, any>) : {});
const json = (frame: unknown): string => JSON.stringify(frame);

/** Upgrade paths with the query parameter `param` set to odd values: absent, empty, unknown, prototype names, bad escapes, repeated, long. */
function oddQueries(path: string, param: string): string[] {
  return ['', `?${param}=`, `?${param}=nope`, `?${param}=__proto__`, `?${param}=constructor`, `?${param}=toString`, `?${param}=%ZZ`,
    `?${param}=demo%00`, `?${param}=demo&${param}=other`, `?${param}[]=demo`, `?${param}=${'a'.repeat(5000)}`, `?${param}=%F0%9F%92`,
  ].map((q) => path + q);
}

async function greeting(conn: FuzzConn, what: string, pred: (f: Record<string, any>) => boolean): Promise<Record<string, any>> {
  const w = await conn.waitFor((f) => pred(obj(f)), ANSWER_DEADLINE_MS);
  if (w.kind !== 'match') throw new Error(`no ${what} (${w.kind === 'closed' ? `closed ${conn.closed?.code}` : 'timeout'})`);
  return obj(w.frame);
}

function native(name: string, msgpack: boolean, creds: Credentials): EndpointSpec {
  const encode = (f: unknown): string | Uint8Array => (msgpack ? pack(fromJs(f)) : json(f));
  return {
    name,
    enc: msgpack ? 'msgpack' : 'native-json',
    protocols: msgpack ? ['switchyard.v1.msgpack'] : ['switchyard.v1.json'],
    closeCodes: new Set([...COMMON_CLOSES, 4101, 4103]),
    path: (n) => (n % 7 === 6 ? '/v1/ws?tenant=other' : '/v1/ws?tenant=demo'),
    oddPaths: [...oddQueries('/v1/ws', 'tenant'), '/v1/ws/?tenant=demo', '/v1/wss?tenant=demo'],
    async start(conn, rng) {
      const hello = await greeting(conn, 'hello', (f) => f.type === 'hello');
      if (rng.chance(0.85)) conn.send(encode({ type: 'auth', id: 'auth', token: rng.chance(0.8) ? creds.nativeToken : creds.chatToken }), msgpack);
      return { id: String(hello.conn), seeds: nativeSeeds(creds) };
    },
    sentinel: (n) => ({ data: encode({ type: 'ping', id: tag(n) }), binary: msgpack, matches: (f) => obj(f).type === 'reply' && obj(f).id === tag(n) }),
  };
}

export function endpointSpecs(creds: Credentials, hook: Webhook): EndpointSpec[] {
  const resources = ['nodes', 'catalogs', 'workflow-logs'];
  return [
    native('native-json', false, creds),
    native('native-msgpack', true, creds),
    {
      name: 'site',
      enc: 'json',
      protocols: [],
      closeCodes: new Set(COMMON_CLOSES),
      path: () => '/ws?site=demo',
      oddPaths: [...oddQueries('/ws', 'site'), '/ws/?site=demo', '/ws?tenant=demo'],
      start: async () => ({ id: undefined, seeds: siteSeeds(creds) }), // with the current site token (renewed during long runs)
      sentinel: (n) => ({
        data: json({ request: 'unsubscribe', req_id: tag(n), body: { channel: 'never subscribed' } }),
        binary: false,
        matches: (f) => obj(f).req_id === tag(n),
      }),
    },
    {
      name: 'bartnet',
      enc: 'json',
      protocols: [],
      closeCodes: new Set([...COMMON_CLOSES, 4103]),
      path: () => '/bartnet',
      oddPaths: ['/bartnet?x=1', '/bartnet/', '/bartnet/x', '/bartnet?tenant=__proto__', '/bartnet/%ZZ', '/BARTNET'],
      async start(conn, rng) {
        if (rng.chance(0.85)) conn.send(json({ id: 'auth', version: 1, command: 'authenticate', attributes: { HMAC: creds.bartnet[0] } }), false);
        if (rng.chance(0.3)) conn.send(json({ id: 'auth2', version: 1, command: 'authenticate', attributes: { HMAC: creds.bartnet[1] } }), false);
        return { id: undefined, seeds: bartnetSeeds(creds) };
      },
      sentinel: (n) => ({
        data: json({ id: tag(n), version: 1, command: 'subscribe', attributes: {} }),
        binary: false,
        matches: (f) => obj(f).in_reply_to === tag(n),
      }),
    },
    {
      name: 'otter',
      enc: 'json',
      protocols: [],
      closeCodes: new Set(COMMON_CLOSES),
      path: () => '/otter?tenant=demo',
      oddPaths: [...oddQueries('/otter', 'tenant'), '/otter/?tenant=demo'],
      async start(conn, rng) {
        const hello = await greeting(conn, 'connection id', (f) => typeof f.id === 'string');
        const id = hello.id as string;
        const role = rng.weighted([[25, 'backend'], [35, 'alice'], [40, 'anonymous']] as const);
        if (role === 'backend') conn.send(json({ command: 'sub', channel: 'room 1', signature: otterBackend(id) }), false);
        if (role === 'alice') conn.send(json({ command: 'auth', presence: 'alice', signature: otterPresence('alice') }), false);
        return { id, seeds: otterSeeds(id) };
      },
      // Success is silent; an unknown command is answered with the command, client or backend alike.
      sentinel: (n) => ({ data: json({ command: tag(n) }), binary: false, matches: (f) => obj(obj(f).from).command === tag(n) }),
    },
    {
      name: 'monorail',
      enc: 'json',
      protocols: [],
      closeCodes: new Set(COMMON_CLOSES),
      path: (n) => `/monorail/${resources[n % resources.length]}?tenant=demo`,
      oddPaths: [...oddQueries('/monorail/nodes', 'tenant'), '/monorail/?tenant=demo', '/monorail/nothing?tenant=demo', '/monorail/%ZZ?tenant=demo',
        '/monorail/nodes/x?tenant=demo', '/monorail/constructor?tenant=demo', '/monorail/__proto__?tenant=demo', '/monorail/toString?tenant=demo',
        '/monorail/nodes?tenant=other', `/monorail/${'x'.repeat(3000)}?tenant=demo`, '/monorail/%2e%2e?tenant=demo', '/monorail/skus?tenant=demo'],
      async start(conn) {
        conn.send(json({ handler: 'init' }), false);
        const session = await greeting(conn, 'session', (f) => f.handler === 'session');
        return { id: String(session.id), seeds: monorailSeeds() };
      },
      sentinel: (n) => ({ data: json({ handler: tag(n) }), binary: false, matches: (f) => obj(obj(f).request).handler === tag(n) }),
    },
    {
      name: 'wsaas',
      enc: 'opaque',
      protocols: [],
      // Not 4102 or 1011: the fuzz backend answers every call at once, so those would mean the server's own calls failed.
      closeCodes: new Set(COMMON_CLOSES),
      path: (n) => `/hook/fuzz/${n}?tenant=demo`,
      oddPaths: ['/hook', '/hook/', '/hook/x', '/hook/x?tenant=other', '/hook/x?tenant=__proto__', '/hook/%ZZ?tenant=demo', '/hook/x?tenant=',
        `/hook/${'x'.repeat(5000)}?tenant=demo`, '/hook/x?tenant=nope'],
      async start(_conn, _rng, path) {
        const uri = hook.wsUri(path);
        const id = uri === undefined ? undefined : decodeURIComponent(uri.slice(uri.lastIndexOf('/') + 1));
        return { id, seeds: wsaasSeeds(creds) };
      },
      sentinel: (n) => ({ data: tag(n), binary: false, matches: (f) => f === tag(n) }),
    },
  ];
}
