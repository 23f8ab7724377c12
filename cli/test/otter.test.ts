import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { eventually, testTenants } from '@switchyard/testkit';
import { backend, connect, http, startDev, wsUrl, type Client } from './helpers.js';
import { startCluster } from './cluster-helpers.js';
import type { RunningServer } from '../src/server.js';

// Seed 004: lowercase hex HMAC-SHA256, computed here independently of the server's code, with
// the per-purpose keys of docs/security.md: hex(HMAC(secret, "switchyard/<purpose>/v1")).
const hex = (key: string, data: string): string => createHmac('sha256', key).update(data).digest('hex');
const SECRET = hex('demo-client-secret', 'switchyard/otter-presence/v1');
const BACKEND_SECRET = hex('demo-backend-secret', 'switchyard/otter-backend/v1');

interface Otter {
  c: Client;
  id: string;
}

async function open(t: TestContext, s: RunningServer): Promise<Otter> {
  const c = await connect(t, wsUrl(s, '/otter?tenant=demo'));
  const hello = await c.next();
  assert.deepEqual(Object.keys(hello), ['id']);
  assert.equal(typeof hello.id, 'string');
  return { c, id: hello.id as string };
}

async function client(t: TestContext, s: RunningServer, presence?: string): Promise<Otter> {
  const o = await open(t, s);
  if (presence !== undefined) o.c.send({ command: 'auth', presence, signature: hex(SECRET, presence) });
  return o;
}

/** A backend signs every command with HMAC(backendSecret, its connection id). */
async function backendConn(t: TestContext, s: RunningServer): Promise<Otter & { send: (f: Record<string, unknown>) => void }> {
  const o = await open(t, s);
  const sig = hex(BACKEND_SECRET, o.id);
  return { ...o, send: (f) => o.c.send({ ...f, signature: sig }) };
}

/** Success is silent: wait until the cluster-wide client list shows the expected ids. */
async function clientsOf(s: RunningServer, channel: string): Promise<{ id: string; presence?: string }[]> {
  const r = await http(s, 'GET', `/otter/channels/${encodeURIComponent(channel)}/clients?tenant=demo`, undefined, backend);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.channel, channel);
  return r.body.clients;
}

async function untilClients(s: RunningServer, channel: string, n: number): Promise<{ id: string; presence?: string }[]> {
  let list: { id: string; presence?: string }[] = [];
  return eventually(async () => {
    list = await clientsOf(s, channel);
    return list.length === n && list;
  }, `${n} clients on ${channel} (have ${JSON.stringify(list)})`);
}

test('otter: on connect the server sends the connection id; commands succeed silently', async (t) => {
  const s = await startDev(t);
  const a = await client(t, s, 'alice');
  a.c.send({ command: 'sub', channel: 'channel name' });
  a.c.send({ command: 'sub', channel: 'channel name' }); // twice: nothing happens
  a.c.send({ command: 'unsub', channel: 'never subscribed' }); // nothing happens
  const list = await untilClients(s, 'channel name', 1);
  assert.deepEqual(list, [{ id: a.id, presence: 'alice' }]);
  await assert.rejects(a.c.nextWhere(() => true, 200), /no matching frame/, 'nothing was answered');
});

test('otter: errors echo the whole original command in `from`', async (t) => {
  const s = await startDev(t);
  const a = await client(t, s);
  const cases: [unknown, string][] = [
    [{ command: 'auth', presence: 'alice', signature: 'deadbeef', extra: [1, 2] }, 'invalid signature'],
    [{ command: 'auth', signature: 'x' }, 'presence must be a string'],
    [{ command: 'dance', channel: 'x' }, 'unknown command: dance'],
    [{ command: 'sub' }, 'channel must be 1-200 characters without control characters'],
    [{ command: 'pub', channel: 'x' }, 'message is required'],
    [{ command: 'sub', channel: 'x', signature: 'not-the-backend' }, 'invalid signature'],
  ];
  for (const [frame, error] of cases) {
    a.c.send(frame);
    assert.deepEqual(await a.c.next(), { error, from: frame });
  }
  a.c.send('{oops');
  assert.deepEqual(await a.c.next(), { error: 'malformed JSON', from: '{oops' });
});

test('otter: with requireAuth, sub and pub need auth first', async (t) => {
  const strict = testTenants({ otter: { requireAuth: true } });
  const s = await startDev(t, { tenants: strict });
  const a = await client(t, s);
  a.c.send({ command: 'sub', channel: 'c' });
  assert.deepEqual(await a.c.next(), { error: 'authentication required', from: { command: 'sub', channel: 'c' } });
  a.c.send({ command: 'auth', presence: 'p', signature: hex(SECRET, 'p') });
  a.c.send({ command: 'sub', channel: 'c' });
  assert.deepEqual(await untilClients(s, 'c', 1), [{ id: a.id, presence: 'p' }]);
});

test('otter on two gateways: client pub reaches backends (on the other node) and no client; backend pub reaches clients', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  const be = await backendConn(t, g2);
  be.send({ command: 'sub', channel: 'room' });
  const alice = await client(t, g1, 'alice');
  const bob = await client(t, g2); // no auth: no presence
  alice.c.send({ command: 'sub', channel: 'room' });
  bob.c.send({ command: 'sub', channel: 'room' });
  // The backend on g2 learns of both subscriptions (alice's from the other node).
  const subs = await be.c.take(2, (f) => f.type === 'sub', 5000);
  assert.deepEqual(
    subs.sort((x, y) => (x.connection.id === alice.id ? -1 : 1)),
    [
      { type: 'sub', channel: 'room', connection: { id: alice.id, presence: 'alice' } },
      { type: 'sub', channel: 'room', connection: { id: bob.id } },
    ],
  );
  // The REST list spans both nodes.
  const list = await untilClients(cl.control.server, 'room', 2);
  assert.deepEqual(list.map((x) => x.id).sort(), [alice.id, bob.id].sort());

  alice.c.send({ command: 'pub', channel: 'room', message: 'hello backend' });
  assert.deepEqual(await be.c.nextWhere((f) => f.type === 'pub', 5000), {
    type: 'pub',
    channel: 'room',
    message: 'hello backend',
    connection: { id: alice.id, presence: 'alice' },
  });
  be.send({ command: 'pub', channel: 'room', message: { text: 'hello clients' } });
  const want = { type: 'pub', channel: 'room', message: { text: 'hello clients' }, connection: { id: be.id } };
  assert.deepEqual(await alice.c.next(5000), want);
  assert.deepEqual(await bob.c.next(5000), want);
  // REST publishes reach clients too, without a connection.
  const r = await http(cl.control.server, 'POST', '/v1/publish', { tenant: 'demo', channel: 'room', data: 'from REST' }, backend);
  assert.equal(r.status, 200);
  assert.deepEqual(await alice.c.next(5000), { type: 'pub', channel: 'room', message: 'from REST' });
  // Clients never saw alice's pub, and the backend never saw its own or the REST one.
  assert.deepEqual(await bob.c.next(5000), { type: 'pub', channel: 'room', message: 'from REST' });
  assert.equal(alice.c.frames.length + bob.c.frames.length, 0);
  await assert.rejects(be.c.nextWhere((f) => f.type === 'pub', 300), /no matching frame/);

  // unsub and disconnect both reach the backend as unsub; backends get no events of backends.
  bob.c.send({ command: 'unsub', channel: 'room' });
  assert.deepEqual(await be.c.nextWhere((f) => f.type === 'unsub', 5000), { type: 'unsub', channel: 'room', connection: { id: bob.id } });
  const other = await backendConn(t, g1);
  other.send({ command: 'sub', channel: 'room' });
  alice.c.close();
  assert.deepEqual(await be.c.nextWhere((f) => f.type === 'unsub', 5000), {
    type: 'unsub',
    channel: 'room',
    connection: { id: alice.id, presence: 'alice' },
  });
  assert.deepEqual(await other.c.nextWhere((f) => f.type === 'unsub', 5000), {
    type: 'unsub',
    channel: 'room',
    connection: { id: alice.id, presence: 'alice' },
  });
  assert.equal(be.c.frames.filter((f: any) => f.type === 'sub').length, 0, 'no sub event for the other backend');
  assert.deepEqual(await untilClients(cl.control.server, 'room', 0), []);
});

test('otter: a backend must sign every command; a client pub reaches backends listening on NATS', async (t) => {
  const cl = await startCluster(t, 1);
  const g1 = cl.gateways[0]!.server;
  const be = await backendConn(t, g1);
  be.send({ command: 'sub', channel: 'x' });
  be.c.send({ command: 'pub', channel: 'x', message: 1 });
  assert.deepEqual(await be.c.next(), { error: 'backend commands must carry signature', from: { command: 'pub', channel: 'x', message: 1 } });
  const { connect: natsConnect } = await import('@nats-io/transport-node');
  const nc = await natsConnect({ servers: cl.nats.url });
  t.after(() => nc.close());
  const up = nc.subscribe(`${cl.prefix}.up.demo.>`, { max: 1 });
  await nc.flush();
  const c = await client(t, g1, 'pres');
  c.c.send({ command: 'pub', channel: 'x', message: { n: 1 } });
  for await (const m of up) {
    assert.equal(m.subject, `${cl.prefix}.up.demo.x`);
    assert.deepEqual(m.json(), { n: 1 });
    assert.deepEqual(JSON.parse(m.headers!.get('Sy-From')), { conn: c.id, info: 'pres' });
  }
  assert.deepEqual((await be.c.nextWhere((f) => f.type === 'pub')).message, { n: 1 });
});
