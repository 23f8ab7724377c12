import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { withDeadline } from '@switchyard/testkit';
import { Client, type ClientEvents, type ClientOptions, type DisconnectedInfo, SwitchyardError } from '@switchyard/client';
import { FakeServer } from './fake-server.js';
import { delay, Recorder } from './helpers.js';

// The client's close-code policy (docs/protocol.md#close-codes), auth handling, liveness and
// delivery rule, against a fake server that closes with any code on cue and sends frames a
// real server never would. The real-server tests are in the other files.

/** A client on `ws` (no cast: the `ws` class fits the WebSocket option as it is), closed when the test ends. */
function client(t: import('node:test').TestContext, url: string, o: ClientOptions = {}): Client {
  const c = new Client(url, { WebSocket, token: 'tok', ...o });
  t.after(() => c.close());
  return c;
}

/** The next `event` of `c`, within `ms`. */
function next<K extends keyof ClientEvents>(c: Client, event: K, ms = 3000): Promise<ClientEvents[K]> {
  return withDeadline(new Promise<ClientEvents[K]>((r) => c.once(event, (...args) => r(args))), ms, `no '${event}' event`);
}

/** Every `disconnected` event of `c`, as it happens. */
function disconnects(c: Client): DisconnectedInfo[] {
  const out: DisconnectedInfo[] = [];
  c.on('disconnected', (d) => out.push(d));
  return out;
}

test('policy: 1000 and 4000–4099 close the client for good; it never reconnects', async (t) => {
  for (const code of [1000, 4000, 4042, 4099]) {
    const server = await FakeServer.start(t, { afterAuth: (c) => c.close(code, `terminal ${code}`) });
    const c = client(t, server.url, { reconnectBaseMs: 1, reconnectMaxMs: 5, restartJitterMs: 5 });
    const closed = next(c, 'closed');
    c.connect();
    const [info] = await closed;
    assert.equal(info.code, code);
    assert.equal(info.reason, `terminal ${code}`);
    assert.equal(c.state, 'closed');
    // A reconnect would come within 5 ms; give it 20 times that.
    await delay(100);
    assert.equal(server.conns.length, 1, `close ${code} was followed by a reconnect`);
  }
});

test('policy: 4100, 4102, 4103, 1001, 1009, 1011, a cut connection (1006) and unknown codes reconnect with backoff, not at once', async (t) => {
  // The backoff cap is 5 ms and the immediate-reconnect jitter 5 s: a delay above 5 ms means
  // the client took the wrong branch.
  for (const code of [4100, 4102, 4103, 1001, 1009, 1011, 1006, 4100 + 99, 4200, 3000]) {
    const server = await FakeServer.start(t, {
      afterAuth: (c) => {
        if (c.index > 0) return;
        if (code === 1006) c.ws.terminate();
        else c.close(code);
      },
    });
    const c = client(t, server.url, { reconnectBaseMs: 5, reconnectMaxMs: 5, restartJitterMs: 5000 });
    const dropped = next(c, 'disconnected');
    c.connect();
    const [d] = await dropped;
    assert.equal(d.code, code);
    assert.ok(d.reconnectInMs <= 5, `close ${code}: reconnect in ${d.reconnectInMs} ms, above the 5 ms backoff cap`);
    await next(c, 'connected');
    assert.equal(server.conns.length, 2);
    c.close();
  }
});

test('policy: 1012 and 4101 reconnect at once (jittered), with no backoff growth however often they come', async (t) => {
  for (const code of [1012, 4101]) {
    let tokens = 0;
    const server = await FakeServer.start(t, { afterAuth: (c) => c.index < 6 && c.close(code, 'again') });
    // A backoff delay would be anywhere up to 60 s.
    const c = client(t, server.url, { token: undefined, getToken: () => `tok${++tokens}`, reconnectBaseMs: 60_000, restartJitterMs: 50 });
    const ds = disconnects(c);
    const closedAt: number[] = [];
    c.connect();
    for (let i = 0; i < 6; i++) {
      const conn = await server.conn(i);
      await withDeadline(new Promise<void>((r) => conn.ws.once('close', () => r())), 3000, 'no close');
      closedAt.push(Date.now());
    }
    const last = await server.conn(6);
    assert.equal(ds.length, 6);
    for (const d of ds) {
      assert.equal(d.code, code);
      assert.ok(d.reconnectInMs >= 0 && d.reconnectInMs <= 50, `close ${code}: reconnect in ${d.reconnectInMs} ms`);
    }
    const gaps = closedAt.map((at, i) => server.conns[i + 1]!.openedAt - at);
    t.diagnostic(`close ${code}: delays ${ds.map((d) => d.reconnectInMs).join(', ')} ms; close → next connection ${gaps.join(', ')} ms`);
    assert.ok(gaps.every((g) => g < 500), `close ${code}: a reconnect took ${Math.max(...gaps)} ms`);
    // Every connect fetched a fresh token (4101: the old one expired).
    const auth = await last.next((f) => f.type === 'auth');
    assert.equal(auth.token, 'tok7');
    c.close();
  }
});

test('policy: backoff is full-jitter exponential, and resets after a connection that authenticated and stayed up', async (t) => {
  // Connections 0–10 are closed with 4100 right after auth; 11 stays up 300 ms (> backoffResetMs) first.
  const server = await FakeServer.start(t, {
    afterAuth: (c) => {
      if (c.index <= 10) c.close(4100);
      else if (c.index === 11) setTimeout(() => c.close(4100), 300);
    },
  });
  const c = client(t, server.url, { reconnectBaseMs: 1, reconnectMaxMs: 1000, backoffResetMs: 150 });
  const ds = disconnects(c);
  c.connect();
  await server.conn(12, 10_000);
  assert.equal(ds.length, 12);
  const quick = ds.slice(0, 11).map((d) => d.reconnectInMs);
  t.diagnostic(`delays after quick closes: ${quick.join(', ')} ms; after the stable connection: ${ds[11]!.reconnectInMs} ms`);
  quick.forEach((ms, i) => assert.ok(ms <= Math.min(1000, 2 ** i), `attempt ${i}: ${ms} ms above the cap ${Math.min(1000, 2 ** i)}`));
  // Growth: without it the eleven delays would sum to at most 11 ms (expected here: ~1 s).
  assert.ok(quick.reduce((a, b) => a + b, 0) > 50, `no growth: ${quick.join(', ')}`);
  // Reset: the cap is back to 1 ms (without a reset it would be 1000 ms).
  assert.ok(ds[11]!.reconnectInMs <= 1, `no reset: ${ds[11]!.reconnectInMs} ms`);
});

test('auth: token_expired fetches a new token and retries with backoff; token_invalid and permission_denied close for good', async (t) => {
  {
    let tokens = 0;
    const server = await FakeServer.start(t, {
      onAuth: (token, c) => (token === 'tok1' ? { error: { code: 112, name: 'token_expired', message: 'token expired' } } : { conn: c.conn }),
    });
    const c = client(t, server.url, { token: undefined, getToken: () => `tok${++tokens}`, reconnectBaseMs: 20 });
    const errors: SwitchyardError[] = [];
    c.on('error', (e) => errors.push(e));
    const dropped = next(c, 'disconnected');
    const connected = next(c, 'connected');
    c.connect();
    const [d] = await dropped;
    assert.equal(d.code, 0);
    assert.match(d.reason, /token expired/);
    assert.ok(d.reconnectInMs <= 20);
    await connected;
    assert.equal((await server.conn(1)).frames[0]!.token, 'tok2');
    assert.equal(errors[0]?.codeName, 'token_expired');
    c.close();
  }
  for (const error of [
    { code: 111, name: 'token_invalid', message: 'invalid token: bad signature' },
    { code: 113, name: 'permission_denied', message: 'a connection cannot change its user' },
    // A static token cannot be renewed: expired is final too.
    { code: 112, name: 'token_expired', message: 'token expired' },
  ]) {
    const server = await FakeServer.start(t, { onAuth: () => ({ error }) });
    const c = client(t, server.url, { reconnectBaseMs: 1, reconnectMaxMs: 1 });
    const errors: SwitchyardError[] = [];
    c.on('error', (e) => errors.push(e));
    const closed = next(c, 'closed');
    c.connect();
    const [info] = await closed;
    assert.ok(info.error instanceof SwitchyardError);
    assert.equal(info.error.code, error.code);
    assert.equal(info.error.codeName, error.name);
    assert.equal(errors[0], info.error, 'the refusal is an error event too');
    await delay(50);
    assert.equal(server.conns.length, 1, `${error.name}: retried`);
  }
});

test('auth: no token for a tenant that requires one closes with unauthorized; an anonymous tenant connects without auth', async (t) => {
  const required = await FakeServer.start(t);
  const c = client(t, required.url, { token: undefined });
  const closed = next(c, 'closed');
  c.connect();
  const [info] = await closed;
  assert.equal(info.error?.codeName, 'unauthorized');

  const optional = await FakeServer.start(t, { auth: 'optional' });
  const anon = client(t, optional.url, { token: undefined });
  const connected = next(anon, 'connected');
  anon.connect();
  const [conn] = await connected;
  assert.deepEqual(conn, { conn: 'fake:0', node: 'fake' });
  assert.equal(anon.connection?.conn, 'fake:0');
  // It sends commands at once, with no auth before them.
  anon.subscribe('chat:x');
  const first = await (await optional.conn(0)).next(() => true);
  assert.equal(first.type, 'subscribe');
  assert.equal((await optional.conn(0)).ws.protocol, 'switchyard.v1.json');
});

test('liveness: an idle connection is pinged; a ping left unanswered drops it after pingTimeoutMs, and the client reconnects', async (t) => {
  let answer = true;
  const server = await FakeServer.start(t);
  Object.defineProperty(server.b, 'answerPing', { get: () => answer });
  const c = client(t, server.url, { pingIntervalMs: 100, pingTimeoutMs: 150, reconnectBaseMs: 10 });
  const ds = disconnects(c);
  const connected = next(c, 'connected');
  c.connect();
  await connected;
  const conn = await server.conn(0);
  // Answered: pinged about every 100 ms while idle, and kept.
  await conn.next((f) => f.type === 'ping' && conn.frames.filter((g) => g.type === 'ping').length >= 4, 2000);
  assert.equal(ds.length, 0);
  // A half-open connection: the server stays silent.
  answer = false;
  const silentFrom = Date.now();
  const dropped = next(c, 'disconnected');
  const [d] = await dropped;
  const after = Date.now() - silentFrom;
  t.diagnostic(`dropped ${after} ms after the server fell silent (interval 100 ms + timeout 150 ms)`);
  assert.equal(d.code, 0);
  assert.match(d.reason, /no ping reply within 150 ms/);
  assert.ok(after >= 150 && after < 1000, `dropped after ${after} ms`);
  await server.conn(1);
});

test('liveness: a server that never says hello makes the attempt fail after connectTimeoutMs', async (t) => {
  const server = await FakeServer.start(t, { sayHello: (c) => c.index > 0 });
  const c = client(t, server.url, { connectTimeoutMs: 200, reconnectBaseMs: 10 });
  const dropped = next(c, 'disconnected');
  const started = Date.now();
  c.connect();
  const [d] = await dropped;
  assert.equal(d.code, 0);
  assert.match(d.reason, /not connected within 200 ms/);
  assert.ok(Date.now() - started >= 190);
  await next(c, 'connected');
});

test('delivery: duplicates and replays are dropped within an epoch, seq 0 always passes, a new epoch resets; resubscribes carry after and epoch', async (t) => {
  const replies = [
    { last: 7, recovered: true, epoch: 'e1' }, // live-only first subscribe: the channel is at 7
    { last: 9, recovered: true, epoch: 'e1' }, // resume after 9 in e1
    { last: 2, recovered: false, epoch: 'e2' }, // the server restarted
  ];
  const server = await FakeServer.start(t, { onSubscribe: (f, c) => ({ channel: f.channel, ...replies[c.index]! }) });
  const c = client(t, server.url, { reconnectBaseMs: 5 });
  const sub = c.subscribe('chat:a');
  const rec = new Recorder(sub);
  c.connect();
  const msg = (seq: number) => ({ type: 'message', channel: 'chat:a', seq, time: 1, data: { seq } });

  const c0 = await server.conn(0);
  const s0 = await c0.next((f) => f.type === 'subscribe');
  assert.equal(s0.after, undefined, 'the first subscribe is live only');
  for (const seq of [6, 7, 8, 8, 7, 9, 0, 0, 5]) c0.send(msg(seq));
  c0.send({ type: 'message', channel: 'chat:other', seq: 10, time: 1, data: null }); // not subscribed: ignored
  await withDeadline(new Promise<void>((r) => sub.on('message', (m) => m.seq === 0 && rec.seqs.filter((s) => s === 0).length === 2 && r())), 2000, 'messages');
  c0.close(1001);

  const c1 = await server.conn(1);
  const s1 = await c1.next((f) => f.type === 'subscribe');
  assert.deepEqual({ after: s1.after, epoch: s1.epoch }, { after: 9, epoch: 'e1' });
  for (const seq of [9, 10]) c1.send(msg(seq));
  await withDeadline(new Promise<void>((r) => sub.on('message', (m) => m.seq === 10 && r())), 2000, 'seq 10');
  c1.close(4100);

  const c2 = await server.conn(2);
  const s2 = await c2.next((f) => f.type === 'subscribe');
  assert.deepEqual({ after: s2.after, epoch: s2.epoch }, { after: 10, epoch: 'e1' });
  for (const seq of [1, 2, 2, 3]) c2.send(msg(seq));
  await withDeadline(new Promise<void>((r) => sub.on('message', (m) => m.seq === 3 && r())), 2000, 'seq 3');

  assert.deepEqual(rec.seqs, [8, 9, 0, 0, 10, 1, 2, 3]);
  assert.deepEqual(rec.subscribed, [
    { channel: 'chat:a', recovered: true, epoch: 'e1', last: 7, resumed: false },
    { channel: 'chat:a', recovered: true, epoch: 'e1', last: 9, resumed: true },
    { channel: 'chat:a', recovered: false, epoch: 'e2', last: 2, resumed: true },
  ]);
  assert.deepEqual(sub.position, { seq: 3, epoch: 'e2' });
  c2.close(1001);
  const s3 = await (await server.conn(3)).next((f) => f.type === 'subscribe');
  assert.deepEqual({ after: s3.after, epoch: s3.epoch }, { after: 3, epoch: 'e2' });
});

test('delivery: after -1 starts at the newest message, and resumes from just before it if it has not arrived', async (t) => {
  const server = await FakeServer.start(t, { onSubscribe: (f) => ({ channel: f.channel, last: 41, recovered: true, epoch: 'e1' }) });
  const c = client(t, server.url, { reconnectBaseMs: 5 });
  const sub = c.subscribe('chat:b', { after: -1 });
  c.connect();
  const c0 = await server.conn(0);
  assert.equal((await c0.next((f) => f.type === 'subscribe')).after, -1);
  await withDeadline(new Promise<void>((r) => sub.once('subscribed', () => r())), 2000, 'subscribed');
  c0.close(1001);
  const s1 = await (await server.conn(1)).next((f) => f.type === 'subscribe');
  // seq > 40 is message 41 and everything after it, whether seqs are contiguous or not.
  assert.deepEqual({ after: s1.after, epoch: s1.epoch }, { after: 40, epoch: 'e1' });
});

test('delivery: an after beyond the channel’s end (a restarted server, no epoch known) resets too: what the server sends is delivered', async (t) => {
  const server = await FakeServer.start(t, { onSubscribe: (f) => ({ channel: f.channel, last: 2, recovered: false, epoch: 'e9' }) });
  const c = client(t, server.url);
  // A position the app kept across page loads, without its epoch.
  const sub = c.subscribe('chat:c', { after: 5 });
  const rec = new Recorder(sub);
  c.connect();
  const c0 = await server.conn(0);
  assert.deepEqual((await c0.next((f) => f.type === 'subscribe')).after, 5);
  await withDeadline(new Promise<void>((r) => sub.once('subscribed', () => r())), 2000, 'subscribed');
  for (const seq of [1, 2, 3]) c0.send({ type: 'message', channel: 'chat:c', seq, time: 1, data: seq });
  await withDeadline(new Promise<void>((r) => sub.on('message', (m) => m.seq === 3 && r())), 2000, 'seq 3');
  assert.deepEqual(rec.seqs, [1, 2, 3]);
  assert.deepEqual(rec.subscribed.map((s) => [s.recovered, s.resumed, s.epoch]), [[false, true, 'e9']]);
});

test('delivery: a channel without history (seq 0, epoch "") reports recovered:false after a reconnect, although the server says true', async (t) => {
  // What switchyard dev and a cluster answer for a `history: 0` namespace, resume or not.
  const server = await FakeServer.start(t, { onSubscribe: (f) => ({ channel: f.channel, last: 0, recovered: true, epoch: '' }) });
  const c = client(t, server.url, { reconnectBaseMs: 5 });
  const sub = c.subscribe('live:cursor');
  const rec = new Recorder(sub);
  c.connect();
  const c0 = await server.conn(0);
  await withDeadline(new Promise<void>((r) => sub.once('subscribed', () => r())), 2000, 'subscribed');
  for (let i = 0; i < 3; i++) c0.send({ type: 'message', channel: 'live:cursor', seq: 0, time: 1, data: i });
  await withDeadline(new Promise<void>((r) => sub.on('message', () => rec.messages.length === 3 && r())), 2000, 'messages');
  c0.close(1001);
  await withDeadline(new Promise<void>((r) => sub.once('subscribed', () => r())), 2000, 'resubscribed');
  const s1 = await (await server.conn(1)).next((f) => f.type === 'subscribe');
  assert.deepEqual({ after: s1.after, epoch: s1.epoch }, { after: 0, epoch: '' });
  assert.deepEqual(rec.messages.map((m) => m.data), [0, 1, 2]);
  assert.deepEqual(rec.subscribed.map((s) => [s.recovered, s.resumed]), [[true, false], [false, true]]);
});

test('subscriptions: a refusal that is not temporary ends the subscription; a temporary one is retried', async (t) => {
  let calls = 0;
  const server = await FakeServer.start(t, {
    onSubscribe: (f) => {
      if (f.channel === 'denied') return { error: { code: 113, name: 'permission_denied', message: 'token does not allow denied' } };
      if (++calls <= 2) return { error: { code: 130, name: 'unavailable', message: 'NATS unreachable', temporary: true } };
      return { channel: f.channel, last: 0, recovered: true, epoch: 'e1' };
    },
  });
  const c = client(t, server.url, { reconnectBaseMs: 10 });
  const denied = c.subscribe('denied');
  const flaky = c.subscribe('chat:flaky');
  const deniedRec = new Recorder(denied);
  const flakyRec = new Recorder(flaky);
  const ended = withDeadline(new Promise<void>((r) => denied.on('unsubscribed', () => r())), 3000, 'denied did not end');
  const up = withDeadline(new Promise<void>((r) => flaky.on('subscribed', () => r())), 3000, 'flaky was not retried');
  c.connect();
  await ended;
  await up;
  assert.deepEqual(deniedRec.errors.map((e) => [e.code, e.codeName, e.temporary]), [[113, 'permission_denied', false]]);
  assert.equal(denied.state, 'unsubscribed');
  assert.equal(c.getSubscription('denied'), undefined);
  assert.deepEqual(flakyRec.errors.map((e) => [e.code, e.temporary]), [[130, true], [130, true]]);
  assert.equal(flaky.state, 'subscribed');
  assert.equal(c.getSubscription('chat:flaky'), flaky);
  const conn = await server.conn(0);
  assert.equal(conn.frames.filter((f) => f.type === 'subscribe' && f.channel === 'denied').length, 1, 'permission_denied retried');
  assert.throws(() => c.subscribe('chat:flaky'), /already subscribed/);
});

test('publish: a reply lost to a dropped connection rejects with disconnected and is never resent; closed and timeout reject too', async (t) => {
  const server = await FakeServer.start(t, { answerPublish: false });
  const c = client(t, server.url, { reconnectBaseMs: 10, commandTimeoutMs: 300 });
  assert.equal((await c.publish('chat:x', 1).catch((e: unknown) => e) as SwitchyardError).codeName, 'closed', 'publish on a client never connected');
  c.connect();
  const pending = c.publish('chat:x', { text: 'hi' }, { timeoutMs: 5000 }); // sent once connected
  const c0 = await server.conn(0);
  const pub = await c0.next((f) => f.type === 'publish');
  assert.deepEqual(pub.data, { text: 'hi' });
  c0.close(1001);
  const err = await pending.catch((e: unknown) => e);
  assert.ok(err instanceof SwitchyardError);
  assert.equal(err.codeName, 'disconnected');
  assert.equal(err.code, 0);
  await next(c, 'connected');
  const c1 = await server.conn(1);
  // Something after it on the new connection, so that a resent publish would have arrived first.
  const late = c.publish('chat:x', 2).then(() => undefined, (e: unknown) => e as SwitchyardError);
  await c1.next((f) => f.type === 'publish');
  assert.deepEqual(c1.frames.filter((f) => f.type === 'publish').map((f) => f.data), [2]);
  assert.equal((await late)?.codeName, 'timeout');
  const inflight = c.publish('chat:x', 4).then(() => undefined, (e: unknown) => e as SwitchyardError);
  await c1.next((f) => f.type === 'publish' && f.data === 4);
  c.close();
  assert.equal((await inflight)?.codeName, 'closed', 'a command in flight at close()');
  assert.equal((await c.publish('chat:x', 3).catch((e: unknown) => e) as SwitchyardError).codeName, 'closed');
});

test('publish: refusals carry the server error; ack:false refusals come as error events', async (t) => {
  const server = await FakeServer.start(t, { answerPublish: false });
  const c = client(t, server.url);
  const connected = next(c, 'connected');
  c.connect();
  await connected;
  const c0 = await server.conn(0);
  const p = c.publish('news', { x: 1 });
  const f = await c0.next((g) => g.type === 'publish');
  c0.reply(f, { error: { code: 113, name: 'permission_denied', message: 'clients may not publish to news' } });
  const err = (await p.catch((e: unknown) => e)) as SwitchyardError;
  assert.deepEqual([err.code, err.codeName, err.message, err.temporary], [113, 'permission_denied', 'clients may not publish to news', false]);

  const errored = next(c, 'error');
  assert.equal(await c.publish('news', { x: 2 }, { ack: false }), undefined);
  const g = await c0.next((h) => h.type === 'publish' && h.ack === false);
  assert.equal(g.id, undefined);
  c0.send({ type: 'reply', error: { code: 130, name: 'unavailable', message: 'shutting down', temporary: true } });
  const [e] = await errored;
  assert.deepEqual([e.code, e.codeName, e.temporary], [130, 'unavailable', true]);
  assert.match(e.message, /ack: false/);
});

test('listeners that throw never break the client: the error becomes an error event and delivery goes on', async (t) => {
  const server = await FakeServer.start(t);
  const c = client(t, server.url);
  const errors: SwitchyardError[] = [];
  c.on('error', (e) => errors.push(e));
  c.on('state', () => {
    throw new Error('state listener bug');
  });
  const got: number[] = [];
  const sub = c.subscribe('chat:t', {
    onMessage: (m) => {
      got.push(m.seq);
      if (m.seq === 1) throw new Error('onMessage bug');
    },
  });
  const subscribed = withDeadline(new Promise<void>((r) => sub.once('subscribed', () => r())), 3000, 'subscribed');
  c.connect();
  await subscribed;
  const c0 = await server.conn(0);
  c0.send({ type: 'message', channel: 'chat:t', seq: 1, time: 1, data: 1 });
  c0.send({ type: 'message', channel: 'chat:t', seq: 2, time: 1, data: 2 });
  await withDeadline(new Promise<void>((r) => sub.on('message', (m) => m.seq === 2 && r())), 2000, 'seq 2');
  assert.deepEqual(got, [1, 2]);
  assert.equal(c.state, 'connected');
  assert.ok(errors.every((e) => e.codeName === 'listener_threw'));
  assert.ok(errors.some((e) => /onMessage bug/.test(e.message) && e.cause instanceof Error));
  assert.ok(errors.some((e) => /state listener bug/.test(e.message)));
});
