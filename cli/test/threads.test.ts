import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { signClientToken } from '@switchyard/shared';
import { eventually } from '@switchyard/testkit';
import { startCluster } from './cluster-helpers.js';
import { connect, publish, withDeadline, type Client } from './helpers.js';
import { autoThreads, cgroupCpuLimit } from '../src/threads.js';
import { listeningPort, run, tenantsFile, type Run } from './cli-process.js';


/** `switchyard gateway --threads N` as a real process on the cluster's NATS, once ready. */
async function startThreadedGateway(t: TestContext, natsUrl: string, prefix: string, threads: string, more: string[] = []): Promise<Run & { port: number }> {
  const gw = run(t, ['gateway', '--port', '0', '--host', '127.0.0.1', '--nats', natsUrl, '--nats-prefix', prefix, '--tenants', tenantsFile(t), '--node-id', 'tg', '--threads', threads, ...more]);
  const port = await listeningPort(gw, 15_000);
  await eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 'the threaded gateway is ready', { timeoutMs: 10_000, everyMs: 50 });
  return { ...gw, port };
}

const token = (user: string): string => signClientToken('demo-client-secret', { user });

async function client(t: TestContext, port: number, user: string): Promise<{ c: Client; conn: string }> {
  const c = await connect(t, `ws://127.0.0.1:${port}/v1/ws?tenant=demo`);
  const hello = await c.next();
  c.send({ type: 'auth', id: 1, token: token(user) });
  assert.ok((await c.nextWhere((f) => f.id === 1)).result);
  c.send({ type: 'subscribe', id: 2, channel: 'chat:threads' });
  assert.ok((await c.nextWhere((f) => f.id === 2)).result);
  return { c, conn: hello.conn as string };
}

test('threads: a gateway with --threads 2 spreads connections over both threads, delivers everywhere, sums its metrics, drains on SIGTERM', async (t) => {
  const cluster = await startCluster(t, 0);
  const gw = await startThreadedGateway(t, cluster.nats.url, cluster.prefix, '2', ['--drain-delay', '1', '--drain-seconds', '2']);
  assert.match(gw.stdout(), /"threads":2/);

  const clients = [];
  for (let i = 0; i < 4; i++) clients.push(await client(t, gw.port, `u${i}`));
  // Connection ids name the thread's node: the acceptor handed them out round robin.
  const threadsUsed = new Set(clients.map((x) => x.conn.split(':')[0]));
  assert.deepEqual([...threadsUsed].sort(), ['tg-1', 'tg-2']);

  // A backend publish reaches the subscribers of both threads, with one seq.
  const seq = await publish(cluster.control.server, 'chat:threads', { hello: 'all' });
  for (const { c } of clients) {
    const m = await c.nextWhere((f) => f.type === 'message');
    assert.deepEqual([m.seq, m.data], [seq, { hello: 'all' }]);
  }
  // A client publish on one thread reaches the subscribers on the other (through NATS).
  const a = clients.find((x) => x.conn.startsWith('tg-1:'))!;
  const b = clients.find((x) => x.conn.startsWith('tg-2:'))!;
  a.c.send({ type: 'publish', id: 3, channel: 'chat:threads', data: { from: 'thread 1' } });
  const m = await b.c.nextWhere((f) => f.type === 'message');
  assert.deepEqual(m.data, { from: 'thread 1' });
  assert.equal(m.from.conn, a.conn);

  // /metrics answers for the whole process, whichever thread gets the request.
  for (let i = 0; i < 4; i++) {
    const text = await (await fetch(`http://127.0.0.1:${gw.port}/metrics`)).text();
    assert.match(text, /^switchyard_connections\{dialect="native",role="gateway"\} 4$/m);
    assert.match(text, /^switchyard_subscriptions\{role="gateway"\} 4$/m);
    assert.match(text, /^switchyard_messages_out_total\{role="gateway"\} 8$/m);
    // Process-wide figures come once, from the main thread.
    assert.equal(text.match(/^switchyard_process_cpu_seconds_total/gm)?.length, 1);
  }

  // The drain: not ready at once, connections open for the delay, then closed with 1012 over the window.
  const sigterm = Date.now();
  gw.child.kill('SIGTERM');
  await eventually(async () => (await fetch(`http://127.0.0.1:${gw.port}/readyz`)).status === 503, 'not ready at once', { timeoutMs: 900, everyMs: 20 });
  const closedAt = await Promise.all(clients.map(async ({ c }) => {
    assert.equal((await c.closedWithin(8000)).code, 1012);
    return Date.now() - sigterm;
  }));
  closedAt.sort((a, b) => a - b);
  assert.ok(closedAt[0]! >= 950, `no close before the delay (${closedAt})`);
  assert.ok(closedAt[3]! - closedAt[0]! >= 700, `closes spread over the window (${closedAt})`);
  assert.equal(await withDeadline(gw.exit, 10_000, 'threaded gateway did not exit'), 0);
});

test('threads: more than one thread needs a gateway on NATS; bad counts are refused', async (t) => {
  const exited = async (args: string[]) => {
    const r = run(t, args);
    const closed = new Promise((res) => r.child.once('close', res)); // stderr read to its end
    const code = await r.exit;
    await closed;
    return { code, err: r.stderr() };
  };
  const file = tenantsFile(t);
  const dev = await exited(['dev', '--port', '0', '--tenants', file, '--threads', '2']);
  assert.equal(dev.code, 2);
  assert.match(dev.err, /--threads 2 needs a cluster/);
  const control = await exited(['control-api', '--port', '0', '--tenants', file, '--nats', 'nats://127.0.0.1:1', '--threads', '2']);
  assert.equal(control.code, 2);
  assert.match(control.err, /--threads applies to the gateway role/);
  for (const bad of ['0', 'many', '1.5', '65']) {
    const r = await exited(['gateway', '--port', '0', '--tenants', file, '--nats', 'nats://127.0.0.1:1', '--threads', bad]);
    assert.equal(r.code, 2, bad);
    assert.match(r.err, /--threads must be auto or an integer from 1 to 64/);
  }
});

test('threads: auto is the usable cores capped by the cgroup CPU limit, rounded up', () => {
  const files = (m: Record<string, string>) => (path: string) => m[path];
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 1.5);
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), undefined);
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '200000', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), 2);
  assert.equal(cgroupCpuLimit(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000' })), undefined);
  assert.equal(cgroupCpuLimit(files({})), undefined);
  assert.equal(autoThreads(8, undefined), 8);
  assert.equal(autoThreads(8, 1.5), 2);
  assert.equal(autoThreads(2, 4), 2);
  assert.equal(autoThreads(4, 0.25), 1);
});

test('threads: a node id too long for its thread suffix is refused at start, naming the limit', async (t) => {
  const id = 'n'.repeat(61);
  const r = run(t, ['gateway', '--port', '0', '--nats', 'nats://127.0.0.1:1', '--tenants', tenantsFile(t), '--node-id', id, '--threads', '2']);
  assert.equal(await withDeadline(r.exit, 10_000, 'exit'), 2);
  assert.match(r.stderr(), /with --threads 2, --node-id must be at most 60 characters/);
  const one = run(t, ['gateway', '--port', '0', '--nats', 'nats://127.0.0.1:1', '--tenants', tenantsFile(t), '--node-id', 'n'.repeat(63), '--threads', '1']);
  await listeningPort(one, 10_000); // 63 characters are fine on one thread
});
