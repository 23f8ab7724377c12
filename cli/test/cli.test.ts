import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@switchyard/testkit';
import { withDeadline } from './helpers.js';
import { BIN, ROOT, listeningPort, run } from './cli-process.js';

const DEMO = join(ROOT, 'config/demo-tenants.json');

test('cli: `switchyard dev --port 0 --tenants FILE` serves, prints URLs, and stops cleanly on SIGTERM', async (t) => {
  const r = run(t, ['dev', '--port', '0', '--tenants', DEMO]);
  const port = await listeningPort(r);
  assert.ok(port > 0);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  const token = (await (await fetch(`http://127.0.0.1:${port}/token?site=demo`)).json()) as { expires: number };
  assert.equal(token.expires, 300);
  assert.match(r.stderr(), /ws:\/\/127\.0\.0\.1:\d+\/v1\/ws\?tenant=demo/);
  r.child.kill('SIGTERM');
  assert.equal(await withDeadline(r.exit, 10_000, 'no exit after SIGTERM'), 0);
});

test('cli: every flag is also a SWITCHYARD_ environment variable; unknown SWITCHYARD_ variables are ignored', async (t) => {
  const r = run(t, ['dev'], { SWITCHYARD_PORT: '0', SWITCHYARD_TENANTS: DEMO, SWITCHYARD_LOG_LEVEL: 'info', SWITCHYARD_NODE_ID: 'envnode', SWITCHYARD_SERVICE_HOST: '10.0.0.1' });
  const port = await listeningPort(r);
  assert.ok(port > 0);
  assert.match(r.stdout(), /"node":"envnode"/);
  r.child.kill('SIGTERM');
  await withDeadline(r.exit, 10_000, 'no exit after SIGTERM');
});

test('cli: a bad tenants file fails at start naming the bad field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-cli-'));
  const file = join(dir, 'tenants.json');
  writeFileSync(file, JSON.stringify({ adminToken: 'admin-token-1', tenants: { demo: { secret: 'short', postSecret: 'post-secret-1', backendSecret: 'backend-secret-1', namespaces: { chat: { history: -5 } } } } }));
  const r = run(t, ['dev', '--port', '0', '--tenants', file]);
  assert.equal(await withDeadline(r.exit, 10_000, 'no exit'), 2);
  assert.match(r.stderr(), /tenants\.demo\.secret/);
  assert.match(r.stderr(), /tenants\.demo\.namespaces\.chat\.history/);
});

test('cli: bad flags, a missing tenants file and the cluster roles exit non-zero with a message', async (t) => {
  const cases: [string[], RegExp][] = [
    [['dev', '--port', '70000', '--tenants', DEMO], /--port must be an integer from 0 to 65535/],
    [['dev', '--port', '0'], /--tenants FILE is required/],
    [['dev', '--port', '0', '--idle-timeout', '5', '--tenants', DEMO], /--idle-timeout must be 0 \(never\) or from 8 to 960/],
    [['dev', '--port', '0', '--tenants', '/nonexistent/t.json'], /cannot read file/],
    [['dev', '--bogus', '1', '--tenants', DEMO], /Unknown argument/i],
    [['gateway', '--tenants', DEMO], /--nats URL \(or SWITCHYARD_NATS\) is required/],
    [['control-api', '--tenants', DEMO], /--nats URL \(or SWITCHYARD_NATS\) is required/],
    [[], /Name a command/],
  ];
  for (const [args, want] of cases) {
    const r = run(t, args);
    const code = await withDeadline(r.exit, 10_000, `no exit for ${args.join(' ')}`);
    assert.notEqual(code, 0, args.join(' '));
    assert.match(r.stderr(), want, args.join(' '));
  }
});

test('cli: --help documents every flag', async (t) => {
  const r = run(t, ['--help']);
  assert.equal(await withDeadline(r.exit, 10_000, 'no exit'), 0);
  for (const flag of ['--port', '--host', '--tenants', '--log-level', '--node-id', '--max-payload', '--max-buffered-bytes', '--max-subscriptions', '--idle-timeout', '--nats', 'SWITCHYARD_']) {
    assert.ok(r.stdout().includes(flag), `help lacks ${flag}`);
  }
});

test('cli: a port that is already in use is an error, not a silently shared port', async (t) => {
  const first = run(t, ['dev', '--port', '0', '--host', '127.0.0.1', '--tenants', DEMO]);
  const port = await listeningPort(first);
  const second = run(t, ['dev', '--port', String(port), '--host', '127.0.0.1', '--tenants', DEMO]);
  assert.equal(await withDeadline(second.exit, 10_000, 'no exit'), 1);
  assert.match(second.stderr(), /cannot listen on 127\.0\.0\.1:\d+/);
  first.child.kill('SIGTERM');
  await withDeadline(first.exit, 10_000, 'no exit after SIGTERM');
});

test('cli: with an unreachable NATS, a busy port still exits 1 and SIGTERM still exits 0', async (t) => {
  const first = run(t, ['dev', '--port', '0', '--host', '127.0.0.1', '--tenants', DEMO]);
  const port = await listeningPort(first);
  // Nothing listens on port 1: the NATS client keeps trying, which must not keep the process alive.
  const nats = ['--nats', 'nats://127.0.0.1:1'];
  const busy = run(t, ['gateway', '--port', String(port), '--host', '127.0.0.1', '--tenants', DEMO, ...nats]);
  assert.equal(await withDeadline(busy.exit, 10_000, 'a gateway that could not bind did not exit'), 1);
  assert.match(busy.stderr(), /cannot listen on 127\.0\.0\.1:\d+/);
  const waiting = run(t, ['control-api', '--port', '0', '--host', '127.0.0.1', '--tenants', DEMO, ...nats]);
  const waitingPort = await listeningPort(waiting);
  assert.equal((await fetch(`http://127.0.0.1:${waitingPort}/readyz`)).status, 503);
  waiting.child.kill('SIGTERM');
  assert.equal(await withDeadline(waiting.exit, 10_000, 'a process that never reached NATS did not exit on SIGTERM'), 0);
  first.child.kill('SIGTERM');
  await withDeadline(first.exit, 10_000, 'no exit after SIGTERM');
});

test('cli: `switchyard control-api` and `switchyard gateway` with --nats form a cluster', async (t) => {
  const { startNatsServer } = await import('@switchyard/testkit');
  const { Client } = await import('./helpers.js');
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const common = ['--nats', nats.url, '--port', '0', '--host', '127.0.0.1', '--tenants', DEMO, '--nats-prefix', 'clitest'];
  const cp = run(t, ['control-api', ...common]);
  const gw = run(t, ['gateway', ...common, '--node-id', 'gw1']);
  const [cpPort, gwPort] = await Promise.all([listeningPort(cp), listeningPort(gw)]);
  const ready = (port: number) =>
    eventually(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, `port ${port} ready`, { timeoutMs: 10_000, everyMs: 50 });
  await ready(cpPort);
  await ready(gwPort);
  const auth = { authorization: 'Bearer demo-backend-secret', 'content-type': 'application/json' };
  const tok = (await (await fetch(`http://127.0.0.1:${cpPort}/v1/tokens`, { method: 'POST', headers: auth, body: JSON.stringify({ tenant: 'demo', user: 'cli' }) })).json()) as { token: string };
  const c = await Client.open(`ws://127.0.0.1:${gwPort}/v1/ws?tenant=demo`);
  t.after(() => c.close());
  assert.match((await c.next(5000)).conn, /^gw1:/);
  c.send({ type: 'auth', id: 1, token: tok.token });
  assert.equal((await c.next(5000)).result.user, 'cli');
  c.send({ type: 'subscribe', id: 2, channel: 'news' });
  assert.ok((await c.next(5000)).result);
  const pub = await fetch(`http://127.0.0.1:${cpPort}/v1/publish`, { method: 'POST', headers: auth, body: JSON.stringify({ tenant: 'demo', channel: 'news', data: { via: 'cluster' } }) });
  const { seq } = (await pub.json()) as { seq: number };
  const m = await c.next(5000);
  assert.deepEqual([m.type, m.seq, m.data], ['message', seq, { via: 'cluster' }]);
  c.close();
  await c.closed;
  gw.child.kill('SIGTERM');
  cp.child.kill('SIGTERM');
  assert.equal(await withDeadline(gw.exit, 10_000, 'gateway did not exit'), 0);
  assert.equal(await withDeadline(cp.exit, 10_000, 'control-api did not exit'), 0);
});

test('cli: the WSaaS seed variables API_URI, WS_HOSTNAME and LOG_LEVEL configure a single-tenant deployment', async (t) => {
  const { createServer } = await import('node:http');
  const posts: { ws_uri: string }[] = [];
  const backend = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST') posts.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":"OK"}');
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { backend.closeAllConnections(); backend.close(() => r()); }));
  const port = (backend.address() as import('node:net').AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'sy-wsaas-'));
  const file = join(dir, 'tenants.json');
  writeFileSync(file, JSON.stringify({ adminToken: 'admin-token-1', tenants: { app: { secret: 'client-secret-1', postSecret: 'post-secret-1', backendSecret: 'backend-secret-1' } } }));
  const r = run(t, ['dev', '--port', '0', '--host', '127.0.0.1', '--tenants', file], {
    API_URI: `127.0.0.1:${port}/websocket`,
    WS_HOSTNAME: 'api.example.test:8443',
    LOG_LEVEL: 'DEBUG',
  });
  const sy = await listeningPort(r);
  const { Client } = await import('./helpers.js');
  const c = await Client.open(`ws://127.0.0.1:${sy}/hook/whatever`);
  t.after(() => c.close());
  assert.equal(posts.length, 1);
  assert.match(posts[0]!.ws_uri, /^http:\/\/api\.example\.test:8443\/v1\/connections\/[^/]+$/);
  // The connection's debug line reaches our pipe on its own schedule, not before the 101.
  await eventually(() => /"level":20/.test(r.stdout()), 'LOG_LEVEL=DEBUG turned debug logs on');
  c.close();
  r.child.kill('SIGTERM');
  await withDeadline(r.exit, 10_000, 'no exit');
});
