import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { MonoRailClient, type WebSocketConstructor } from '@switchyard/monorail-client';
import { Client, backend, connect, http, startDev, tenants, wsUrl, withDeadline } from './helpers.js';
import { startCluster } from './cluster-helpers.js';
import type { RunningServer } from '../src/server.js';

const putItem = async (s: RunningServer, resource: string, id: string, item: Record<string, unknown>) => {
  const r = await http(s, 'PUT', `/v1/monorail/${resource}/items/${encodeURIComponent(id)}?tenant=demo`, item, backend);
  assert.equal(r.status, 200, r.text);
  return r.body.revision as number;
};
const delItem = async (s: RunningServer, resource: string, id: string) => http(s, 'DELETE', `/v1/monorail/${resource}/items/${id}?tenant=demo`, undefined, backend);
const log = async (s: RunningServer, data: unknown) => {
  const r = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: 'logs:workflows', data }, backend);
  assert.equal(r.status, 200, r.text);
};

async function rail(t: TestContext, s: RunningServer, resource: string): Promise<Client> {
  return connect(t, wsUrl(s, `/monorail/${resource}?tenant=demo`));
}

test('monorail: init → session; all, query, get on a collection; get of a missing item → remove', async (t) => {
  const s = await startDev(t);
  await putItem(s, 'nodes', 'n1', { name: 'alpha', status: 'up' });
  await putItem(s, 'nodes', 'n2', { name: 'beta', status: 'down' });
  await putItem(s, 'nodes', 'n3', { name: 'gamma', status: 'up' });
  const c = await rail(t, s, 'nodes');
  c.send({ handler: 'init' });
  const session = await c.next();
  assert.equal(session.handler, 'session');
  assert.match(session.id, /^test:/);
  c.send({ handler: 'all' });
  assert.deepEqual(await c.next(), {
    handler: 'list',
    items: [{ name: 'alpha', status: 'up', id: 'n1' }, { name: 'beta', status: 'down', id: 'n2' }, { name: 'gamma', status: 'up', id: 'n3' }],
  });
  c.send({ handler: 'query', params: { status: 'up' } });
  assert.deepEqual((await c.next()).items.map((i: { id: string }) => i.id), ['n1', 'n3']);
  c.send({ handler: 'get', params: { id: 'n2' } });
  assert.deepEqual(await c.next(), { handler: 'item', data: { name: 'beta', status: 'down', id: 'n2' } });
  c.send({ handler: 'get', params: { id: 'nope' } });
  assert.deepEqual(await c.next(), { handler: 'remove', params: { id: 'nope' } });
});

test('monorail: watch sends the matching list, then item and remove until stop', async (t) => {
  const s = await startDev(t);
  await putItem(s, 'nodes', 'n1', { status: 'up' });
  await putItem(s, 'nodes', 'n2', { status: 'down' });
  const c = await rail(t, s, 'nodes');
  c.send({ handler: 'watch', params: { status: 'up' } });
  assert.deepEqual(await c.next(), { handler: 'list', items: [{ status: 'up', id: 'n1' }] });
  await putItem(s, 'nodes', 'n3', { status: 'up' });
  assert.deepEqual(await c.next(), { handler: 'item', data: { status: 'up', id: 'n3' } });
  await putItem(s, 'nodes', 'n2', { status: 'down', note: 'still down' }); // never matched: nothing
  await putItem(s, 'nodes', 'n1', { status: 'down' }); // leaves the watched set
  assert.deepEqual(await c.next(), { handler: 'remove', params: { id: 'n1' } });
  assert.equal((await delItem(s, 'nodes', 'n3')).status, 200);
  assert.deepEqual(await c.next(), { handler: 'remove', params: { id: 'n3' } });
  assert.equal((await delItem(s, 'nodes', 'n3')).status, 404);
  c.send({ handler: 'stop', params: { status: 'up' } });
  c.send({ handler: 'init' }); // a marker: everything before it was handled
  assert.equal((await c.next()).handler, 'session');
  await putItem(s, 'nodes', 'n4', { status: 'up' });
  c.send({ handler: 'init' });
  assert.equal((await c.next()).handler, 'session', 'no item after stop');
});

test('monorail: a topic-backed resource: all/query from its log history, watch streams new messages', async (t) => {
  const s = await startDev(t);
  await log(s, { wf: 'a', line: 'started' });
  await log(s, { wf: 'b', line: 'started' });
  const c = await rail(t, s, 'workflow-logs');
  c.send({ handler: 'all' });
  assert.deepEqual(await c.next(), { handler: 'list', items: [{ wf: 'a', line: 'started' }, { wf: 'b', line: 'started' }] });
  c.send({ handler: 'query', params: { wf: 'b' } });
  assert.deepEqual(await c.next(), { handler: 'list', items: [{ wf: 'b', line: 'started' }] });
  c.send({ handler: 'get', params: { wf: 'a' } });
  assert.deepEqual(await c.next(), { handler: 'item', data: { wf: 'a', line: 'started' } });
  c.send({ handler: 'watch', params: { wf: 'a' } });
  c.send({ handler: 'init' });
  assert.equal((await c.next()).handler, 'session');
  await log(s, { wf: 'b', line: 'ignored' });
  await log(s, { wf: 'a', line: 'done' });
  assert.deepEqual(await c.next(), { handler: 'item', data: { wf: 'a', line: 'done' } });
});

test('monorail: errors, unknown resources, and server broadcast to all or a subset', async (t) => {
  const s = await startDev(t);
  const a = await rail(t, s, 'catalogs');
  const b = await rail(t, s, 'catalogs');
  const cases: [unknown, string, string][] = [
    [{ handler: 'fly' }, 'unknown handler: fly', 'unknown_command'],
    [{ params: {} }, 'handler must be a string', 'unknown_command'],
    [{ handler: 'query', params: [1] }, 'params must be an object', 'bad_request'],
    [{ handler: 'get', params: { id: 'x' } }, 'params.catalogId is required', 'bad_request'],
  ];
  for (const [frame, error, code] of cases) {
    a.send(frame);
    assert.deepEqual(await a.next(), { handler: 'error', error, code, request: frame });
  }
  a.send('{bad');
  assert.deepEqual(await a.next(), { handler: 'error', error: 'malformed JSON', code: 'bad_frame' });
  await assert.rejects(Client.open(wsUrl(s, '/monorail/nothing?tenant=demo')), /HTTP 404/);

  a.send({ handler: 'init' });
  const aId = (await a.next()).id as string;
  const all = await http(s, 'POST', '/v1/monorail/catalogs/broadcast?tenant=demo', { message: { handler: 'notice', text: 'to all' } }, backend);
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(await a.next(), { handler: 'notice', text: 'to all' });
  assert.deepEqual(await b.next(), { handler: 'notice', text: 'to all' });
  await http(s, 'POST', '/v1/monorail/catalogs/broadcast?tenant=demo', { message: { handler: 'notice', text: 'just a' }, connections: [aId] }, backend);
  assert.deepEqual(await a.next(), { handler: 'notice', text: 'just a' });
  await assert.rejects(b.next(200), /no matching frame/);
  // Items of a collection with its own id field.
  await putItem(s, 'catalogs', 'c1', { name: 'books' });
  a.send({ handler: 'get', params: { catalogId: 'c1' } });
  assert.deepEqual(await a.next(), { handler: 'item', data: { name: 'books', catalogId: 'c1' } });
});

test('monorail on two gateways: watch across nodes, KV-backed items written through the control API and straight to the bucket', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  const w1 = await rail(t, g1, 'nodes');
  const w2 = await rail(t, g2, 'nodes');
  w1.send({ handler: 'watch' });
  w2.send({ handler: 'watch', params: { rack: 'r2' } });
  assert.deepEqual(await w1.next(5000), { handler: 'list', items: [] });
  assert.deepEqual(await w2.next(5000), { handler: 'list', items: [] });
  await putItem(cl.control.server, 'nodes', 'n1', { rack: 'r1' });
  await putItem(cl.control.server, 'nodes', 'n2', { rack: 'r2' });
  assert.deepEqual((await w1.take(2, () => true, 5000)).map((f) => f.data.id), ['n1', 'n2']);
  assert.deepEqual(await w2.next(5000), { handler: 'item', data: { rack: 'r2', id: 'n2' } });
  // A backend writing straight to the bucket.
  const { connect: natsConnect } = await import('@nats-io/transport-node');
  const { Kvm } = await import('@nats-io/kv');
  const nc = await natsConnect({ servers: cl.nats.url });
  t.after(() => nc.close());
  const kv = await new Kvm(nc).open(`${cl.prefix.toUpperCase()}_MR_4_demo_nodes`);
  await kv.put('n3', JSON.stringify({ id: 'n3', rack: 'r2' }));
  assert.deepEqual(await w2.next(5000), { handler: 'item', data: { id: 'n3', rack: 'r2' } });
  assert.deepEqual((await w1.next(5000)).data, { id: 'n3', rack: 'r2' });
  await kv.delete('n2');
  assert.deepEqual(await w2.next(5000), { handler: 'remove', params: { id: 'n2' } });
  const listed = await http(cl.control.server, 'GET', '/v1/monorail/nodes/items?tenant=demo', undefined, backend);
  assert.deepEqual(listed.body.items.map((i: { id: string }) => i.id).sort(), ['n1', 'n3']);
});

test('monorail client: seed API and events; reconnects after its gateway is killed and gets later updates', async (t) => {
  const cl = await startCluster(t, 1);
  const { startServer } = await import('../src/server.js');
  const { createLogger } = await import('@switchyard/shared');
  const { NatsEngine } = await import('@switchyard/shared/nats');
  const limits = { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 100, idleTimeoutSeconds: 120 };
  const gateway = async (port: number, nodeId: string) => {
    const engine = new NatsEngine({ servers: [cl.nats.url], tenants: tenants(), log: createLogger('silent'), prefix: cl.prefix, manageStreams: false, servePresence: true });
    const server = await startServer({ role: 'gateway', host: '127.0.0.1', port, nodeId, tenants: tenants(), log: createLogger('silent'), engine, limits });
    await engine.whenStarted();
    return { server, engine };
  };
  const first = await gateway(0, 'gwA');
  const port = first.server.port;

  const client = new MonoRailClient(`ws://127.0.0.1:${port}/monorail/nodes?tenant=demo`, {
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 500,
  });
  t.after(() => client.disconnect());
  const seen: string[] = [];
  for (const e of ['open', 'close', 'ready', 'init', 'list', 'item']) client.on(e, () => seen.push(e));
  const next = (event: string, ms = 5000) => withDeadline(new Promise<any>((r) => client.once(event, r)), ms, `no ${event}`);

  const ready = new Promise<void>((r) => client.ready(r));
  client.connect();
  await withDeadline(ready, 5000, 'not ready');
  const id = await withDeadline(new Promise<string>((r) => client.init(r)), 5000, 'no init');
  assert.match(id, /^gwA:/);
  const list = next('list');
  client.watch({ rack: 'r9' });
  assert.deepEqual((await list).items, []);
  const item = next('item');
  await putItem(cl.control.server, 'nodes', 'a', { rack: 'r9' });
  assert.deepEqual((await item).data, { rack: 'r9', id: 'a' });

  // The gateway dies; a new one comes up on the same address (as behind a load balancer).
  const closed = next('close');
  await first.engine.abort();
  await first.server.close();
  await closed;
  const reopened = next('ready', 10_000);
  const second = await gateway(port, 'gwB');
  t.after(() => second.server.close());
  await reopened;
  const relist = await next('list');
  assert.deepEqual(relist.items, [{ rack: 'r9', id: 'a' }], 'the watch was re-established');
  const later = next('item');
  await putItem(cl.control.server, 'nodes', 'b', { rack: 'r9' });
  assert.deepEqual((await later).data, { rack: 'r9', id: 'b' });
  for (const e of ['open', 'ready', 'init', 'list', 'item', 'close']) assert.ok(seen.includes(e), `event ${e} emitted`);
});

test('monorail on two gateways: a topic-backed resource answers all, query, get and streams watches across nodes', async (t) => {
  const cl = await startCluster(t, 2);
  const [g1, g2] = cl.gateways.map((g) => g.server) as [RunningServer, RunningServer];
  await log(cl.control.server, { wf: 'w1', line: 'queued' });
  const a = await rail(t, g1, 'workflow-logs');
  const b = await rail(t, g2, 'workflow-logs');
  a.send({ handler: 'all' });
  assert.deepEqual(await a.next(5000), { handler: 'list', items: [{ wf: 'w1', line: 'queued' }] });
  b.send({ handler: 'query', params: { wf: 'w2' } });
  assert.deepEqual(await b.next(5000), { handler: 'list', items: [] });
  b.send({ handler: 'get', params: { wf: 'w1' } });
  assert.deepEqual(await b.next(5000), { handler: 'item', data: { wf: 'w1', line: 'queued' } });
  // Answers come in request order: init (answered at once) waits for the all before it.
  b.send({ handler: 'all' });
  b.send({ handler: 'init' });
  assert.deepEqual((await b.take(2, () => true, 5000)).map((f) => f.handler), ['list', 'session']);
  a.send({ handler: 'watch', params: { wf: 'w1' } });
  b.send({ handler: 'watch' });
  for (const c of [a, b]) {
    c.send({ handler: 'init' });
    assert.equal((await c.next(5000)).handler, 'session');
  }
  await log(cl.control.server, { wf: 'w2', line: 'started' });
  await log(cl.control.server, { wf: 'w1', line: 'running' });
  assert.deepEqual(await a.next(5000), { handler: 'item', data: { wf: 'w1', line: 'running' } });
  assert.deepEqual((await b.take(2, () => true, 5000)).map((f) => f.data.wf), ['w2', 'w1']);
});
