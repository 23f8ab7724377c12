import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { signClientToken } from '@switchyard/shared';
import { TENANTS, eventually, startNatsServer } from '@switchyard/testkit';
import { startProc, tenantsFile, type Proc } from './cli-process.js';
import { connect, type Client } from './helpers.js';

// Issue 14, part 3, in a cluster of real processes: nats-server, a control API and gateways
// (one of them with --threads 2), clients of several dialects on each. The admin API lists
// every node with its readiness and per-dialect counts, merges the busiest channels over the
// nodes, sums the traffic exactly, reaches connections on any node, and shows a stopped,
// draining or killed gateway for what it is.

const ADMIN = { authorization: `Bearer ${TENANTS.adminToken}` };

async function get(p: Proc, path: string, headers: Record<string, string> = ADMIN): Promise<{ status: number; body: any }> {
  const r = await fetch(p.url + path, { headers, signal: AbortSignal.timeout(5000) });
  return { status: r.status, body: await r.json() };
}

/** The overview, once `check` accepts it (the sampler gathers every 2 s). */
async function overviewWhen(control: Proc, what: string, check: (o: any) => boolean, timeoutMs = 10_000): Promise<any> {
  let last: any;
  try {
    return await eventually(async () => {
      const r = await get(control, '/admin/api/overview');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      last = r.body;
      return check(r.body) && r.body;
    }, what, { timeoutMs, everyMs: 250 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last overview: ${JSON.stringify({ totals: last?.totals, nodes: last?.nodes?.map((n: any) => [n.node, n.status, n.dialects]), busiest: last?.busiest })}`);
  }
}

const nodeOf = (o: any, id: string): any => o.nodes.find((n: any) => n.node === id);
/** A node's dialects with at least one connection. */
const used = (dialects: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(dialects).filter(([, n]) => n > 0));

async function native(t: TestContext, gw: Proc, user: string, channels: readonly string[]): Promise<{ c: Client; conn: string }> {
  const c = await connect(t, `ws://127.0.0.1:${gw.port}/v1/ws?tenant=demo`);
  const hello = await c.next();
  c.send({ type: 'auth', id: 1, token: signClientToken('demo-client-secret', { user }) });
  assert.ok((await c.nextWhere((f) => f.id === 1)).result);
  for (const [i, channel] of channels.entries()) {
    c.send({ type: 'subscribe', id: 10 + i, channel });
    assert.ok((await c.nextWhere((f) => f.id === 10 + i)).result, channel);
  }
  return { c, conn: hello.conn as string };
}

test('admin in a cluster: nodes, readiness, dialects, busiest channels, exact sums, connections on any node, and nodes that stop, drain or die', { timeout: 180_000 }, async (t) => {
  const tenants = tenantsFile(t);
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const common = ['--nats', nats.url, '--nats-prefix', `a${randomBytes(4).toString('hex')}`, '--tenants', tenants];
  const control = await startProc(t, 'cp', 'control-api', [...common, '--node-id', 'cp']);
  const [ga, gb, gt] = await Promise.all([
    // ga drains for a minute on SIGTERM: long enough to be seen draining.
    startProc(t, 'ga', 'gateway', [...common, '--node-id', 'ga', '--drain-delay', '60']),
    startProc(t, 'gb', 'gateway', [...common, '--node-id', 'gb']),
    startProc(t, 'gt', 'gateway', [...common, '--node-id', 'gt', '--threads', '2']),
  ]);
  for (const p of [control, ga, gb, gt]) {
    await eventually(async () => (await fetch(`${p.url}/readyz`)).status === 200, `${p.name} ready`, { timeoutMs: 20_000, everyMs: 100 });
  }

  // Clients: ga 2 native + 1 site + 1 otter; gb 1 native + 1 MonoRail; gt 2 native (one per thread).
  const a1 = await native(t, ga, 'a1', ['chat:hot']);
  const a2 = await native(t, ga, 'a2', ['chat:hot']);
  await connect(t, `ws://127.0.0.1:${ga.port}/ws?site=demo`);
  await connect(t, `ws://127.0.0.1:${ga.port}/otter?tenant=demo`);
  const b1 = await native(t, gb, 'b1', ['chat:hot', 'logs:cold']);
  await connect(t, `ws://127.0.0.1:${gb.port}/monorail/nodes?tenant=demo`);
  const t1 = await native(t, gt, 't1', ['chat:hot']);
  const t2 = await native(t, gt, 't2', ['chat:hot']);
  const threadNodes = [t1.conn, t2.conn].map((c) => c.split(':')[0]).sort();
  assert.deepEqual(threadNodes, ['gt-1', 'gt-2'], 'the acceptor gave each thread one client');

  // Every node, ready, with its dialects (names from the data: idle ones at 0).
  const o = await overviewWhen(control, 'every node and connection counted', (x) => x.totals.nodes === 5 && x.totals.connections === 8 && x.totals.subscriptions === 7);
  assert.equal(o.engine, 'nats');
  assert.deepEqual(o.nodes.map((n: any) => [n.node, n.role, n.status]), [
    ['cp', 'control-api', 'ready'],
    ['ga', 'gateway', 'ready'],
    ['gb', 'gateway', 'ready'],
    ['gt-1', 'gateway', 'ready'],
    ['gt-2', 'gateway', 'ready'],
  ]);
  assert.equal(o.totals.ready, 5);
  assert.deepEqual(used(nodeOf(o, 'ga').dialects), { native: 2, otter: 1, site: 1 });
  assert.deepEqual(used(nodeOf(o, 'gb').dialects), { monorail: 1, native: 1 });
  assert.deepEqual(used(nodeOf(o, 'gt-1').dialects), { native: 1 });
  assert.deepEqual(used(nodeOf(o, 'gt-2').dialects), { native: 1 });
  assert.deepEqual(nodeOf(o, 'cp').dialects, {}, 'a control API holds no sockets');
  for (const d of ['native', 'site', 'bartnet', 'otter', 'wsaas', 'monorail']) assert.equal(typeof nodeOf(o, 'gb').dialects[d], 'number', d);
  assert.deepEqual(used(o.dialects), { monorail: 1, native: 5, otter: 1, site: 1 });
  // The MonoRail connection is subscribed to its resource's hidden broadcast channel.
  assert.deepEqual(['ga', 'gb', 'gt-1', 'gt-2'].map((n) => nodeOf(o, n).subscriptions), [2, 3, 1, 1]);
  assert.deepEqual(used(nodeOf(o, 'gb').dialectSubscriptions), { monorail: 1, native: 2 }, 'subscriptions per dialect and node');
  assert.deepEqual(used(o.dialectSubscriptions), { monorail: 1, native: 6 });
  // The threads of one process: one pid, memory counted once.
  assert.equal(nodeOf(o, 'gt-1').pid, gt.pid);
  assert.equal(nodeOf(o, 'gt-2').pid, gt.pid);
  assert.deepEqual(['cp', 'ga', 'gb'].map((n) => nodeOf(o, n).pid), [control.pid, ga.pid, gb.pid]);
  assert.equal(o.totals.processes, 4);
  for (const n of o.nodes) assert.ok(n.rss > 0 && n.heapUsed > 0 && n.uptime >= 0, n.node);

  // Traffic: a backend publishes to chat:hot (5 subscribers on 4 nodes) through the control API.
  const before = o.totals;
  let published = 0;
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      const r = await fetch(`${control.url}/v1/publish`, { method: 'POST', headers: { authorization: 'Bearer demo-backend-secret' }, body: JSON.stringify({ tenant: 'demo', channel: 'chat:hot', data: { n: published } }) });
      assert.equal(r.status, 200);
      published++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  t.after(() => (publishing = false));
  const busy = await overviewWhen(control, 'chat:hot is the busiest channel, with a rate', (x) => x.busiest.channels[0]?.channel === 'chat:hot' && x.busiest.channels[0].rate > 0 && x.samples.some((s: any) => s.in > 0 && s.out > 0));
  const hot = busy.busiest.channels[0];
  assert.deepEqual([hot.tenant, hot.subscribers, hot.nodes], ['demo', 5, 4]);
  assert.ok(hot.deliveries > hot.rate, 'deliveries/s: each node rate times its subscribers, summed');
  const cold = busy.busiest.channels.find((c: any) => c.channel === 'logs:cold');
  assert.deepEqual([cold.subscribers, cold.rate, cold.nodes], [1, 0, 1]);
  assert.ok(nodeOf(busy, 'cp').inRate > 0, 'the control API counts the REST publishes');
  assert.ok(nodeOf(busy, 'ga').outRate > 0 && nodeOf(busy, 'gt-1').outRate > 0);
  // A tenant's own busiest channels: a fresh gather with the tenant's filter on each node.
  const demo = await get(control, '/admin/api/channels?tenant=demo&limit=1');
  assert.equal(demo.status, 200);
  assert.deepEqual([demo.body.tenant, demo.body.nodes, demo.body.channels.map((c: any) => [c.channel, c.subscribers])], ['demo', 5, [['chat:hot', 5]]]);
  assert.deepEqual((await get(control, '/admin/api/channels?tenant=other')).body.channels, []);
  // What one scatter-gather costs here (docs/admin.md quotes it).
  const took: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    assert.equal((await get(control, '/admin/api/channels?limit=20')).body.nodes, 5);
    took.push(performance.now() - t0);
  }
  t.diagnostic(`GET /admin/api/channels, a fresh gather from 5 nodes: ${took.map((x) => x.toFixed(0)).join(', ')} ms`);

  publishing = false;
  await publisher;
  for (const { c } of [a1, a2, b1, t1, t2]) await c.take(published, (f) => f.type === 'message' && f.channel === 'chat:hot', 10_000);
  // The sums over the nodes are exact: each publish counted once, delivered to 5 subscribers.
  const after = await overviewWhen(control, 'every publish and delivery counted', (x) => x.totals.messagesIn - before.messagesIn === published && x.totals.messagesOut - before.messagesOut === 5 * published);
  const rates = after.samples.filter((s: any) => s.in > 0);
  t.diagnostic(`published ${published}; samples with traffic: ${rates.map((s: any) => `${s.in}/${s.out}`).join(' ')} (publishes/s / deliveries/s)`);
  assert.ok(rates.length > 0);

  // A connection on another gateway, and one on a thread: described and closed from the control API.
  const info = await get(control, `/admin/api/connections/${encodeURIComponent(b1.conn)}`);
  assert.deepEqual([info.status, info.body.node, info.body.dialect, info.body.user, info.body.subscriptions], [200, 'gb', 'native', 'b1', 2]);
  assert.equal((await get(control, `/admin/api/connections/${encodeURIComponent(t2.conn)}`)).body.node, t2.conn.split(':')[0]);
  const del = await fetch(`${control.url}/admin/api/connections/${encodeURIComponent(t2.conn)}`, { method: 'DELETE', headers: ADMIN });
  assert.equal(del.status, 200);
  assert.deepEqual(await t2.c.closedWithin(3000), { code: 1000, reason: 'closed by backend' });
  assert.deepEqual((await get(control, `/admin/api/connections/${encodeURIComponent(t2.conn)}`)).status, 410);

  // The token: none, a wrong one, a backend secret: 401. A gateway serves no admin page.
  for (const headers of [{}, { authorization: 'Bearer nope-nope-nope' }, { authorization: 'Bearer demo-backend-secret' }] as Record<string, string>[]) {
    const r = await get(control, '/admin/api/overview', headers);
    assert.deepEqual([r.status, r.body.code], [401, 'unauthorized']);
  }
  assert.equal((await fetch(`${ga.url}/admin`)).status, 404);

  // A stopped gateway does not answer: listed as missing, out of the totals; back when resumed.
  process.kill(gb.pid, 'SIGSTOP');
  t.after(() => {
    if (gb.run.child.exitCode === null && gb.run.child.signalCode === null) process.kill(gb.pid, 'SIGCONT'); // never left stopped
  });
  const stopped = await overviewWhen(control, 'gb missing', (x) => nodeOf(x, 'gb')?.status === 'missing');
  assert.equal(stopped.totals.nodes, 4);
  assert.equal(stopped.totals.ready, 4);
  assert.equal(stopped.nodes.length, 5, 'still listed');
  process.kill(gb.pid, 'SIGCONT');
  await overviewWhen(control, 'gb ready again', (x) => nodeOf(x, 'gb')?.status === 'ready' && x.totals.nodes === 5);

  // SIGTERM with a drain delay: ga still serves and answers, draining (not ready).
  process.kill(ga.pid, 'SIGTERM');
  const draining = await overviewWhen(control, 'ga draining', (x) => nodeOf(x, 'ga')?.status === 'draining');
  assert.equal(draining.totals.ready, 4);
  assert.equal(draining.totals.nodes, 5);

  // Killed: gone from the gathers, listed as missing.
  process.kill(gb.pid, 'SIGKILL');
  const killed = await overviewWhen(control, 'gb missing after SIGKILL', (x) => nodeOf(x, 'gb')?.status === 'missing');
  assert.equal(killed.totals.nodes, 4);
  assert.deepEqual(killed.nodes.filter((n: any) => n.status === 'ready').map((n: any) => n.node), ['cp', 'gt-1', 'gt-2']);
});
