import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, us_listen_socket_close, us_socket_local_port, type us_listen_socket } from 'uWebSockets.js';
import { EmbeddedEngine, Publisher, createLogger, createMetrics } from '@switchyard/shared';
import { TENANTS, testTenants } from '@switchyard/testkit';
import { mountControlApi } from '../src/index.js';

const tenants = testTenants();

/** The control API on its own uWS app, with no gateway in the process. */
async function start(t: import('node:test').TestContext): Promise<string> {
  const engine = new EmbeddedEngine();
  const metrics = createMetrics('control-api');
  const app = App();
  mountControlApi(app, {
    tenants,
    engine,
    publisher: new Publisher(engine, metrics, 1024),
    metrics,
    log: createLogger('silent'),
    maxPayload: 1024,
    corsOrigins: [],
    snapshot: () => ({ node: 'c1', role: 'control-api', connections: 0, channels: 0, subscriptions: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 }),
  });
  const ls = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen failed'))));
  });
  t.after(() => {
    us_listen_socket_close(ls);
    app.close();
  });
  return `http://127.0.0.1:${us_socket_local_port(ls)}`;
}

const auth = { authorization: `Bearer ${TENANTS.tenants.demo.backendSecret}`, 'content-type': 'application/json' };

test('control API alone: publish then read history', async (t) => {
  const base = await start(t);
  for (const n of [1, 2, 3]) {
    const r = await fetch(`${base}/v1/publish`, { method: 'POST', headers: auth, body: JSON.stringify({ tenant: 'demo', channel: 'c', data: { n } }) });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { seq: number }).seq, n);
  }
  const h = (await (await fetch(`${base}/v1/history?tenant=demo&channel=c&after=1`, { headers: auth })).json()) as { messages: { data: { n: number } }[] };
  assert.deepEqual(h.messages.map((m) => m.data.n), [2, 3]);
});

test('control API alone: /stats reports no connections without a gateway; bodies over the limit are 413', async (t) => {
  const base = await start(t);
  const s = (await (await fetch(`${base}/stats`, { headers: { authorization: `Bearer ${TENANTS.adminToken}` } })).json()) as { connections: number };
  assert.equal(s.connections, 0);
  const big = await fetch(`${base}/v1/publish`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ tenant: 'demo', channel: 'c', data: 'x'.repeat(10_000) }),
  });
  assert.equal(big.status, 413);
  assert.equal(((await big.json()) as { code: string }).code, 'payload_too_large');
});
