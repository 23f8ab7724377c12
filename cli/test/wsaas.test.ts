import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually, testTenants } from '@switchyard/testkit';
import { Client, backend, http, startDev, wsUrl, withDeadline } from './helpers.js';
import { startCluster } from './cluster-helpers.js';
import type { RunningServer } from '../src/server.js';

interface Call {
  method: string;
  authorization: string | undefined;
  body: any;
}

/** A real HTTP backend (node:http) that records every webhook call. */
async function startBackend(t: TestContext, answer: (c: Call, res: ServerResponse) => void = (c, res) => ok(res)) {
  const calls: Call[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const call = { method: req.method ?? '', authorization: req.headers.authorization, body: raw === '' ? undefined : JSON.parse(raw) };
      calls.push(call);
      answer(call, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/websocket`,
    calls,
    /** Waits until `n` calls have arrived. */
    async until(n: number, ms = 5000): Promise<Call[]> {
      await eventually(() => calls.length >= n, `${n} webhook calls (have ${JSON.stringify(calls)})`, { timeoutMs: ms });
      return calls;
    },
  };
}

/** The HTTP answer to a WebSocket upgrade request that the server refuses. */
async function refusal(url: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return withDeadline(
    new Promise((resolve, reject) => {
      const req = request(url, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error('the upgrade was accepted')));
      req.on('error', reject);
      req.end();
    }),
    5000,
    'no answer to the upgrade',
  );
}

function ok(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":"OK"}');
}

function tenantsWith(webhook: Record<string, unknown>) {
  return testTenants({ webhook });
}

async function open(t: TestContext, s: RunningServer, path = '/hook/chat?tenant=demo'): Promise<Client> {
  const c = new Client(wsUrl(s, path));
  await c.opened;
  t.after(() => c.close());
  return c;
}

test('wsaas: POST with the client Authorization and ws_uri on connect, PUT per frame in order, DELETE on close', async (t) => {
  const be = await startBackend(t);
  const s = await startDev(t, { tenants: tenantsWith({ url: be.url }) });
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(wsUrl(s, '/hook/room/7?tenant=demo'), { headers: { authorization: 'Bearer user-token-1' } });
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  const [post] = await be.until(1);
  assert.equal(post!.method, 'POST');
  assert.equal(post!.authorization, 'Bearer user-token-1');
  const wsUri = post!.body.ws_uri as string;
  assert.match(wsUri, new RegExp(`^${s.url}/v1/connections/test%3A[A-Za-z0-9_-]+$`));
  assert.equal(post!.body.path, '/hook/room/7?tenant=demo');
  for (let i = 0; i < 5; i++) ws.send(`frame ${i}`);
  ws.send(Buffer.from([0, 1, 2, 255]));
  await be.until(7);
  assert.deepEqual(be.calls.slice(1).map((c) => [c.method, c.body]), [
    ...[0, 1, 2, 3, 4].map((i) => ['PUT', { ws_uri: wsUri, data: `frame ${i}` }]),
    ['PUT', { ws_uri: wsUri, data: Buffer.from([0, 1, 2, 255]).toString('base64'), binary: true }],
  ]);
  ws.close();
  const calls = await be.until(8);
  assert.deepEqual([calls[7]!.method, calls[7]!.body], ['DELETE', { ws_uri: wsUri }]);
});

test('wsaas: any answer but {"code":"OK"}, an HTTP error or a timeout refuses the upgrade with a clear status', async (t) => {
  const cases: [string, (c: Call, res: ServerResponse) => void, number, RegExp][] = [
    ['refused', (_c, res) => res.writeHead(200).end('{"code":"NOPE"}'), 403, /backend refused the connection \(code "NOPE"\)/],
    ['not JSON', (_c, res) => res.writeHead(200).end('OK'), 403, /backend refused the connection \(code null\)/],
    ['HTTP error', (_c, res) => res.writeHead(500).end(), 502, /backend answered HTTP 500/],
    ['timeout', () => {}, 504, /backend did not answer within 200 ms/],
  ];
  for (const [what, answer, status, message] of cases) {
    const be = await startBackend(t, answer);
    const s = await startDev(t, { tenants: tenantsWith({ url: be.url, timeoutMs: 200 }) });
    const res = await refusal(`${s.url}/hook/x?tenant=demo`);
    assert.equal(res.status, status, what);
    assert.match(JSON.parse(res.body).message, message, what);
  }
  const s = await startDev(t);
  await assert.rejects(Client.open(wsUrl(s, '/hook/x?tenant=demo')), /HTTP 404/, 'a tenant without webhook');
});

test('wsaas: a backend that cannot keep up gets the connection closed with 4102, not unbounded memory', async (t) => {
  const held: ServerResponse[] = [];
  const be = await startBackend(t, (c, res) => (c.method === 'POST' ? ok(res) : held.push(res)));
  const s = await startDev(t, { tenants: tenantsWith({ url: be.url, maxQueue: 3 }) });
  const c = await open(t, s);
  // The fourth frame finds three unanswered ones (maxQueue 3) and closes the connection. More
  // frames after it could reach a socket that is already closing, whose reset can overtake the
  // close frame on loopback (the client would see 1006).
  for (let i = 0; i < 4; i++) c.send(`f${i}`);
  const closed = await c.closedWithin(5000);
  assert.deepEqual(closed, { code: 4102, reason: 'backend too slow: webhook queue full' });
  for (const r of held) r.end();
});

test('wsaas on two gateways: push, info and close through ws_uri reach a socket held by another gateway; then 410', async (t) => {
  const be = await startBackend(t);
  const cl = await startCluster(t, 2);
  // The cluster helper's tenants have no webhook: add a gateway whose tenant config has one.
  // Its pushes still go through the control API, which never saw the connection.
  const { startServer } = await import('../src/server.js');
  const { createLogger } = await import('@switchyard/shared');
  const { NatsEngine } = await import('@switchyard/shared/nats');
  const tenants = tenantsWith({ url: be.url });
  const engine = new NatsEngine({ servers: [cl.nats.url], tenants, log: createLogger('silent'), prefix: cl.prefix, manageStreams: false, servePresence: true });
  const gw = await startServer({
    role: 'gateway', host: '127.0.0.1', port: 0, nodeId: 'hookgw', tenants, log: createLogger('silent'), engine,
    limits: { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 100, idleTimeoutSeconds: 120 },
    publicUrl: cl.control.server.url,
  });
  t.after(() => gw.close());
  await engine.whenStarted();
  const c = await open(t, gw);
  const [post] = await be.until(1);
  const wsUri = post!.body.ws_uri as string;
  assert.ok(wsUri.startsWith(`${cl.control.server.url}/v1/connections/hookgw%3A`), wsUri);
  const path = wsUri.slice(cl.control.server.url.length);

  assert.equal((await http(cl.control.server, 'PUT', path, '{"hello":"client"}')).status, 401, 'bearer required by default');
  const pushed = await http(cl.control.server, 'PUT', path, '{"hello":"client"}', backend);
  assert.equal(pushed.status, 200, pushed.text);
  assert.deepEqual(await c.next(5000), { hello: 'client' });
  const info = await http(cl.control.server, 'GET', path, undefined, backend);
  assert.equal(info.status, 200);
  assert.deepEqual([info.body.conn, info.body.tenant, info.body.dialect, info.body.node], [decodeURIComponent(path.split('/').pop()!), 'demo', 'wsaas', 'hookgw']);
  const closed = await http(cl.control.server, 'DELETE', path, undefined, backend);
  assert.equal(closed.status, 200);
  assert.deepEqual(await c.closedWithin(5000), { code: 1000, reason: 'closed by backend' });
  const calls = await be.until(2);
  assert.equal(calls[1]!.method, 'DELETE', 'the backend hears of the close too');
  for (const [method, body] of [['PUT', 'x'], ['GET', undefined], ['DELETE', undefined]] as const) {
    const gone = await http(cl.control.server, method, path, body, backend);
    assert.equal(gone.status, 410, method);
    assert.equal(gone.body.code, 'gone');
  }
  assert.equal((await http(cl.control.server, 'GET', '/v1/connections/nonode%3Axyz', undefined, backend)).status, 410);
});

test('wsaas: with requireBearer off (the seed firewall model) ws_uri calls need no bearer; one webhook tenant needs no ?tenant', async (t) => {
  const be = await startBackend(t);
  const s = await startDev(t, { tenants: tenantsWith({ url: be.url, requireBearer: false }) });
  const c = await open(t, s, '/hook/anything');
  const [post] = await be.until(1);
  const path = (post!.body.ws_uri as string).slice(s.url.length);
  const r = await http(s, 'PUT', path, 'plain text push', { 'content-type': 'text/plain' });
  assert.equal(r.status, 200, r.text);
  assert.equal(await c.next(5000), 'plain text push');
});

/** `switchyard_webhook_duration_seconds_count` by "method outcome". */
async function webhookCounts(s: RunningServer): Promise<Map<string, number>> {
  const text = (await http(s, 'GET', '/metrics')).text;
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^switchyard_webhook_duration_seconds_count\{([^}]*)\} (\d+)$/gm)) {
    const labels = Object.fromEntries([...(m[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.set(`${labels.method} ${labels.outcome}`, Number(m[2]));
  }
  return out;
}

test('wsaas: webhook calls are counted by method and outcome, with their duration; every series exists from the start', async (t) => {
  let slow = false;
  const be = await startBackend(t, (c, res) => {
    if (c.method === 'PUT' && c.body?.data === 'fail') res.writeHead(500).end();
    else if (slow) setTimeout(() => ok(res), 400);
    else ok(res);
  });
  const s = await startDev(t, { tenants: tenantsWith({ url: be.url, timeoutMs: 200 }) });
  const start = await webhookCounts(s);
  assert.equal(start.size, 12, 'POST, PUT, DELETE × ok, http_error, timeout, unreachable');
  assert.ok([...start.values()].every((n) => n === 0));

  const c = await open(t, s);
  c.send('hello');
  c.send('fail'); // HTTP 500: the connection is closed with 4102... and the DELETE follows
  await be.until(4);
  slow = true;
  const refused = await refusal(wsUrl(s, '/hook/chat?tenant=demo').replace(/^ws/, 'http'));
  assert.equal(refused.status, 504);
  await eventually(async () => {
    const n = await webhookCounts(s);
    return n.get('POST ok') === 1 && n.get('PUT ok') === 1 && n.get('PUT http_error') === 1 && n.get('DELETE ok') === 1 && n.get('POST timeout') === 1;
  }, 'counted calls');
  const text = (await http(s, 'GET', '/metrics')).text;
  const sum = Number(/^switchyard_webhook_duration_seconds_sum\{[^}]*method="POST"[^}]*outcome="timeout"[^}]*\} ([\d.e-]+)$/m.exec(text)?.[1]);
  assert.ok(sum >= 0.19 && sum < 2, `a timed-out call lasts its timeout (${sum} s)`);
});
