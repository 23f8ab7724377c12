import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { testTenants } from '@switchyard/testkit';
import { connect, http, startDev, wsUrl } from './helpers.js';

/** The HTTP answer to an upgrade that is refused (status and body), or 101 when it is accepted. */
function upgradeStatus(url: string): Promise<{ status: number; body: string; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve({ status: 101, body: '', ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (err) => reject(err));
  });
}

test('--max-connections-per-ip: upgrades past the limit from one address get 429 limit_exceeded, across dialects; a closed one frees a slot', async (t) => {
  const s = await startDev(t, {
    limits: { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 10, idleTimeoutSeconds: 120, maxConnectionsPerIp: 2 },
  });
  const a = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await connect(t, wsUrl(s, '/otter?tenant=demo')); // another dialect, the same address
  const refused = await upgradeStatus(wsUrl(s, '/v1/ws?tenant=demo'));
  assert.equal(refused.status, 429);
  assert.deepEqual(JSON.parse(refused.body), { code: 'limit_exceeded', message: 'at most 2 connections from one address' });
  a.close();
  await a.closedWithin(2000).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 100)); // the server's close handler
  const again = await upgradeStatus(wsUrl(s, '/v1/ws?tenant=demo'));
  assert.equal(again.status, 101, 'a slot was freed');
  again.ws?.close();
  const metrics = await http(s, 'GET', '/metrics');
  assert.match(metrics.text, /switchyard_errors_total\{code="limit_exceeded",role="dev"\} 1\n/);
});

test('tenant maxConnections: one connection past a tenant\'s limit on a node gets 429 limit_exceeded; other tenants are not affected', async (t) => {
  const s = await startDev(t, { tenants: testTenants({ maxConnections: 2 }) });
  await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  const second = await connect(t, wsUrl(s, '/ws?site=demo')); // the site dialect counts too
  const refused = await upgradeStatus(wsUrl(s, '/otter?tenant=demo'));
  assert.equal(refused.status, 429);
  assert.deepEqual(JSON.parse(refused.body), { code: 'limit_exceeded', message: 'tenant demo is at its limit of 2 connections on this node' });
  const other = await upgradeStatus(wsUrl(s, '/v1/ws?tenant=other'));
  assert.equal(other.status, 101, 'another tenant has its own count');
  other.ws?.close();
  second.close();
  await new Promise((r) => setTimeout(r, 200));
  const again = await upgradeStatus(wsUrl(s, '/v1/ws?tenant=demo'));
  assert.equal(again.status, 101, 'a slot was freed');
  again.ws?.close();
});
