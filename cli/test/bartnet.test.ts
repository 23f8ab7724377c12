import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { backend, connect, http, startDev, wsUrl, type Client } from './helpers.js';
import { startCluster } from './cluster-helpers.js';
import type { RunningServer } from '../src/server.js';

async function credential(s: RunningServer, customer: string, headers: Record<string, string> = backend): Promise<string> {
  const r = await http(s, 'POST', '/bartnet/authorize', { customer_id: customer }, headers);
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.HMAC, /^\d+--[A-Za-z0-9_-]+$/);
  return r.body.HMAC as string;
}

let nextId = 100;
/** Sends one envelope and returns the reply to it (matched by in_reply_to). */
async function send(c: Client, command: string, attributes: Record<string, string>, extra: Record<string, unknown> = {}): Promise<any> {
  const id = ++nextId;
  c.send({ id, version: 1, command, sent: Date.now(), attributes, ...extra });
  return c.nextWhere((f) => f.in_reply_to === id, 5000);
}

/** Envelope without the fields that vary from run to run. */
const shape = (f: any) => {
  const { id, sent, ...rest } = f;
  assert.equal(typeof id, 'number');
  assert.equal(typeof sent, 'number');
  return rest;
};

async function session(t: TestContext, s: RunningServer, customer: string): Promise<Client> {
  const c = await connect(t, wsUrl(s, '/bartnet'));
  const r = await send(c, 'authenticate', { HMAC: await credential(s, customer) });
  assert.deepEqual(shape(r), { version: 1, command: 'authenticate', in_reply_to: nextId, attributes: { authenticated: customer } });
  return c;
}

async function checkResult(s: RunningServer, customer: string, topic: string, body: Record<string, unknown>): Promise<number> {
  const r = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: `${customer}/${topic}`, data: body }, backend);
  assert.equal(r.status, 200, r.text);
  return r.body.seq;
}

test('bartnet: authenticate and subscribe exactly as the seed shows', async (t) => {
  const s = await startDev(t);
  const c = await session(t, s, 'abc1234');
  const sub = await send(c, 'subscribe', { subscribe_to: 'connected' });
  assert.deepEqual(shape(sub), { version: 1, command: 'subscribe', in_reply_to: nextId, attributes: { subscribed_to: 'connected' } });
  const r = await send(c, 'subscribe', { subscribe_to: 'discovery,check_results', unsubscribe_from: 'connected' });
  assert.deepEqual(shape(r), { version: 1, command: 'subscribe', in_reply_to: nextId, attributes: { subscribed_to: 'discovery,check_results' } });
  // The seed's own example, as docs/dialects/bartnet.md answers it: check_results was there first.
  await send(c, 'subscribe', { unsubscribe_from: 'discovery,check_results' });
  await send(c, 'subscribe', { subscribe_to: 'check_results,connected' });
  const seed = await send(c, 'subscribe', { subscribe_to: 'discovery', unsubscribe_from: 'connected' });
  assert.deepEqual(seed.attributes, { subscribed_to: 'check_results,discovery' });
  const seq = await checkResult(s, 'abc1234', 'discovery', {
    instance_id: 'i-334345',
    host: 'ec2-255-255-255-255.compute-1.amazonaws.com',
    service: 'sg-12345',
    state: 'up',
    time: 12345678,
    description: '',
    tags: ['dev'],
    metric: 0.0,
    ttl: 3.5,
    ignored: 'not an envelope field',
  });
  const ev = await c.next(5000);
  assert.deepEqual(shape(ev), {
    version: 1,
    command: 'event',
    attributes: { topic: 'discovery', seq: String(seq) },
    customer_id: 'abc1234',
    instance_id: 'i-334345',
    host: 'ec2-255-255-255-255.compute-1.amazonaws.com',
    service: 'sg-12345',
    state: 'up',
    time: 12345678,
    description: '',
    tags: ['dev'],
    metric: 0,
    ttl: 3.5,
  });
  await checkResult(s, 'abc1234', 'connected', { state: 'down' });
  await checkResult(s, 'abc1234', 'check_results', { state: 'ok' });
  assert.equal((await c.next(5000)).attributes.topic, 'check_results', 'unsubscribed from connected');
});

test('bartnet: server ids are unique within a session and replies carry in_reply_to', async (t) => {
  const s = await startDev(t);
  const c = await session(t, s, 'cust1');
  await send(c, 'subscribe', { subscribe_to: 'discovery' });
  for (let i = 0; i < 3; i++) await checkResult(s, 'cust1', 'discovery', { state: String(i) });
  const events = await c.take(3);
  const r = await send(c, 'subscribe', { subscribe_to: 'discovery' });
  const ids = [...events, r].map((f) => f.id);
  assert.equal(new Set(ids).size, 4);
});

test('bartnet: errors are error envelopes, before and after authentication', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/bartnet'));
  const err = async (command: string, attributes: Record<string, string>, extra: Record<string, unknown> = {}) => shape(await send(c, command, attributes, extra));
  assert.deepEqual(await err('subscribe', { subscribe_to: 'discovery' }), {
    version: 1, command: 'error', in_reply_to: nextId, attributes: { error: 'authenticate first', code: 'unauthorized' },
  });
  assert.deepEqual((await err('authenticate', { HMAC: '1--iFplvAUtzi_veq_dMKPfnjtg_SQ=' })).attributes, { error: 'invalid HMAC', code: 'token_invalid' });
  assert.deepEqual((await err('authenticate', {}, { version: 2 })).attributes, { error: 'unsupported version 2: this server speaks version 1', code: 'bad_request' });
  assert.deepEqual((await err('launch', {})).attributes, { error: 'unknown command: launch', code: 'unknown_command' });
  c.send('{nope');
  const bad = await c.next();
  assert.deepEqual(shape(bad), { version: 1, command: 'error', attributes: { error: 'malformed JSON', code: 'bad_frame' } });
  await send(c, 'authenticate', { HMAC: await credential(s, 'abc') });
  assert.deepEqual((await err('subscribe', { subscribe_to: 'discovery,nosuchtopic' })).attributes, { error: 'unknown topic: nosuchtopic', code: 'not_found' });
  assert.deepEqual((await err('subscribe', { subscribe_to: 'other/discovery' })).attributes, { error: 'not authenticated for customer other', code: 'permission_denied' });
  // A failed request changed nothing.
  assert.deepEqual((await send(c, 'subscribe', {})).attributes, { subscribed_to: '' });
});

test('bartnet: the authorize endpoint needs a tenant backend bearer and a customer_id', async (t) => {
  const s = await startDev(t);
  assert.equal((await http(s, 'POST', '/bartnet/authorize', { customer_id: 'a' })).status, 401);
  assert.equal((await http(s, 'POST', '/bartnet/authorize', { customer_id: 'a' }, { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await http(s, 'POST', '/bartnet/authorize', {}, backend)).status, 400);
  assert.equal((await http(s, 'POST', '/bartnet/authorize', { customer_id: 'a,b' }, backend)).status, 400);
  // A dot would split the customer's NATS subject: a backend publishing there would reach no one.
  const dotted = await http(s, 'POST', '/bartnet/authorize', { customer_id: 'acme.corp' }, backend);
  assert.equal(dotted.status, 400);
  assert.match(dotted.body.message, /no dots/);
  const other = await credential(s, 'x', { authorization: 'Bearer other-backend-secret' });
  const c = await connect(t, wsUrl(s, '/bartnet'));
  await send(c, 'authenticate', { HMAC: await credential(s, 'y') });
  const r = await send(c, 'authenticate', { HMAC: other });
  assert.equal(r.attributes.code, 'permission_denied', 'a connection stays within one tenant');
});

test('bartnet: an event older than its ttl is not replayed; fresh ones are', async (t) => {
  const s = await startDev(t);
  await checkResult(s, 'c9', 'discovery', { state: 'stale', ttl: 0.001 });
  await checkResult(s, 'c9', 'discovery', { state: 'fresh', ttl: 3600 });
  await checkResult(s, 'c9', 'discovery', { state: 'forever' });
  const c = await session(t, s, 'c9');
  const r = await send(c, 'subscribe', { subscribe_to: 'discovery' });
  assert.equal(r.attributes.subscribed_to, 'discovery');
  const replay = await c.take(2);
  assert.deepEqual(replay.map((e) => e.state), ['fresh', 'forever']);
  await assert.rejects(c.nextWhere(() => true, 200), /no matching frame/);
});

test('bartnet on two gateways: one customer never sees another\'s events; one connection may hold several customers', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  // Credentials come from the control API; sessions live on the gateways.
  const auth = async (c: Client, customer: string) => {
    const r = await send(c, 'authenticate', { HMAC: await credential(cl.control.server, customer) });
    assert.equal(r.attributes.authenticated, customer);
  };
  const acme = await connect(t, wsUrl(g1, '/bartnet'));
  await auth(acme, 'acme');
  const globex = await connect(t, wsUrl(g2, '/bartnet'));
  await auth(globex, 'globex');
  await send(acme, 'subscribe', { subscribe_to: 'discovery,check_results' });
  await send(globex, 'subscribe', { subscribe_to: 'discovery,check_results' });
  await checkResult(cl.control.server, 'acme', 'discovery', { state: 'acme-1' });
  await checkResult(cl.control.server, 'globex', 'discovery', { state: 'globex-1' });
  await checkResult(cl.control.server, 'acme', 'check_results', { state: 'acme-2' });
  assert.deepEqual((await acme.take(2)).map((e) => [e.customer_id, e.state]), [['acme', 'acme-1'], ['acme', 'acme-2']]);
  assert.deepEqual((await globex.take(1)).map((e) => [e.customer_id, e.state]), [['globex', 'globex-1']]);
  await assert.rejects(globex.nextWhere(() => true, 300), /no matching frame/);

  // Several customers on one connection: others' topics are named customer/topic.
  const both = await connect(t, wsUrl(g2, '/bartnet'));
  await auth(both, 'acme');
  await auth(both, 'globex');
  const r = await send(both, 'subscribe', { subscribe_to: 'connected,globex/connected' });
  assert.equal(r.attributes.subscribed_to, 'connected,globex/connected');
  await checkResult(cl.control.server, 'globex', 'connected', { state: 'g' });
  await checkResult(cl.control.server, 'acme', 'connected', { state: 'a' });
  assert.deepEqual((await both.take(2)).map((e) => [e.customer_id, e.attributes.topic, e.state]), [
    ['globex', 'connected', 'g'],
    ['acme', 'connected', 'a'],
  ]);
});

test('bartnet: a subscribe over the subscription limit changes nothing, its unsubscribe part included', async (t) => {
  const s = await startDev(t, { limits: { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 2, idleTimeoutSeconds: 120 } });
  const c = await session(t, s, 'lim');
  assert.equal((await send(c, 'subscribe', { subscribe_to: 'discovery,check_results' })).attributes.subscribed_to, 'discovery,check_results');
  const r = await send(c, 'subscribe', { unsubscribe_from: 'discovery', subscribe_to: 'connected,discovery' });
  assert.deepEqual(r.attributes, { error: 'at most 2 subscriptions per connection', code: 'limit_exceeded' });
  assert.equal((await send(c, 'subscribe', {})).attributes.subscribed_to, 'discovery,check_results');
  // Swapping one topic for another fits.
  const swap = await send(c, 'subscribe', { unsubscribe_from: 'discovery', subscribe_to: 'connected' });
  assert.equal(swap.attributes.subscribed_to, 'check_results,connected');
});

test('bartnet in a cluster: requests sent back to back are answered in order, each seeing the one before', async (t) => {
  const cl = await startCluster(t, 1);
  const c = await connect(t, wsUrl(cl.gateways[0]!.server, '/bartnet'));
  const auth = await send(c, 'authenticate', { HMAC: await credential(cl.control.server, 'abc1234') });
  assert.equal(auth.attributes.authenticated, 'abc1234');
  // Two identical subscribes, then a subscribe and an unsubscribe of the same topic, all in one go.
  const ids = [++nextId, ++nextId, ++nextId, ++nextId];
  const frame = (id: number, attributes: Record<string, string>) => ({ id, version: 1, command: 'subscribe', sent: Date.now(), attributes });
  c.send(frame(ids[0]!, { subscribe_to: 'discovery' }));
  c.send(frame(ids[1]!, { subscribe_to: 'discovery' }));
  c.send(frame(ids[2]!, { subscribe_to: 'connected' }));
  c.send(frame(ids[3]!, { unsubscribe_from: 'connected' }));
  // Error envelopes carry in_reply_to too: any would show up here in place of a subscribe answer.
  const replies = await c.take(4, (f) => ids.includes(f.in_reply_to), 10_000);
  assert.deepEqual(
    replies.map((f: any) => [f.in_reply_to, f.command, f.attributes]),
    [
      [ids[0], 'subscribe', { subscribed_to: 'discovery' }],
      [ids[1], 'subscribe', { subscribed_to: 'discovery' }], // "changes nothing", never already_subscribed
      [ids[2], 'subscribe', { subscribed_to: 'discovery,connected' }],
      [ids[3], 'subscribe', { subscribed_to: 'discovery' }],
    ],
  );
});
