import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { connect as natsConnect, headers as natsHeaders } from '@nats-io/transport-node';
import { signClientToken } from '@switchyard/shared';
import { eventually } from '@switchyard/testkit';
import { backend, connect, http, wsUrl, type Client } from './helpers.js';
import { startCluster } from './cluster-helpers.js';
import type { RunningServer } from '../src/server.js';

const token = (user = 'u', info?: unknown) => signClientToken('demo-client-secret', { user, ...(info !== undefined ? { info } : {}) });
const b64hmac = (key: string, data: string): string => createHmac('sha256', key).update(data).digest('base64');

let ids = 0;
async function call(c: Client, frame: Record<string, unknown>): Promise<any> {
  const id = ++ids;
  c.send({ ...frame, id });
  return c.nextWhere((f) => f.type === 'reply' && f.id === id, 5000);
}

async function native(t: import('node:test').TestContext, s: RunningServer, user = 'u', info?: unknown): Promise<Client> {
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  const r = await call(c, { type: 'auth', token: token(user, info) });
  assert.ok(r.result, JSON.stringify(r));
  return c;
}

async function publish(s: RunningServer, channel: string, data: unknown): Promise<number> {
  const r = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel, data }, backend);
  assert.equal(r.status, 200, r.text);
  return r.body.seq as number;
}

const messages = (c: Client, n: number, ms = 5000) => c.take(n, (f) => f.type === 'message', ms);

test('cluster: a message posted through the control API reaches subscribers on every gateway with the same seq', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  const a = await native(t, g1);
  const b = await native(t, g2);
  await call(a, { type: 'subscribe', channel: 'chat:all' });
  await call(b, { type: 'subscribe', channel: 'chat:all' });
  // The site dialect on gateway 2 too, fed by the site REST face of the control API.
  const site = await connect(t, wsUrl(g2, '/ws?site=demo'));
  const tok = (await http(cl.control.server, 'GET', '/token?site=demo')).body.token as string;
  site.send({ request: 'subscribe', req_id: 's', body: { channel: 'chat:all', after: 0, token: tok, auth: b64hmac('demo-client-secret', `chat:all${tok}`) } });
  assert.equal((await site.next(5000)).response, 'ok');

  const s1 = await publish(cl.control.server, 'chat:all', { n: 1 });
  const post = await http(cl.control.server, 'POST', '/post?site=demo', { channel: 'chat:all', message: { n: 2 }, token: tok, auth: b64hmac('demo-post-secret', tok) });
  assert.equal(post.status, 200, post.text);
  const s2 = post.body.ord as number;
  assert.ok(s2 > s1);
  for (const c of [a, b]) assert.deepEqual((await messages(c, 2)).map((m) => [m.seq, m.data.n]), [[s1, 1], [s2, 2]]);
  assert.deepEqual(await site.take(2, (f) => f.message === 'chat:all', 5000), [
    { message: 'chat:all', ord: s1, body: { n: 1 } },
    { message: 'chat:all', ord: s2, body: { n: 2 } },
  ]);
});

test('cluster: a batch publish through the control API is stored and delivered in the order given', async (t) => {
  const cl = await startCluster(t, 1);
  const g = cl.gateways[0]!.server;
  const c = await native(t, g);
  await call(c, { type: 'subscribe', channel: 'chat:batch' });
  const batch = Array.from({ length: 100 }, (_, i) => ({ channel: i % 10 === 9 ? 'chat:other' : 'chat:batch', data: { i } }));
  const r = await http(cl.control.server, 'POST', '/v1/publish', { tenant: 'demo', messages: batch }, backend);
  assert.equal(r.status, 200, r.text);
  const seqs = r.body.results.filter((x: any) => x.channel === 'chat:batch').map((x: any) => x.seq as number);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'stored in the order given');
  const got = await messages(c, 90);
  assert.deepEqual(got.map((m) => m.data.i), batch.flatMap((m, i) => (m.channel === 'chat:batch' ? [i] : [])));
  assert.deepEqual(got.map((m) => m.seq), seqs);
});

test('cluster: a client of gateway B that reconnects to gateway A with its last seq gets every missed message once, in order', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  const b = await native(t, g2);
  const sub = await call(b, { type: 'subscribe', channel: 'chat:resume' });
  const seqs: number[] = [];
  for (let i = 0; i < 5; i++) seqs.push(await publish(cl.control.server, 'chat:resume', { i }));
  const seen = await messages(b, 5);
  assert.deepEqual(seen.map((m) => m.seq), seqs);
  b.close();
  await b.closed;
  for (let i = 5; i < 10; i++) seqs.push(await publish(cl.control.server, 'chat:resume', { i }));
  const a = await native(t, g1);
  const racing = (async () => {
    for (let i = 10; i < 15; i++) seqs.push(await publish(cl.control.server, 'chat:resume', { i }));
  })();
  const r = await call(a, { type: 'subscribe', channel: 'chat:resume', after: seen[4].seq, epoch: sub.result.epoch });
  assert.equal(r.result.recovered, true);
  await racing;
  const rest = await messages(a, 10);
  assert.deepEqual(rest.map((m) => m.data.i), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  assert.deepEqual(rest.map((m) => m.seq), seqs.slice(5));
  await assert.rejects(a.nextWhere((f) => f.type === 'message', 300), /no matching frame/);
});

test('cluster: killing a gateway loses nothing for clients that resume on another', async (t) => {
  const cl = await startCluster(t, 2);
  const [n1, n2] = cl.gateways as [(typeof cl.gateways)[0], (typeof cl.gateways)[0]];
  const c = await native(t, n1.server);
  await call(c, { type: 'subscribe', channel: 'chat:crash' });
  const first = await publish(cl.control.server, 'chat:crash', { i: 0 });
  assert.equal((await messages(c, 1))[0].seq, first);
  await n1.crash();
  await c.closedWithin(5000);
  const published = [first];
  for (let i = 1; i <= 5; i++) published.push(await publish(cl.control.server, 'chat:crash', { i }));
  const again = await native(t, n2.server);
  await call(again, { type: 'subscribe', channel: 'chat:crash', after: first });
  assert.deepEqual((await messages(again, 5)).map((m) => m.seq), published.slice(1));
});

test('cluster: a nats-server restart loses no acknowledged message; readiness and publishes report the outage', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  const live = await native(t, g1);
  const sub = await call(live, { type: 'subscribe', channel: 'chat:outage' });
  const acked: number[] = [];
  for (let i = 0; i < 3; i++) acked.push(await publish(cl.control.server, 'chat:outage', { i }));
  await messages(live, 3);

  await cl.nats.kill();
  // Wait (bounded) for every process to notice.
  await eventually(
    async () => (await http(cl.control.server, 'GET', '/readyz')).status === 503 && (await http(g1, 'GET', '/readyz')).status === 503,
    'every process reports not-ready during the outage',
    { timeoutMs: 15_000, everyMs: 100 },
  );
  const refused = await http(cl.control.server, 'POST', '/v1/publish', { tenant: 'demo', channel: 'chat:outage', data: { lost: true } }, backend);
  assert.equal(refused.status, 503);
  assert.equal(refused.body.code, 'unavailable');

  await cl.nats.restart();
  for (let i = 3; i < 6; i++) {
    const seq = await eventually(
      async () => {
        const r = await http(cl.control.server, 'POST', '/v1/publish', { tenant: 'demo', channel: 'chat:outage', data: { i } }, backend);
        if (r.status !== 200) assert.equal(r.status, 503, r.text);
        return r.status === 200 && (r.body.seq as number);
      },
      'publishing recovers after the restart',
      { timeoutMs: 20_000, everyMs: 100 },
    );
    acked.push(seq);
  }
  // The live client, still connected to its gateway, gets the post-restart messages.
  assert.deepEqual((await messages(live, 3, 20_000)).map((m) => m.seq), acked.slice(3));
  // Each process counted its reconnect (each notices on its own schedule).
  for (const server of [cl.control.server, g1]) {
    await eventually(
      async () => /switchyard_broker_reconnects_total\{role="(control-api|gateway)"\} [1-9]/.test((await http(server, 'GET', '/metrics')).text),
      'the reconnect is counted',
      { timeoutMs: 10_000, everyMs: 100 },
    );
  }
  // A client resuming anywhere from the start gets every acknowledged message once.
  const resumer = await native(t, g2);
  await call(resumer, { type: 'subscribe', channel: 'chat:outage', after: 0, epoch: sub.result.epoch });
  assert.deepEqual((await messages(resumer, 6)).map((m) => m.seq), acked);
});

test('cluster: presence lists clients of every gateway, and drops those of a crashed gateway at once', async (t) => {
  const cl = await startCluster(t, 2);
  const [n1, n2] = cl.gateways as [(typeof cl.gateways)[0], (typeof cl.gateways)[0]];
  const a = await native(t, n1.server, 'alice', { color: 'red' });
  const b = await native(t, n2.server, 'bob');
  await call(a, { type: 'subscribe', channel: 'chat:room' });
  await call(b, { type: 'subscribe', channel: 'chat:room' });
  const users = async (): Promise<string[]> => {
    const r = await http(cl.control.server, 'GET', '/v1/presence?tenant=demo&channel=chat:room', undefined, backend);
    assert.equal(r.status, 200, r.text);
    return r.body.clients.map((x: { user: string }) => x.user).sort();
  };
  assert.deepEqual(await users(), ['alice', 'bob']);
  const fromWs = await call(a, { type: 'presence', channel: 'chat:room' });
  assert.deepEqual(fromWs.result.clients.find((x: any) => x.user === 'alice').info, { color: 'red' });
  assert.equal(fromWs.result.clients.length, 2);
  const crashedAt = Date.now();
  await n2.crash();
  assert.deepEqual(await users(), ['alice']);
  assert.ok(Date.now() - crashedAt < 30_000);
});

test('cluster: a gateway receives NATS traffic only for channels it has subscribers on', async (t) => {
  const cl = await startCluster(t, 2);
  const [n1, n2] = cl.gateways as [(typeof cl.gateways)[0], (typeof cl.gateways)[0]];
  const a = await native(t, n1.server);
  const b = await native(t, n2.server);
  await call(a, { type: 'subscribe', channel: 'chat:one' });
  await call(b, { type: 'subscribe', channel: 'chat:two' });
  for (let i = 0; i < 10; i++) await publish(cl.control.server, 'chat:one', { i });
  for (let i = 0; i < 4; i++) await publish(cl.control.server, 'chat:two', { i });
  for (let i = 0; i < 7; i++) await publish(cl.control.server, 'chat:nobody', { i });
  await messages(a, 10);
  await messages(b, 4);
  assert.equal(n1.engine.received, 10);
  assert.equal(n2.engine.received, 4);
  assert.equal(n1.engine.liveSubscriptions(), 1);
  await call(a, { type: 'unsubscribe', channel: 'chat:one' });
  assert.equal(n1.engine.liveSubscriptions(), 0);
  await publish(cl.control.server, 'chat:one', { after: 'unsubscribe' });
  await publish(cl.control.server, 'chat:two', { marker: true });
  await messages(b, 1);
  assert.equal(n1.engine.received, 10, 'no traffic after the last local subscriber left');
  const m = await http(n1.server, 'GET', '/metrics');
  assert.match(m.text, /switchyard_nats_live_messages_total\{role="gateway"\} 10\n/);
});

test('cluster: client publishes reach subscribers on other gateways and backends on the sy.up subject', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  const nc = await natsConnect({ servers: cl.nats.url });
  t.after(() => nc.close());
  const up = nc.subscribe(`${cl.prefix}.up.demo.>`, { max: 1 });
  await nc.flush();
  const listener = await native(t, g2);
  await call(listener, { type: 'subscribe', channel: 'chat:talk' });
  const speaker = await native(t, g1, 'carol', { role: 'host' });
  const r = await call(speaker, { type: 'publish', channel: 'chat:talk', data: { text: 'hello' } });
  assert.ok(r.result.seq > 0);
  const m = (await messages(listener, 1))[0];
  assert.deepEqual([m.seq, m.data, m.from.user, m.from.info], [r.result.seq, { text: 'hello' }, 'carol', { role: 'host' }]);
  for await (const msg of up) {
    assert.equal(msg.subject, `${cl.prefix}.up.demo.chat:talk`);
    assert.deepEqual(msg.json(), { text: 'hello' });
    assert.equal(msg.headers?.get('Sy-Channel'), 'chat:talk');
    assert.equal(JSON.parse(msg.headers?.get('Sy-From') ?? '{}').user, 'carol');
  }
});

test('cluster: a backend publishing straight to NATS reaches clients, stored with a seq', async (t) => {
  const cl = await startCluster(t, 1);
  const g1 = cl.gateways[0]!.server;
  const c = await native(t, g1);
  await call(c, { type: 'subscribe', channel: 'chat:direct' });
  await call(c, { type: 'subscribe', channel: 'lobby' });
  await call(c, { type: 'subscribe', channel: 'live:ticks' });
  const nc = await natsConnect({ servers: cl.nats.url });
  t.after(() => nc.close());
  const { jetstream } = await import('@nats-io/jetstream');
  const js = jetstream(nc);
  const ack = await js.publish(`${cl.prefix}.h.demo.chat.chat:direct`, JSON.stringify({ from: 'backend' }));
  const m = (await messages(c, 1))[0];
  assert.deepEqual([m.channel, m.seq, m.data], ['chat:direct', ack.seq, { from: 'backend' }]);
  // The tenant's default namespace is `~` in subjects.
  const ack2 = await js.publish(`${cl.prefix}.h.demo.~.lobby`, '"hi"');
  assert.deepEqual((await messages(c, 1)).map((x) => [x.channel, x.seq]), [['lobby', ack2.seq]]);
  // A namespace without history: core NATS on the live subject, no seq.
  const h = natsHeaders();
  h.set('Sy-Time', '1234');
  nc.publish(`${cl.prefix}.live.demo.live.live:ticks`, '{"tick":1}', { headers: h });
  const tick = (await messages(c, 1))[0];
  assert.deepEqual([tick.channel, tick.seq, tick.time, tick.data], ['live:ticks', 0, 1234, { tick: 1 }]);
  // Not JSON: dropped by the gateway, never spliced into a frame.
  nc.publish(`${cl.prefix}.live.demo.live.live:ticks`, 'not json');
  nc.publish(`${cl.prefix}.live.demo.live.live:ticks`, '{"tick":2}');
  assert.deepEqual((await messages(c, 1))[0].data, { tick: 2 });
});

test('cluster: GET /stats on the control API sums every node', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  const a = await native(t, g1);
  const b = await native(t, g2);
  await native(t, g2);
  await call(a, { type: 'subscribe', channel: 'chat:s' });
  await call(b, { type: 'subscribe', channel: 'chat:s' });
  await publish(cl.control.server, 'chat:s', 1);
  await messages(a, 1);
  await messages(b, 1);
  const r = await http(cl.control.server, 'GET', '/stats', undefined, { authorization: 'Bearer test-admin-token' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.connections, 3);
  assert.equal(r.body.subscriptions, 2);
  assert.deepEqual(r.body.messages, { in: 1, out: 2 });
  assert.deepEqual(r.body.nodes.map((n: { node: string }) => n.node).sort(), ['cp', 'g1', 'g2']);
});
