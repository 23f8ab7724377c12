import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { eventually, withDeadline } from '@switchyard/testkit';
import { Client, type ClientOptions, type DisconnectedInfo } from '@switchyard/client';
import { FaultCluster, type Proc } from '../../cli/test/faults/cluster.js';
import { Balancer, deliveryProblems, mintToken, Recorder, SteadyPublisher } from './helpers.js';

// A cluster of separate processes (nats-server, a control API, two gateways) behind a TCP
// balancer written here. Clients go through the balancer; a backend publishes through the
// control API at a steady rate and keeps the acknowledged seqs.

interface Watched {
  readonly c: Client;
  readonly rec: Recorder<{ n: number }>;
  readonly drops: (DisconnectedInfo & { at: number })[];
  /** When each `subscribed` event came. */
  readonly subscribedAt: number[];
}

function watchedClients(t: TestContext, n: number, url: string, control: Proc, channel: string, o: ClientOptions = {}): Watched[] {
  return Array.from({ length: n }, (_, i) => {
    const c = new Client(url, { WebSocket, getToken: () => mintToken(control.url, { user: `u${i}` }), ...o });
    t.after(() => c.close());
    const drops: Watched['drops'] = [];
    c.on('disconnected', (d) => drops.push({ ...d, at: Date.now() }));
    const sub = c.subscribe<{ n: number }>(channel);
    const subscribedAt: number[] = [];
    sub.on('subscribed', () => subscribedAt.push(Date.now()));
    const rec = new Recorder(sub);
    c.connect();
    return { c, rec, drops, subscribedAt };
  });
}

/** The gateway process a client is connected to, by its node id (`gw0-1` is process `gw0#1`). */
const procOf = (cluster: FaultCluster, w: Watched): Proc | undefined => cluster.gateways.find((g) => g !== undefined && g.name.replace('#', '-') === w.c.connection?.node);

test('cluster: SIGKILL of the gateway a client is on, mid-stream — it resumes on the other through the balancer: recovered:true, every acknowledged message exactly once, in order', { timeout: 90_000 }, async (t) => {
  const cluster = await FaultCluster.start(t);
  const [g0, g1] = cluster.gateways as [Proc, Proc];
  const lb = await Balancer.start(t, [g0.port, g1.port]);
  const channel = `chat:kill-${randomBytes(3).toString('hex')}`;
  const clients = watchedClients(t, 4, lb.url, cluster.control, channel, { reconnectBaseMs: 100, reconnectMaxMs: 1000 });
  await eventually(() => clients.every((w) => w.rec.subscribed.length === 1), 'every client subscribed', { timeoutMs: 15_000 });
  // Round robin: two on each gateway.
  assert.deepEqual(clients.map((w) => procOf(cluster, w)?.name).sort(), [g0.name, g0.name, g1.name, g1.name].sort());

  const publisher = new SteadyPublisher(() => cluster.control.url, channel, 50).start();
  t.after(() => publisher.stop());
  await eventually(() => clients.every((w) => w.rec.messages.length >= 10), 'every client receives', { timeoutMs: 10_000 });

  const victim = procOf(cluster, clients[0]!)!;
  const moving = clients.filter((w) => procOf(cluster, w) === victim);
  const killedAt = Date.now();
  cluster.signal(victim, 'SIGKILL');
  await eventually(() => moving.every((w) => w.rec.subscribed.length === 2), 'the clients of the dead gateway resubscribed', { timeoutMs: 15_000 });
  const survivor = victim === g0 ? g1 : g0;
  for (const w of moving) assert.equal(procOf(cluster, w), survivor);
  t.diagnostic(`resubscribed on ${survivor.name} ${moving.map((w) => w.subscribedAt[1]! - killedAt).join(', ')} ms after the SIGKILL (close codes ${moving.map((w) => w.drops[0]!.code).join(', ')})`);

  const ackedAtKill = publisher.acked.length;
  await eventually(() => publisher.acked.length >= ackedAtKill + 50, 'publishing goes on', { timeoutMs: 10_000 });
  await publisher.stop();
  const last = publisher.acked.at(-1)!;
  await eventually(() => clients.every((w) => w.rec.messages.some((m) => m.data.n === last.n)), 'every client has the last message', { timeoutMs: 10_000 });

  for (const [i, w] of clients.entries()) {
    assert.deepEqual(deliveryProblems(w.rec.messages, publisher.acked), [], `client ${i}`);
    // Resubscribes resumed from the last seq and nothing was missing.
    for (const s of w.rec.subscribed.slice(1)) assert.deepEqual([s.recovered, s.resumed, s.epoch], [true, true, w.rec.subscribed[0]!.epoch], `client ${i}`);
  }
  for (const w of moving) assert.equal(w.drops[0]!.code, 1006);
  // Seqs in a cluster grow but need not be contiguous; what matters is the order.
  t.diagnostic(`${publisher.acked.length} acknowledged of ${publisher.attempts} publishes; ${moving.length} clients moved; seqs ${publisher.acked[0]!.seq}…${last.seq}`);
});

test('cluster: SIGTERM drain (--drain-delay 0 --drain-seconds 1) — every client gets 1012 and is back on the other gateway within about a second, resuming with no loss', { timeout: 90_000 }, async (t) => {
  const cluster = await FaultCluster.start(t, ['--drain-delay', '0', '--drain-seconds', '1']);
  const [g0, g1] = cluster.gateways as [Proc, Proc];
  // Everyone on g0 first; the balancer knows both gateways before the drain.
  const lb = await Balancer.start(t, [g0.port]);
  const channel = `chat:drain-${randomBytes(3).toString('hex')}`;
  // A 10 s backoff base: a 1012 handled with backoff would show up as reconnects far above a second.
  const clients = watchedClients(t, 20, lb.url, cluster.control, channel, { reconnectBaseMs: 10_000, restartJitterMs: 1000 });
  await eventually(() => clients.every((w) => w.rec.subscribed.length === 1), 'every client subscribed', { timeoutMs: 15_000 });
  assert.ok(clients.every((w) => procOf(cluster, w) === g0));
  lb.targets = [g0.port, g1.port];

  const publisher = new SteadyPublisher(() => cluster.control.url, channel, 50).start();
  t.after(() => publisher.stop());
  await eventually(() => clients.every((w) => w.rec.messages.length >= 5), 'every client receives', { timeoutMs: 10_000 });

  const sigterm = Date.now();
  cluster.signal(g0, 'SIGTERM');
  await eventually(() => clients.every((w) => w.rec.subscribed.length === 2), 'every client resubscribed', { timeoutMs: 15_000 });
  assert.equal(await withDeadline(g0.run.exit, 10_000, 'the drained gateway did not exit'), 0);

  const rows = clients.map((w) => ({ code: w.drops[0]!.code, planned: w.drops[0]!.reconnectInMs, closedAfter: w.drops[0]!.at - sigterm, back: w.subscribedAt[1]! - w.drops[0]!.at }));
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const backs = sorted(rows.map((r) => r.back));
  t.diagnostic(`1012 closes ${sorted(rows.map((r) => r.closedAfter)).join(', ')} ms after SIGTERM`);
  t.diagnostic(`planned reconnect delays ${sorted(rows.map((r) => r.planned)).join(', ')} ms`);
  t.diagnostic(`close → resubscribed on ${g1.name}: min ${backs[0]} ms, median ${backs[10]} ms, max ${backs.at(-1)} ms`);
  for (const w of clients) if (w.drops.length > 1) t.diagnostic(`more than one attempt: ${JSON.stringify(w.drops.map((d) => ({ ...d, at: d.at - sigterm })))}`);
  for (const r of rows) {
    assert.equal(r.code, 1012);
    assert.ok(r.planned <= 1000, `planned ${r.planned} ms`);
    assert.ok(r.back <= 2000, `back after ${r.back} ms`);
  }
  assert.ok(clients.every((w) => w.drops.length === 1 && procOf(cluster, w) === g1), 'every client on the other gateway at the first attempt');

  await eventually(() => publisher.acked.filter((a) => a.at > sigterm + 1500).length >= 20, 'publishing goes on', { timeoutMs: 10_000 });
  await publisher.stop();
  const last = publisher.acked.at(-1)!;
  await eventually(() => clients.every((w) => w.rec.messages.some((m) => m.data.n === last.n)), 'every client has the last message', { timeoutMs: 10_000 });
  for (const [i, w] of clients.entries()) {
    assert.deepEqual(deliveryProblems(w.rec.messages, publisher.acked), [], `client ${i}`);
    assert.deepEqual([w.rec.subscribed[1]!.recovered, w.rec.subscribed[1]!.resumed], [true, true], `client ${i}`);
  }
});
