import { createHmac } from 'node:crypto';
import { pack } from './msgpack.js';
import { Raw, fromJs, type Node } from './node.js';

/** What valid frames need: credentials fetched once from the server under test, or signed here. */
export interface Credentials {
  /** A native token of the demo tenant (no expiry, every channel). */
  readonly nativeToken: string;
  /** One allowed only `chat:*`. */
  readonly chatToken: string;
  /** A site token from `GET /token?site=demo` (they live 300 s: `refreshSiteToken` renews it during long runs). */
  siteToken: string;
  /** Bartnet credentials from `POST /bartnet/authorize` for customers abc1234 and cust-2. */
  readonly bartnet: readonly [string, string];
}

export const DEMO_SECRET = 'demo-client-secret';
export const DEMO_POST_SECRET = 'demo-post-secret';
export const DEMO_BACKEND = 'Bearer demo-backend-secret';

const hmac = (key: string, data: string, enc: 'hex' | 'base64'): string => createHmac('sha256', key).update(data).digest(enc);
/** The per-purpose keys of docs/security.md, computed here independently of the server. */
const purposeKey = (secret: string, purpose: string): string => hmac(secret, `switchyard/${purpose}/v1`, 'hex');

/** Site: the per-channel `auth` of a subscribe, base64(HMAC(secret, channel + token)). */
export const siteAuth = (channel: string, token: string): string => hmac(DEMO_SECRET, channel + token, 'base64');
/** Site: the `auth` of `POST /post`, base64(HMAC(postSecret, token)). */
export const postAuth = (token: string): string => hmac(DEMO_POST_SECRET, token, 'base64');
export const otterPresence = (presence: string): string => hmac(purposeKey(DEMO_SECRET, 'otter-presence'), presence, 'hex');
export const otterBackend = (connId: string): string => hmac(purposeKey('demo-backend-secret', 'otter-backend'), connId, 'hex');

/** The token of docs/protocol.md's `auth` example (signed with another key: token_invalid). */
const DOC_TOKEN =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTc5NTQzODQzMiwiaW5mbyI6eyJuYW1lIjoiQWxpY2UifSwiY2hhbm5lbHMiOlsiY2hhdDoqIiwibmV3cyJdfQ.EX7mHGP-mf4wvItmkJ7Lfbf_60IQVJczi1F0rxQdkYM';

/** The valid frames of docs/protocol.md. */
export function nativeSeeds(c: Credentials): Node[] {
  return [
    { type: 'auth', id: 2, token: c.nativeToken },
    { type: 'auth', id: 2, token: c.chatToken },
    { type: 'auth', id: 2, token: DOC_TOKEN },
    { type: 'subscribe', id: 3, channel: 'chat:lobby', after: 0 },
    { type: 'subscribe', id: 3, channel: 'chat:lobby', after: -1, epoch: '2ba8c283-4d36-45eb-8d85-0174845ae951' },
    { type: 'subscribe', id: 'n', channel: 'news' },
    { type: 'subscribe', id: 4, channel: 'small:s', after: 1 },
    { type: 'unsubscribe', id: 8, channel: 'chat:lobby' },
    { type: 'publish', id: 5, channel: 'chat:lobby', data: { text: 'hi from alice' } },
    { type: 'publish', ack: false, channel: 'chat:cursor', data: { x: 10, y: 20 } },
    { type: 'presence', id: 6, channel: 'chat:lobby' },
    { type: 'ping', id: 7 },
  ].map(fromJs);
}

/** The valid frames of docs/dialects/site.md. */
export function siteSeeds(c: Credentials): Node[] {
  const sub = (channel: string, after: number | null) => ({ channel, after, token: c.siteToken, auth: siteAuth(channel, c.siteToken) });
  return [
    { request: 'subscribe', req_id: 's1', body: sub('foo', 0) },
    { request: 'subscribe', req_id: 2, body: sub('chat:lobby', -1) },
    { request: 'subscribe', req_id: 's3', body: sub('small:s', null) },
    { request: 'unsubscribe', req_id: 'u1', body: { channel: 'foo' } },
  ].map(fromJs);
}

/** The valid frames of docs/dialects/bartnet.md. */
export function bartnetSeeds(c: Credentials): Node[] {
  return [
    { id: 1, version: 1, command: 'authenticate', sent: 12345678, attributes: { HMAC: c.bartnet[0] } },
    { id: 'x', version: 1, command: 'authenticate', attributes: { HMAC: c.bartnet[1] } },
    { id: 1, version: 1, command: 'authenticate', attributes: { HMAC: '1795446071--ZGVtbwphYmMxMjM0CmJtgi63xonDSrekRwsFD1_eM7ALBmaVbpAAQBiWSPAB' } },
    { id: 3, version: 1, command: 'subscribe', attributes: { subscribe_to: 'discovery', unsubscribe_from: 'connected' } },
    { id: 4, version: 1, command: 'subscribe', attributes: { subscribe_to: 'check_results, discovery,connected' } },
    { id: 5, version: 1, command: 'subscribe', attributes: { subscribe_to: 'cust-2/discovery', unsubscribe_from: 'abc1234/check_results' } },
    { id: 6, version: 1, command: 'subscribe' },
  ].map(fromJs);
}

/** The valid frames of docs/dialects/otter.md; a backend's carry the signature of `connId`. */
export function otterSeeds(connId: string): Node[] {
  const signature = otterBackend(connId);
  return [
    { command: 'auth', presence: 'alice', signature: otterPresence('alice') },
    { command: 'auth', presence: '{"name":"bob"}', signature: otterPresence('{"name":"bob"}').toUpperCase() },
    { command: 'sub', channel: 'room 1' },
    { command: 'unsub', channel: 'room 1' },
    { command: 'pub', channel: 'room 1', message: { text: 'hello from alice' } },
    { command: 'pub', channel: 'chat:lobby', message: null },
    { command: 'sub', channel: 'room 1', signature },
    { command: 'pub', channel: 'room 1', message: { echo: 'x' }, signature },
  ].map(fromJs);
}

/** The valid frames of docs/dialects/monorail.md. */
export function monorailSeeds(): Node[] {
  return [
    { handler: 'init' },
    { handler: 'all' },
    { handler: 'query', params: { status: 'up' } },
    { handler: 'get', params: { id: 'n2' } },
    { handler: 'get', params: { catalogId: 7, wf: 'wf-1' } },
    { handler: 'watch', params: { status: 'up' } },
    { handler: 'watch' },
    { handler: 'stop', params: { status: 'up' } },
    { handler: 'stop' },
  ].map(fromJs);
}

/** Text a WSaaS client may send: anything, so plain words and every dialect's frames. */
export function wsaasSeeds(c: Credentials): Node[] {
  const text = (s: string): Raw => new Raw(s, pack(s));
  return [text('hello'), text('bye'), text(''), ...nativeSeeds(c).slice(3, 6), ...otterSeeds('x').slice(2, 5), ...monorailSeeds().slice(0, 3)];
}
