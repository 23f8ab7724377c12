import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { connect, http, startDev, wsUrl, type Client } from './helpers.js';
import type { RunningServer } from '../src/server.js';

// Seed 002 computes signatures as base64(hmac256(key, data)); computed here independently.
const b64hmac = (key: string, data: string): string => createHmac('sha256', key).update(data).digest('base64');
const SECRET = 'demo-client-secret';
const POST_SECRET = 'demo-post-secret';

async function token(s: RunningServer): Promise<string> {
  const r = await http(s, 'GET', '/token?site=demo');
  assert.equal(r.status, 200);
  assert.equal(r.body.expires, 300);
  assert.equal(typeof r.body.token, 'string');
  return r.body.token as string;
}

async function post(s: RunningServer, channel: string, message: unknown): Promise<void> {
  const tok = await token(s);
  const r = await http(s, 'POST', '/post?site=demo', { channel, message, token: tok, auth: b64hmac(POST_SECRET, tok) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.status, 'ok');
}

let reqIds = 0;
async function subscribe(s: RunningServer, c: Client, channel: string, after: number): Promise<any> {
  const tok = await token(s);
  const req_id = `r${++reqIds}`;
  c.send({ request: 'subscribe', req_id, body: { channel, after, token: tok, auth: b64hmac(SECRET, channel + tok) } });
  return c.nextWhere((f) => f.req_id === req_id);
}

const messages = (c: Client, n: number, channel: string) => c.take(n, (f) => f.message === channel);

test('site: subscribe after 0 waits for new messages, which arrive with ord', async (t) => {
  const s = await startDev(t);
  await post(s, 'foo', { old: true });
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  assert.deepEqual(await subscribe(s, c, 'foo', 0), { response: 'ok', req_id: `r${reqIds}`, body: null });
  await post(s, 'foo', { n: 1 });
  assert.deepEqual(await c.next(), { message: 'foo', ord: 2, body: { n: 1 } });
});

test('site: after -1 sends the last message from the buffer, then new ones', async (t) => {
  const s = await startDev(t);
  for (let i = 1; i <= 3; i++) await post(s, 'foo', { n: i });
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  assert.equal((await subscribe(s, c, 'foo', -1)).response, 'ok');
  assert.deepEqual(await c.next(), { message: 'foo', ord: 3, body: { n: 3 } });
  await post(s, 'foo', { n: 4 });
  assert.deepEqual(await c.next(), { message: 'foo', ord: 4, body: { n: 4 } });
});

test('site: after N sends every buffered message with a greater ord, right after the ok', async (t) => {
  const s = await startDev(t);
  for (let i = 1; i <= 5; i++) await post(s, 'foo', { n: i });
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  const tok = await token(s);
  c.send({ request: 'subscribe', req_id: 'x', body: { channel: 'foo', after: 2, token: tok, auth: b64hmac(SECRET, `foo${tok}`) } });
  const frames = await c.take(4);
  assert.deepEqual(frames, [
    { response: 'ok', req_id: 'x', body: null },
    { message: 'foo', ord: 3, body: { n: 3 } },
    { message: 'foo', ord: 4, body: { n: 4 } },
    { message: 'foo', ord: 5, body: { n: 5 } },
  ]);
});

test('site: a reconnecting client resumes with no loss and no duplicates while posts keep coming', async (t) => {
  const s = await startDev(t);
  const c1 = await connect(t, wsUrl(s, '/ws?site=demo'));
  await subscribe(s, c1, 'room', 0);
  for (let i = 1; i <= 10; i++) await post(s, 'room', { i });
  const first = await messages(c1, 10, 'room');
  const lastOrd = first[9].ord as number;
  c1.close();
  await c1.closed;
  for (let i = 11; i <= 20; i++) await post(s, 'room', { i });
  const c2 = await connect(t, wsUrl(s, '/ws?site=demo'));
  // Posts race the resubscribe: every message must still arrive once, in order.
  const racing = (async () => {
    for (let i = 21; i <= 30; i++) await post(s, 'room', { i });
  })();
  assert.equal((await subscribe(s, c2, 'room', lastOrd)).response, 'ok');
  await racing;
  const rest = await messages(c2, 20, 'room');
  assert.deepEqual(
    [...first, ...rest].map((m) => m.body.i),
    Array.from({ length: 30 }, (_, k) => k + 1),
  );
  assert.deepEqual(
    rest.map((m) => m.ord),
    Array.from({ length: 20 }, (_, k) => lastOrd + 1 + k),
  );
  await assert.rejects(c2.nextWhere((f) => f.message === 'room', 200), /no matching frame/);
});

test('site: unsubscribe stops delivery; req_id is echoed only when given', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  await subscribe(s, c, 'foo', 0);
  await subscribe(s, c, 'bar', 0);
  c.send({ request: 'unsubscribe', body: { channel: 'foo' } });
  assert.deepEqual(await c.next(), { response: 'ok', body: null });
  await post(s, 'foo', { n: 1 });
  await post(s, 'bar', { n: 2 });
  assert.deepEqual(await c.next(), { message: 'bar', ord: 1, body: { n: 2 } });
  c.send({ request: 'unsubscribe', req_id: 'u2', body: { channel: 'foo' } });
  assert.deepEqual(await c.next(), { response: 'error', req_id: 'u2', body: 'not subscribed to foo' });
});

test('site: bad requests get error responses and the connection keeps working', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  const tok = await token(s);
  const cases: [unknown, RegExp][] = [
    ['{not json', /malformed JSON/],
    ['[1,2]', /JSON object/],
    [{ request: 'dance', req_id: 'a' }, /unknown request: dance/],
    [{ request: 'subscribe', req_id: 'b', body: { channel: 'foo', after: 0, token: tok, auth: 'wrong' } }, /auth/],
    [{ request: 'subscribe', req_id: 'c', body: { channel: 'foo', after: 0, token: 'bm90IGEgdG9rZW4=', auth: b64hmac(SECRET, 'foobm90IGEgdG9rZW4=') } }, /token/],
    [{ request: 'subscribe', req_id: 'd', body: { channel: '', after: 0, token: tok, auth: b64hmac(SECRET, tok) } }, /invalid channel/],
    [{ request: 'subscribe', req_id: 'e', body: { channel: 'foo', after: 'x', token: tok, auth: b64hmac(SECRET, `foo${tok}`) } }, /after/],
    [{ request: 'subscribe', req_id: 'f' }, /body/],
  ];
  for (const [frame, want] of cases) {
    c.send(frame);
    const r = await c.next();
    assert.equal(r.response, 'error', JSON.stringify(frame));
    assert.match(r.body, want);
  }
  assert.equal((await subscribe(s, c, 'foo', 0)).response, 'ok');
  const dup = await subscribe(s, c, 'foo', 0);
  assert.deepEqual([dup.response, dup.body], ['error', 'already subscribed to foo']);
});

test('site: an expired token is refused', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  const { issueSiteToken } = await import('@switchyard/shared');
  const old = issueSiteToken('demo', SECRET, 300, Date.now() - 301_000).token;
  c.send({ request: 'subscribe', req_id: 'x', body: { channel: 'foo', after: 0, token: old, auth: b64hmac(SECRET, `foo${old}`) } });
  assert.deepEqual(await c.next(), { response: 'error', req_id: 'x', body: 'token expired' });
});

test('site: POST /post and GET /token errors are 400 {status:error,message}', async (t) => {
  const s = await startDev(t);
  const tok = await token(s);
  const cases: [string, unknown, RegExp][] = [
    ['/post?site=demo', { channel: 'foo', message: {}, token: tok, auth: b64hmac('wrong', tok) }, /auth/],
    ['/post?site=demo', { channel: 'foo', message: {}, token: 'garbage', auth: b64hmac(POST_SECRET, 'garbage') }, /token/],
    ['/post?site=demo', { channel: 'foo', token: tok, auth: b64hmac(POST_SECRET, tok) }, /message is required/],
    ['/post?site=demo', '{oops', /JSON/],
    ['/post?site=nosuch', { channel: 'foo', message: {}, token: tok, auth: b64hmac(POST_SECRET, tok) }, /unknown site/],
    ['/post', { channel: 'foo', message: {} }, /site is required/],
  ];
  for (const [path, body, want] of cases) {
    const r = await http(s, 'POST', path, body);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.equal(r.body.status, 'error');
    assert.match(r.body.message, want);
  }
  const unknown = await http(s, 'GET', '/token?site=nosuch');
  assert.equal(unknown.status, 400);
  assert.deepEqual(unknown.body, { status: 'error', message: "unknown site 'nosuch'" });
});

test('site: a token is bound to its site', async (t) => {
  const s = await startDev(t);
  const r = await http(s, 'GET', '/token?site=other');
  const tok = r.body.token as string;
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  c.send({ request: 'subscribe', req_id: 'x', body: { channel: 'foo', after: 0, token: tok, auth: b64hmac(SECRET, `foo${tok}`) } });
  assert.equal((await c.next()).response, 'error');
});

test('site: unknown site is refused at upgrade with 404', async (t) => {
  const s = await startDev(t);
  await assert.rejects(connect(t, wsUrl(s, '/ws?site=nosuch')), /HTTP 404/);
  await assert.rejects(connect(t, wsUrl(s, '/ws')), /HTTP 400/);
});

test('site: GET /stats needs the admin token and reports uptime, memory and counts', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  await subscribe(s, c, 'foo', 0);
  await post(s, 'foo', { n: 1 });
  await c.next();
  assert.equal((await http(s, 'GET', '/stats')).status, 401);
  assert.equal((await http(s, 'GET', '/stats', undefined, { authorization: 'Bearer nope' })).status, 401);
  const r = await http(s, 'GET', '/stats', undefined, { authorization: 'Bearer test-admin-token' });
  assert.equal(r.status, 200);
  assert.equal(typeof r.body.uptime, 'number');
  assert.ok(r.body.memory > 1_000_000);
  assert.equal(r.body.connections, 1);
  assert.equal(r.body.channels, 1);
  assert.deepEqual(r.body.messages, { in: 1, out: 1 });
});
