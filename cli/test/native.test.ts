import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from 'msgpackr';
import { signClientToken } from '@switchyard/shared';
import { backend, connect, http, publish, startDev, wsUrl, type Client } from './helpers.js';
import type { RunningServer } from '../src/server.js';

const SECRET = 'demo-client-secret';
const token = (claims: Parameters<typeof signClientToken>[1] = { user: 'alice' }) => signClientToken(SECRET, claims);

let ids = 0;
/** Sends a command and returns its reply. */
async function call(c: Client, frame: Record<string, unknown>): Promise<any> {
  const id = ++ids;
  c.send({ ...frame, id });
  return c.nextWhere((f) => f.type === 'reply' && f.id === id);
}

async function authed(t: TestContext, s: RunningServer, claims?: Parameters<typeof signClientToken>[1]): Promise<Client> {
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  const hello = await c.next();
  assert.equal(hello.type, 'hello');
  const r = await call(c, { type: 'auth', token: token(claims) });
  assert.ok(r.result, JSON.stringify(r));
  return c;
}

test('native: hello carries the connection id; auth answers with it', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  const hello = await c.next();
  assert.equal(hello.type, 'hello');
  assert.equal(hello.version, 1);
  assert.equal(hello.auth, 'required');
  assert.match(hello.conn, /^test:/);
  const r = await call(c, { type: 'auth', token: token({ user: 'alice', exp: Math.floor(Date.now() / 1000) + 60 }) });
  assert.equal(r.result.conn, hello.conn);
  assert.equal(r.result.user, 'alice');
  assert.deepEqual(await call(c, { type: 'ping' }), { type: 'reply', id: ids, result: {} });
});

test('native: subscribe, receive REST publishes with seq, unsubscribe', async (t) => {
  const s = await startDev(t);
  const c = await authed(t, s);
  const r = await call(c, { type: 'subscribe', channel: 'chat:a' });
  assert.deepEqual({ ...r.result, epoch: undefined }, { channel: 'chat:a', last: 0, recovered: true, epoch: undefined });
  assert.equal(await publish(s, 'chat:a', { text: 'hi' }), 1);
  const m = await c.nextWhere((f) => f.type === 'message');
  assert.equal(typeof m.time, 'number');
  assert.deepEqual({ ...m, time: 0 }, { type: 'message', channel: 'chat:a', seq: 1, time: 0, data: { text: 'hi' } });
  assert.deepEqual((await call(c, { type: 'unsubscribe', channel: 'chat:a' })).result, {});
  await publish(s, 'chat:a', { text: 'gone' });
  await call(c, { type: 'ping' });
  assert.equal(c.frames.length, 0);
});

test('native: resume from a seq replays the rest once, in order, then live', async (t) => {
  const s = await startDev(t);
  for (let i = 1; i <= 5; i++) await publish(s, 'chat:r', { i });
  const c = await authed(t, s);
  const id = ++ids;
  c.send({ type: 'subscribe', id, channel: 'chat:r', after: 2 });
  const reply = await c.next();
  assert.deepEqual([reply.id, reply.result.last, reply.result.recovered], [id, 5, true]);
  const replay = await c.take(3);
  assert.deepEqual(replay.map((m) => m.seq), [3, 4, 5]);
  await publish(s, 'chat:r', { i: 6 });
  assert.equal((await c.next()).seq, 6);
});

test('native: after -1 gives the last message; a resume point older than the history is not recovered', async (t) => {
  const s = await startDev(t);
  for (let i = 1; i <= 6; i++) await publish(s, 'small:x', { i }); // namespace "small" keeps 3
  const c = await authed(t, s);
  const last = await call(c, { type: 'subscribe', channel: 'small:x', after: -1 });
  assert.equal(last.result.recovered, true);
  assert.deepEqual((await c.next()).data, { i: 6 });
  const c2 = await authed(t, s);
  const old = await call(c2, { type: 'subscribe', channel: 'small:x', after: 1 });
  assert.equal(old.result.recovered, false);
  assert.deepEqual((await c2.take(3)).map((m) => m.seq), [4, 5, 6]);
});

test('native: many concurrent resumes racing publishes see no duplicate, hole or reordering', async (t) => {
  const s = await startDev(t);
  for (let i = 1; i <= 20; i++) await publish(s, 'chat:race', { i });
  const clients = await Promise.all(Array.from({ length: 8 }, () => authed(t, s)));
  const publishing = (async () => {
    for (let i = 21; i <= 60; i++) await publish(s, 'chat:race', { i });
  })();
  await Promise.all(clients.map((c, k) => call(c, { type: 'subscribe', channel: 'chat:race', after: k * 2 })));
  await publishing;
  for (const [k, c] of clients.entries()) {
    const got = await c.take(60 - k * 2, (f) => f.type === 'message');
    assert.deepEqual(got.map((m) => m.seq), Array.from({ length: 60 - k * 2 }, (_, j) => k * 2 + 1 + j), `client ${k}`);
  }
});

test('native: client publish where the namespace allows it, with sender info', async (t) => {
  const s = await startDev(t);
  const a = await authed(t, s, { user: 'alice', info: { name: 'Alice' } });
  const b = await authed(t, s, { user: 'bob' });
  await call(b, { type: 'subscribe', channel: 'chat:p' });
  const r = await call(a, { type: 'publish', channel: 'chat:p', data: { text: 'yo' } });
  assert.equal(r.result.seq, 1);
  const m = await b.nextWhere((f) => f.type === 'message');
  assert.deepEqual(m.data, { text: 'yo' });
  assert.deepEqual(m.from, { conn: (await call(a, { type: 'auth', token: token({ user: 'alice', info: { name: 'Alice' } }) })).result.conn, user: 'alice', info: { name: 'Alice' } });
  const denied = await call(a, { type: 'publish', channel: 'news', data: 1 });
  assert.equal(denied.error.name, 'permission_denied');
  assert.equal(denied.error.code, 113);
});

test('native: a publish with ack:false gets no reply on success, still an error reply on failure', async (t) => {
  const s = await startDev(t);
  const a = await authed(t, s);
  const b = await authed(t, s, { user: 'bob' });
  await call(b, { type: 'subscribe', channel: 'chat:q' });
  a.send({ type: 'publish', id: 'quiet', ack: false, channel: 'chat:q', data: { n: 1 } });
  a.send({ type: 'publish', ack: false, channel: 'chat:q', data: { n: 2 } });
  assert.deepEqual((await b.take(2, (f) => f.type === 'message')).map((m) => [m.seq, m.data.n]), [[1, 1], [2, 2]]);
  // The next frame a gets is the answer to its ping: nothing came back for the two publishes.
  a.send({ type: 'ping', id: 'p' });
  assert.deepEqual(await a.next(), { type: 'reply', id: 'p', result: {} });
  const denied = await call(a, { type: 'publish', ack: false, channel: 'news', data: 1 });
  assert.equal(denied.error.name, 'permission_denied');
  const bad = await call(a, { type: 'publish', ack: 'no', channel: 'chat:q', data: 1 });
  assert.equal(bad.error.name, 'bad_request');
  assert.match(bad.error.message, /ack/);
});

test('native: a command\'s answer comes before the message of a publish sent after it', async (t) => {
  const s = await startDev(t);
  const c = await authed(t, s);
  await call(c, { type: 'subscribe', channel: 'chat:o' });
  // Sent back to back (one read on the server): the refused publish's error is queued for the
  // end of the turn while the next publish reaches the channel's topic at once.
  const relevant = (f: any): boolean => f.type === 'reply' || f.type === 'message';
  for (let i = 0; i < 50; i++) {
    const ack = i % 2 === 0;
    c.send({ type: 'publish', id: `no${i}`, channel: 'news', data: 1 });
    c.send({ type: 'publish', id: `yes${i}`, ack, channel: 'chat:o', data: { i } });
    const [first] = await c.take(1, relevant);
    assert.equal(first.id, `no${i}`, `round ${i}: ${JSON.stringify(first)}`);
    assert.equal(first.error.name, 'permission_denied');
    // The second publish's own reply and message are not ordered with each other.
    const rest = await c.take(ack ? 2 : 1, relevant);
    assert.deepEqual(rest.filter((f) => f.type === 'message').map((f) => f.data.i), [i]);
  }
  assert.deepEqual(c.frames, []);
});

test('native: presence lists subscribers of presence channels', async (t) => {
  const s = await startDev(t);
  const a = await authed(t, s, { user: 'alice', info: { color: 'red' } });
  const b = await authed(t, s, { user: 'bob' });
  await call(a, { type: 'subscribe', channel: 'chat:room' });
  await call(b, { type: 'subscribe', channel: 'chat:room' });
  const p = await call(a, { type: 'presence', channel: 'chat:room' });
  assert.deepEqual(p.result.clients.map((x: any) => x.user).sort(), ['alice', 'bob']);
  assert.deepEqual(p.result.clients.find((x: any) => x.user === 'alice').info, { color: 'red' });
  b.close();
  await b.closed;
  const rest = await http(s, 'GET', '/v1/presence?tenant=demo&channel=chat:room', undefined, backend);
  assert.deepEqual(rest.body.clients.map((x: any) => x.user), ['alice']);
  assert.equal((await call(a, { type: 'presence', channel: 'nopresence' })).error.name, 'bad_request');
});

test('native: msgpack subprotocol speaks the same objects in binary frames', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'), 'switchyard.v1.msgpack');
  assert.equal(c.ws.protocol, 'switchyard.v1.msgpack');
  const hello = await c.next();
  assert.equal(hello.type, 'hello');
  const send = (f: unknown) => c.ws.send(pack(f));
  send({ type: 'auth', id: 1, token: token() });
  assert.equal((await c.next()).result.user, 'alice');
  send({ type: 'subscribe', id: 2, channel: 'chat:m' });
  assert.equal((await c.next()).result.channel, 'chat:m');
  await publish(s, 'chat:m', { n: [1, 2, 3], s: 'x' });
  const m = await c.next();
  assert.deepEqual([m.type, m.channel, m.seq, m.data], ['message', 'chat:m', 1, { n: [1, 2, 3], s: 'x' }]);
  send({ type: 'publish', id: 3, channel: 'chat:m', data: { from: 'msgpack' } });
  const frames = await c.take(2);
  assert.deepEqual(frames.find((f) => f.type === 'reply')?.result.seq, 2);
  assert.deepEqual(frames.find((f) => f.type === 'message')?.data, { from: 'msgpack' });
  c.ws.send(Buffer.from([0x82, 0xa1, 0x61])); // a map cut short
  assert.equal((await c.next()).error.name, 'bad_frame');
});

test('native: JSON and msgpack subscribers of one channel each get their own encoding', async (t) => {
  const s = await startDev(t);
  const j = await authed(t, s);
  const m = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'), ['switchyard.v1.msgpack']);
  await m.next();
  m.ws.send(pack({ type: 'auth', id: 1, token: token() }));
  await m.next();
  m.ws.send(pack({ type: 'subscribe', id: 2, channel: 'chat:mix' }));
  await m.next();
  await call(j, { type: 'subscribe', channel: 'chat:mix' });
  await publish(s, 'chat:mix', { ok: true });
  assert.deepEqual((await j.nextWhere((f) => f.type === 'message')).data, { ok: true });
  assert.deepEqual((await m.nextWhere((f) => f.type === 'message')).data, { ok: true });
});

test('native: every bad input gets a typed error and the connection stays usable', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  const expired = token({ user: 'a', exp: Math.floor(Date.now() / 1000) - 10 });
  const cases: [unknown, string][] = [
    ['{nope', 'bad_frame'],
    ['"a string"', 'bad_frame'],
    [{ type: 'subscribe', channel: 'chat:a' }, 'unauthorized'],
    [{ type: 'auth', token: 'x.y.z' }, 'token_invalid'],
    [{ type: 'auth', token: signClientToken('wrong-secret', { user: 'a' }) }, 'token_invalid'],
    [{ type: 'auth', token: expired }, 'token_expired'],
    [{ type: 'fly' }, 'unknown_command'],
    [{ id: {}, type: 'ping' }, 'bad_request'],
  ];
  for (const [frame, want] of cases) {
    c.send(frame);
    const r = await c.next();
    assert.equal((r.error ?? {}).name, want, JSON.stringify(frame));
    assert.equal(typeof r.error.code, 'number');
    assert.equal(typeof r.error.message, 'string');
  }
  await call(c, { type: 'auth', token: token({ user: 'alice', channels: ['chat:*'] }) });
  const after: [Record<string, unknown>, string][] = [
    [{ type: 'subscribe', channel: '' }, 'invalid_channel'],
    [{ type: 'subscribe', channel: 'x'.repeat(201) }, 'invalid_channel'],
    [{ type: 'subscribe', channel: 'bad\u0001name' }, 'invalid_channel'],
    [{ type: 'subscribe', channel: 'news' }, 'permission_denied'],
    [{ type: 'subscribe', channel: 'chat:a', after: 1.5 }, 'bad_request'],
    [{ type: 'unsubscribe', channel: 'chat:a' }, 'not_subscribed'],
    [{ type: 'publish', channel: 'chat:a' }, 'bad_request'],
    [{ type: 'auth', token: token({ user: 'mallory' }) }, 'permission_denied'],
  ];
  for (const [frame, want] of after) assert.equal((await call(c, frame)).error?.name, want, JSON.stringify(frame));
  assert.ok((await call(c, { type: 'subscribe', channel: 'chat:a' })).result);
  assert.equal((await call(c, { type: 'subscribe', channel: 'chat:a' })).error?.name, 'already_subscribed');
});

test('native: an oversized frame gets payload_too_large and close 1009; others are unaffected', async (t) => {
  const s = await startDev(t, {
    limits: { maxPayload: 1024, maxBufferedBytes: 1 << 20, maxSubscriptions: 10, idleTimeoutSeconds: 120 },
  });
  const other = await authed(t, s);
  await call(other, { type: 'subscribe', channel: 'chat:o' });
  const c = await authed(t, s);
  c.send({ type: 'publish', id: 99, channel: 'chat:o', data: 'x'.repeat(2000) });
  const err = await c.next();
  assert.equal(err.error.name, 'payload_too_large');
  assert.equal((await c.closedWithin()).code, 1009);
  await publish(s, 'chat:o', { still: 'here' });
  assert.deepEqual((await other.nextWhere((f) => f.type === 'message')).data, { still: 'here' });
  const tooBig = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: 'chat:o', data: 'y'.repeat(1500) }, backend);
  assert.equal(tooBig.status, 413);
  assert.equal(tooBig.body.code, 'payload_too_large');
});

test('native: subscription limit per connection', async (t) => {
  const s = await startDev(t, {
    limits: { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 2, idleTimeoutSeconds: 120 },
  });
  const c = await authed(t, s);
  assert.ok((await call(c, { type: 'subscribe', channel: 'a' })).result);
  assert.ok((await call(c, { type: 'subscribe', channel: 'b' })).result);
  assert.equal((await call(c, { type: 'subscribe', channel: 'c' })).error.name, 'limit_exceeded');
  await call(c, { type: 'unsubscribe', channel: 'a' });
  assert.ok((await call(c, { type: 'subscribe', channel: 'c' })).result);
});

test('native: anonymous tenants allow subscribing without auth; unknown tenants are refused', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=other'));
  assert.equal((await c.next()).auth, 'optional');
  assert.ok((await call(c, { type: 'subscribe', channel: 'x' })).result);
  await publish(s, 'x', 1, 'other');
  assert.equal((await c.next()).data, 1);
  await assert.rejects(connect(t, wsUrl(s, '/v1/ws?tenant=nope')), /HTTP 404/);
  // A refused upgrade is an error answered like any other: it is counted.
  const metrics = await http(s, 'GET', '/metrics');
  assert.match(metrics.text, /^switchyard_errors_total\{code="unknown_tenant",role="dev"\} 1$/m);
});

test('native: a token that expires closes the connection with 4101', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  // exp is in whole seconds: the next second boundary, at most 1 s away.
  const exp = Math.floor(Date.now() / 1000) + 1;
  c.send({ type: 'auth', id: 1, token: token({ user: 'a', exp }) });
  assert.ok((await c.next()).result);
  const closed = await c.closedWithin(3000);
  assert.deepEqual(closed, { code: 4101, reason: 'token expired' });
});

test('native: a resume point from another epoch replays everything held, not recovered', async (t) => {
  const s = await startDev(t);
  for (let i = 1; i <= 4; i++) await publish(s, 'chat:e', { i });
  const c = await authed(t, s);
  const same = await call(c, { type: 'subscribe', channel: 'chat:e', after: 3 });
  assert.equal(same.result.recovered, true);
  assert.deepEqual((await c.take(1, (f) => f.type === 'message')).map((m) => m.seq), [4]);
  const c2 = await authed(t, s);
  const other = await call(c2, { type: 'subscribe', channel: 'chat:e', after: 3, epoch: 'an-older-run' });
  assert.equal(other.result.recovered, false);
  assert.notEqual(other.result.epoch, 'an-older-run');
  assert.equal(other.result.epoch, same.result.epoch);
  assert.deepEqual((await c2.take(4, (f) => f.type === 'message')).map((m) => m.seq), [1, 2, 3, 4]);
  assert.equal((await call(c2, { type: 'subscribe', channel: 'chat:f', after: 0, epoch: 7 })).error.name, 'bad_request');
});

test('native: a live-only subscribe reports the channel position', async (t) => {
  const s = await startDev(t);
  await publish(s, 'chat:x', 1);
  await publish(s, 'chat:x', 2);
  const c = await authed(t, s);
  const r = await call(c, { type: 'subscribe', channel: 'chat:x' });
  assert.equal(r.result.last, 2);
  assert.match(r.result.epoch, /^[0-9a-f-]{36}\.\d+$/);
  await publish(s, 'chat:x', 3);
  assert.equal((await c.nextWhere((f) => f.type === 'message')).seq, 3);
});

test('native: a channel without history keeps nothing: seq 0, last 0, epoch "", as in a cluster', async (t) => {
  const s = await startDev(t);
  assert.equal(await publish(s, 'live:x', 1), 0);
  const c = await authed(t, s);
  const r = await call(c, { type: 'subscribe', channel: 'live:x' });
  assert.deepEqual(r.result, { channel: 'live:x', last: 0, recovered: true, epoch: '' });
  await publish(s, 'live:x', 2);
  const m = await c.nextWhere((f) => f.type === 'message');
  assert.deepEqual([m.seq, m.data], [0, 2]);
  const resumed = await call(await authed(t, s), { type: 'subscribe', channel: 'live:x', after: 5, epoch: '' });
  assert.equal(resumed.result.recovered, false, 'nothing to resume from');
});

test('native: msgpack 64-bit integers arrive as numbers; binary values are refused', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'), 'switchyard.v1.msgpack');
  await c.next();
  c.ws.send(pack({ type: 'auth', id: 1, token: token() }));
  await c.next();
  c.ws.send(pack({ type: 'subscribe', id: 2, channel: 'chat:b' }));
  await c.next();
  c.ws.send(pack({ type: 'publish', id: 3, channel: 'chat:b', data: { big: 2n ** 40n } }));
  const frames = await c.take(2);
  assert.deepEqual(frames.find((f) => f.type === 'message')?.data, { big: 2 ** 40 });
  c.ws.send(pack({ type: 'publish', id: 4, channel: 'chat:b', data: { raw: Buffer.from([1, 2, 3]) } }));
  const r = await c.next();
  assert.equal(r.id, 4);
  assert.equal(r.error.name, 'bad_request');
  assert.match(r.error.message, /binary/);
});
