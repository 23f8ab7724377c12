import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { eventually, withDeadline } from '@switchyard/testkit';
import { Client, type ClientEvents, type ClientOptions, type DisconnectedInfo, type Subscription, type SwitchyardError } from '@switchyard/client';
import { msgpack } from '@switchyard/client/msgpack';
import { mintToken, Recorder, restPublish, startDev, tenantsFile, type Dev } from './helpers.js';

// The client (Node, `ws`) against a real `switchyard dev` process, built as users run it.

function client(t: TestContext, url: string, o: ClientOptions): Client {
  const c = new Client(url, { WebSocket, ...o });
  t.after(() => c.close());
  return c;
}

function next<K extends keyof ClientEvents>(c: Client, event: K, ms = 5000): Promise<ClientEvents[K]> {
  return withDeadline(new Promise<ClientEvents[K]>((r) => c.once(event, (...args) => r(args))), ms, `no '${event}' event`);
}

const subscribed = (s: Subscription<any>, ms = 5000) => withDeadline(new Promise<void>((r) => s.once('subscribed', () => r())), ms, `${s.channel} not subscribed`);

/** A getToken that mints through the dev's own control API (in real life: your backend), counting calls. */
function tokens(dev: Dev, claims: Parameters<typeof mintToken>[1]) {
  const counter = { calls: 0, get: async () => (counter.calls++, mintToken(dev.url, claims)) };
  return counter;
}

let dev: Dev;
const closers: (() => unknown)[] = [];
before(async () => {
  // One dev process for the file, killed when the file is done; each test uses channels of its own.
  const root = { after: (fn: () => unknown) => closers.push(fn) } as unknown as TestContext;
  dev = await startDev(root, tenantsFile(root));
});
after(async () => {
  for (const fn of closers.reverse()) await fn();
});

test('dev: getToken, subscribe, publish with ack, receive with from, presence — the five-line use', async (t) => {
  const tok = tokens(dev, { user: 'alice', info: { name: 'Alice' }, channels: ['chat:*'] });
  const c = client(t, dev.ws(), { getToken: tok.get });
  const got: unknown[] = [];
  const sub = c.subscribe('chat:lobby', { onMessage: (m) => got.push(m) });
  const rec = new Recorder(sub);
  c.connect();
  const { seq, time } = await c.publish('chat:lobby', { text: 'hi' });
  assert.equal(seq, 1);
  assert.ok(Math.abs(time - Date.now()) < 5000);
  const me = c.connection!;
  assert.equal(me.user, 'alice');
  assert.match(me.conn, /^[^:]+:.{12}$/);
  assert.ok(me.exp! > Date.now() / 1000 + 3500);
  await eventually(() => got.length === 1, 'own message');
  assert.deepEqual(got[0], { channel: 'chat:lobby', seq: 1, time, data: { text: 'hi' }, from: { conn: me.conn, user: 'alice', info: { name: 'Alice' } } });
  assert.deepEqual(rec.subscribed.map(({ epoch, ...r }) => r), [{ channel: 'chat:lobby', recovered: true, last: 0, resumed: false }]);
  assert.equal(sub.position?.seq, 1);

  assert.equal(await restPublish(dev.url, 'chat:lobby', { from: 'backend' }), 2);
  await eventually(() => got.length === 2, 'backend message');
  assert.deepEqual(rec.messages[1]!.data, { from: 'backend' });
  assert.equal(rec.messages[1]!.from, undefined);

  assert.deepEqual(await c.presence('chat:lobby'), [{ conn: me.conn, user: 'alice', info: { name: 'Alice' } }]);
  assert.equal(tok.calls, 1);
  assert.equal(c.state, 'connected');

  // Unsubscribed: out of presence, and nothing delivered any more.
  await sub.unsubscribe();
  assert.equal(sub.state, 'unsubscribed');
  assert.equal(c.getSubscription('chat:lobby'), undefined);
  assert.deepEqual(await c.presence('chat:lobby'), []);
  await restPublish(dev.url, 'chat:lobby', { after: 'unsubscribe' });
  await c.publish('chat:lobby', 'a marker behind it'); // answered after the message went out
  assert.equal(got.length, 2);
});

test('dev: refusals — permission_denied for channels the token does not allow, invalid_channel, presence off', async (t) => {
  const c = client(t, dev.ws(), { getToken: tokens(dev, { user: 'bob', channels: ['chat:bob*'] }).get });
  const denied = c.subscribe('chat:secret');
  const deniedRec = new Recorder(denied);
  const bad = c.subscribe('');
  const badRec = new Recorder(bad);
  const ended = withDeadline(new Promise<void>((r) => denied.on('unsubscribed', () => r())), 5000, 'no end');
  c.connect();
  await ended;
  assert.deepEqual(deniedRec.errors.map((e) => [e.code, e.codeName, e.temporary]), [[113, 'permission_denied', false]]);
  await eventually(() => badRec.errors.length === 1, 'invalid channel');
  assert.deepEqual([badRec.errors[0]!.code, badRec.errors[0]!.codeName], [120, 'invalid_channel']);
  assert.equal(c.getSubscription('chat:secret'), undefined);

  const refusal = async (p: Promise<unknown>) => (await p.then(() => assert.fail('resolved'), (e: SwitchyardError) => e));
  const e1 = await refusal(c.publish('chat:secret', 1));
  assert.deepEqual([e1.code, e1.codeName], [113, 'permission_denied']);
  const e2 = await refusal(c.presence('chat:secret'));
  assert.deepEqual([e2.code, e2.codeName], [113, 'permission_denied']);
  assert.ok((await c.publish('chat:bob1', 'allowed')).seq > 0);
  const c2 = client(t, dev.ws(), { getToken: tokens(dev, { user: 'carol' }).get });
  c2.connect();
  const e4 = await refusal(c2.presence('small:x'));
  assert.deepEqual([e4.code, e4.codeName, e4.message], [103, 'bad_request', 'presence is off for small:x']);
  const e5 = await refusal(c2.publish('small:x', 1));
  assert.deepEqual([e5.code, e5.codeName], [113, 'permission_denied']); // the namespace does not allow client publishes
  // The refusals left both connections as they were.
  assert.equal(c.state, 'connected');
  assert.equal(c2.state, 'connected');
});

test('dev: msgpack mode — binary frames on switchyard.v1.msgpack, the same messages as JSON clients', async (t) => {
  const sockets: WebSocket[] = [];
  const binary: boolean[] = [];
  // `ws` as is, plus a note of every socket and frame kind.
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
      this.on('message', (_d, isBinary) => binary.push(isBinary));
    }
  }
  const getToken = tokens(dev, { user: 'mp' }).get;
  const mp = client(t, dev.ws(), { getToken, codec: msgpack, WebSocket: Recording });
  const js = client(t, dev.ws(), { getToken });
  const mpSub = mp.subscribe('chat:mp', { after: 0 });
  const jsSub = js.subscribe('chat:mp', { after: 0 });
  const mpRec = new Recorder(mpSub);
  const jsRec = new Recorder(jsSub);
  mp.connect();
  js.connect();
  await Promise.all([subscribed(mpSub), subscribed(jsSub)]);
  const payload = { text: 'ü', n: 2 ** 40, list: [1, 2.5, null, true, { deep: ['x'] }] };
  const a = await mp.publish('chat:mp', payload);
  const b = await js.publish('chat:mp', 'from json');
  assert.equal(b.seq, a.seq + 1);
  await eventually(() => mpRec.messages.length === 2 && jsRec.messages.length === 2, 'both messages on both clients');
  assert.deepEqual(mpRec.messages.map((m) => m.data), [payload, 'from json']);
  assert.deepEqual(jsRec.messages.map((m) => m.data), [payload, 'from json']);
  assert.deepEqual(mpRec.messages[0]!.from, { conn: mp.connection!.conn, user: 'mp' });
  assert.deepEqual((await mp.presence('chat:mp')).map((e) => e.conn).sort(), [mp.connection!.conn, js.connection!.conn].sort());
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0]!.protocol, 'switchyard.v1.msgpack');
  assert.ok(binary.length >= 5 && binary.every((b) => b), `frames binary: ${binary.join(',')}`);
});

test('dev: history — after 0 gets everything the channel holds, after -1 the newest message; an anonymous tenant needs no token', async (t) => {
  for (let i = 1; i <= 3; i++) await restPublish(dev.url, 'chat:hist', { i });
  const c = client(t, dev.ws(), { getToken: tokens(dev, { user: 'h' }).get });
  const all = new Recorder(c.subscribe('chat:hist', { after: 0 }));
  const newest = new Recorder(c.subscribe('logs:hist', { after: -1 }));
  for (let i = 1; i <= 2; i++) await restPublish(dev.url, 'logs:hist', { i });
  c.connect();
  await eventually(() => all.messages.length === 3 && newest.messages.length === 1, 'history');
  assert.deepEqual(all.seqs, [1, 2, 3]);
  assert.deepEqual(all.subscribed.map((s) => [s.recovered, s.resumed, s.last]), [[true, true, 3]]);
  assert.deepEqual(newest.messages.map((m) => [m.seq, m.data]), [[2, { i: 2 }]]);

  const anon = client(t, dev.ws('other'), {});
  const got = new Recorder(anon.subscribe('news'));
  const connected = next(anon, 'connected');
  anon.connect();
  const [info] = await connected;
  assert.equal(info.user, undefined);
  await subscribed(anon.getSubscription('news')!);
  const res = await fetch(`${dev.url}/v1/publish`, {
    method: 'POST',
    headers: { authorization: 'Bearer other-backend-secret' },
    body: JSON.stringify({ tenant: 'other', channel: 'news', data: 'anon' }),
  });
  assert.equal(res.status, 200);
  await eventually(() => got.messages.length === 1, 'anonymous delivery');
  assert.equal(got.messages[0]!.data, 'anon');
});

test('dev: tokens are refreshed on the open connection before they expire — same connection, no 4101', async (t) => {
  // 3-second tokens: without refreshes the server closes the connection (4101) within 3 s.
  const tok = tokens(dev, { user: 'r', ttl: 3 });
  const c = client(t, dev.ws(), { getToken: tok.get });
  const drops: DisconnectedInfo[] = [];
  const errors: SwitchyardError[] = [];
  c.on('disconnected', (d) => drops.push(d));
  c.on('error', (e) => errors.push(e));
  const rec = new Recorder(c.subscribe('chat:refresh'));
  const connected = next(c, 'connected');
  c.connect();
  const [first] = await connected;
  const exps = [first.exp!];
  const started = Date.now();
  await eventually(() => {
    const exp = c.connection?.exp;
    if (exp !== undefined && exp !== exps.at(-1)) exps.push(exp);
    return tok.calls >= 4 && exps.length >= 4;
  }, 'three refreshes', { timeoutMs: 12_000, everyMs: 50 });
  t.diagnostic(`${tok.calls - 1} refreshes in ${Date.now() - started} ms; exps ${exps.join(', ')}`);
  assert.deepEqual(drops, [], 'the connection dropped');
  assert.deepEqual(errors, []);
  assert.equal(c.connection?.conn, first.conn, 'a new connection');
  // Past the first token's expiry and still serving.
  assert.ok(Date.now() / 1000 > first.exp!);
  const { seq } = await c.publish('chat:refresh', 'still here');
  await eventually(() => rec.seqs.includes(seq), 'delivery after the refreshes');
});

test('dev: 4101 — a token that could not be refreshed expires; the client reconnects at once with a fresh one and resumes', async (t) => {
  let calls = 0;
  const c = client(t, dev.ws(), {
    getToken: async () => {
      // The refresh fails (the backend is down, say): the server's 4101 comes at expiry.
      if (++calls === 2) throw new Error('backend down');
      return mintToken(dev.url, { user: 'x', ttl: 2 });
    },
  });
  const errors: SwitchyardError[] = [];
  c.on('error', (e) => errors.push(e));
  const sub = c.subscribe('chat:expiry');
  const rec = new Recorder(sub);
  const connected = next(c, 'connected');
  c.connect();
  const [first] = await connected;
  await subscribed(sub);
  await c.publish('chat:expiry', 'before');
  const dropped = next(c, 'disconnected', 5000);
  const [d] = await dropped;
  const droppedAt = Date.now();
  assert.equal(d.code, 4101);
  assert.equal(d.reason, 'token expired');
  assert.ok(d.reconnectInMs <= 1000, `4101: reconnect in ${d.reconnectInMs} ms`);
  // A backend publish while the client is away.
  const missed = await restPublish(dev.url, 'chat:expiry', 'while away');
  const [second] = await next(c, 'connected', 3000);
  t.diagnostic(`4101 → reconnected in ${Date.now() - droppedAt} ms (planned delay ${d.reconnectInMs} ms)`);
  assert.notEqual(second.conn, first.conn);
  assert.equal(calls, 3);
  assert.equal(errors[0]?.codeName, 'get_token_failed');
  await eventually(() => rec.seqs.includes(missed), 'the message published while away');
  assert.deepEqual(rec.messages.map((m) => m.data), ['before', 'while away']);
  assert.deepEqual(rec.subscribed.map((s) => [s.recovered, s.resumed]), [[true, false], [true, true]]);
});

test('dev: a static token cannot be renewed — at its expiry (4101) the server answers token_expired and the client closes', async (t) => {
  const token = await mintToken(dev.url, { user: 's', ttl: 2 });
  const c = client(t, dev.ws(), { token });
  const drops: DisconnectedInfo[] = [];
  c.on('disconnected', (d) => drops.push(d));
  const closed = next(c, 'closed', 5000);
  c.connect();
  const [info] = await closed;
  assert.deepEqual(drops.map((d) => d.code), [4101]);
  assert.equal(info.error?.codeName, 'token_expired');
  assert.equal(c.state, 'closed');
});
