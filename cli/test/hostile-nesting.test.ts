import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from 'msgpackr';
import { MAX_JSON_DEPTH, signClientToken } from '@switchyard/shared';
import { backend, connect, http, publish, startDev, wsUrl, type Client } from './helpers.js';
import type { RunningServer } from '../src/server.js';

/** `{"a":{"a":…1…}}`, `levels` objects deep. */
const nested = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const token = signClientToken('demo-client-secret', { user: 'u' });

async function subscriber(t: TestContext, s: RunningServer, msgpack: boolean): Promise<Client> {
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'), msgpack ? 'switchyard.v1.msgpack' : undefined);
  await c.next();
  const send = (f: unknown): void => (msgpack ? c.ws.send(pack(f)) : c.send(f));
  send({ type: 'auth', id: 1, token });
  await c.next();
  send({ type: 'subscribe', id: 2, channel: 'chat:deep' });
  assert.equal((await c.next()).result?.channel, 'chat:deep');
  return c;
}

test('hostile nesting: payloads deeper than every face can encode are refused at every ingress with bad_request; subscribers of every face keep receiving', async (t) => {
  const s = await startDev(t);
  const json = await subscriber(t, s, false);
  const msgpack = await subscriber(t, s, true);
  const deep = nested(3_000); // passes JSON.parse; msgpack's encoder overflows on it

  // A native client's publish (deeper frames are refused whole, below).
  const pub = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await pub.next();
  pub.send({ type: 'auth', id: 1, token });
  await pub.next();
  pub.send(`{"type":"publish","id":2,"channel":"chat:deep","data":${nested(MAX_JSON_DEPTH + 2)}}`);
  const refused = await pub.nextWhere((f) => f.id === 2);
  assert.equal(refused.error?.name, 'bad_request');
  assert.match(refused.error.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`));

  // REST, single and batch.
  const rest = await http(s, 'POST', '/v1/publish', `{"tenant":"demo","channel":"chat:deep","data":${deep}}`, backend);
  assert.equal(rest.status, 400, rest.text);
  assert.equal(rest.body.code, 'bad_request');
  const batch = await http(s, 'POST', '/v1/publish', `{"tenant":"demo","messages":[{"channel":"chat:deep","data":1},{"channel":"chat:deep","data":${nested(200)}}]}`, backend);
  assert.equal(batch.status, 400, batch.text);

  // At the bound it goes through, to both encodings; nothing refused was stored.
  const ok = await http(s, 'POST', '/v1/publish', `{"tenant":"demo","channel":"chat:deep","data":${nested(MAX_JSON_DEPTH)}}`, backend);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.seq, 1, 'the refused publishes stored nothing');
  for (const c of [json, msgpack]) {
    const m = await c.nextWhere((f) => f.type === 'message');
    assert.equal(m.seq, 1);
  }
  const health = await http(s, 'GET', '/healthz');
  assert.equal(health.status, 200);
});

test('hostile nesting: a frame nested 30,000 levels deep is answered in every dialect\'s words, and the connection goes on', async (t) => {
  const s = await startDev(t);
  const deep = (wrap: (inner: string) => string): string => wrap('['.repeat(30_000) + ']'.repeat(30_000));
  const cases: { path: string; frame: string; then: unknown; answered: (f: any) => boolean }[] = [
    { path: '/v1/ws?tenant=demo', frame: deep((x) => `{"type":"ping","id":7,"x":${x}}`), then: { type: 'ping', id: 8 }, answered: (f) => f.id === 8 },
    { path: '/otter?tenant=demo', frame: deep((x) => `{"type":"sub","channel":"c","x":${x}}`), then: '{nope', answered: (f) => f.error === 'malformed JSON' },
    { path: '/monorail/nodes?tenant=demo', frame: deep((x) => `{"handler":"init","params":${x}}`), then: '{nope', answered: (f) => f.error === 'malformed JSON' },
    { path: '/ws?site=demo', frame: deep((x) => `{"request":"subscribe","req_id":"1","body":${x}}`), then: '{nope', answered: (f) => f.body === 'malformed JSON' },
  ];
  for (const { path, frame, then, answered } of cases) {
    const c = await connect(t, wsUrl(s, path));
    c.send(frame);
    const refused = await c.nextWhere((f) => /nests deeper than 136 levels/.test(JSON.stringify(f)), 5000);
    assert.ok(refused, path);
    c.send(then);
    assert.ok(await c.nextWhere(answered, 5000), `${path}: the connection still answers`);
  }
  assert.equal((await http(s, 'GET', '/healthz')).status, 200);
});

test('hostile nesting: /v1/tokens refuses an info nested too deep and a token longer than clients may send, with 400', async (t) => {
  const s = await startDev(t);
  const mint = (info: string) => http(s, 'POST', '/v1/tokens', `{"tenant":"demo","user":"u","info":${info}}`, backend);
  const deep = await mint('['.repeat(30_000) + ']'.repeat(30_000));
  assert.equal(deep.status, 400, deep.text);
  assert.match(deep.body.message, /info must be a JSON value nested at most 128 levels deep/);
  const long = await mint(JSON.stringify('x'.repeat(7_000)));
  assert.equal(long.status, 400, long.text);
  assert.match(long.body.message, /more than the 8192 clients may send/);
  const ok = await mint(nested(MAX_JSON_DEPTH));
  assert.equal(ok.status, 200, ok.text);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  c.send({ type: 'auth', id: 1, token: ok.body.token });
  assert.equal((await c.next()).result?.user, 'u', 'what is minted, clients can use');
});

test('hostile input: a text frame of invalid UTF-8 cuts only its own connection (uWS closes it before any handler: 1006)', async (t) => {
  const s = await startDev(t);
  const watcher = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await watcher.next();
  watcher.send({ type: 'auth', id: 1, token });
  watcher.send({ type: 'subscribe', id: 2, channel: 'chat:utf8' });
  await watcher.nextWhere((f) => f.type === 'reply' && f.id === 2);
  for (const path of ['/v1/ws?tenant=demo', '/ws?site=demo', '/otter?tenant=demo', '/monorail/nodes?tenant=demo']) {
    const bad = await connect(t, wsUrl(s, path));
    bad.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false }); // "{", a broken 2-byte sequence, "}"
    assert.equal((await bad.closedWithin(3000)).code, 1006, path);
  }
  await publish(s, 'chat:utf8', { still: 'here' });
  assert.deepEqual((await watcher.nextWhere((f) => f.type === 'message')).data, { still: 'here' });
  assert.equal((await http(s, 'GET', '/healthz')).status, 200);
});
