import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { TENANTS, eventually, startNatsServer, testTenants } from '@switchyard/testkit';
import { startDev, wsUrl, withDeadline } from './helpers.js';
import { startProc, tenantsFile } from './cli-process.js';

/** One webhook call as the receiver got it: the raw bytes, before any parsing. */
interface Received {
  method: string;
  signature: string | undefined;
  raw: Buffer;
  /** Unix seconds when the receiver had the whole request. */
  at: number;
}

/**
 * The backend's verifier, written from docs/dialects/wsaas.md and nothing else (it does not
 * import Switchyard's own): `t` within 300 s, and a `v1` that equals, in constant time, the hex
 * HMAC-SHA256 under one of `keys` of `<t>.<METHOD>.<raw body>`.
 */
function verify(c: Pick<Received, 'method' | 'signature' | 'raw'>, keys: readonly string[], now = Math.floor(Date.now() / 1000)): 'ok' | 'malformed' | 'stale' | 'mismatch' {
  const fields = (c.signature ?? '').split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const);
  const t = Number(fields.find(([k]) => k === 't')?.[1]);
  const sigs = fields.filter(([k]) => k === 'v1').map(([, v]) => Buffer.from(v, 'hex'));
  if (!Number.isInteger(t) || sigs.length === 0) return 'malformed';
  if (Math.abs(now - t) > 300) return 'stale';
  for (const key of keys) {
    const want = createHmac('sha256', key).update(`${t}.${c.method}.`).update(c.raw).digest();
    if (sigs.some((s) => s.length === want.length && timingSafeEqual(s, want))) return 'ok';
  }
  return 'mismatch';
}

/** docs/security.md: the key derived from backendSecret when webhook.secret is not set. */
const derivedKey = (backendSecret: string): string => createHmac('sha256', backendSecret).update('switchyard/webhook-signature/v1').digest('hex');

/**
 * A real HTTP webhook receiver that records every call with its raw body and admits every
 * connection. `onCall` sees each call after it was answered (a backend's follow-up work).
 */
async function startReceiver(t: TestContext, onCall: (c: Received) => void = () => {}) {
  const calls: Received[] = [];
  const server = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const c: Received = { method: req.method ?? '', signature: req.headers['switchyard-signature'] as string | undefined, raw: Buffer.concat(chunks), at: Math.floor(Date.now() / 1000) };
      calls.push(c);
      res.writeHead(200, { 'content-type': 'application/json' }).end(c.method === 'POST' ? '{"code":"OK"}' : '{}');
      onCall(c);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/websocket`,
    calls,
    until: (n: number, ms = 10_000) => eventually(() => calls.length >= n, `${n} webhook calls (have ${calls.map((c) => c.method).join(' ')})`, { timeoutMs: ms }),
  };
}

/** Opens a WSaaS client, sends a text and a binary frame, and closes: POST, PUT, PUT, DELETE. */
async function oneSession(url: string): Promise<void> {
  const ws = new WebSocket(url, { headers: { authorization: 'Bearer user-1' } });
  await withDeadline(new Promise((r, j) => { ws.once('open', r); ws.once('error', j); }), 10_000, 'client open');
  ws.send('h\u00e9llo "quoted" \u{1F600}');
  ws.send(Buffer.from([0, 1, 2, 255]));
  ws.close();
}

/** Every call verified with each of `keys`, and what must fail does. */
function assertSigned(calls: readonly Received[], keys: readonly string[], want: { v1s: number }): void {
  assert.deepEqual(calls.map((c) => c.method), ['POST', 'PUT', 'PUT', 'DELETE']);
  const wsUri = JSON.parse(calls[0]!.raw.toString()).ws_uri as string;
  assert.deepEqual(calls.map((c) => JSON.parse(c.raw.toString())), [
    { ws_uri: wsUri, path: JSON.parse(calls[0]!.raw.toString()).path },
    { ws_uri: wsUri, data: 'h\u00e9llo "quoted" \u{1F600}' },
    { ws_uri: wsUri, data: 'AAEC/w==', binary: true },
    { ws_uri: wsUri },
  ]);
  for (const c of calls) {
    const what = `${c.method} ${c.raw}`;
    assert.match(c.signature ?? '', new RegExp(`^t=\\d+${',v1=[0-9a-f]{64}'.repeat(want.v1s)}$`), what);
    const t = Number(/^t=(\d+)/.exec(c.signature!)![1]);
    assert.ok(t <= c.at && c.at - t <= 5, `${what}: t=${t} is recent (received at ${c.at})`);
    for (const key of keys) assert.equal(verify(c, [key]), 'ok', `${what} verifies with ${key.slice(0, 12)}…`);
    // The verifier can fail: a changed byte, the wrong key, another method, a stale or re-dated t.
    assert.equal(verify({ ...c, raw: Buffer.concat([c.raw, Buffer.from(' ')]) }, keys), 'mismatch', `${what}: tampered body`);
    assert.equal(verify(c, ['wrong-secret-0123456789']), 'mismatch', `${what}: wrong secret`);
    assert.equal(verify({ ...c, method: c.method === 'PUT' ? 'DELETE' : 'PUT' }, keys), 'mismatch', `${what}: another method`);
    assert.equal(verify(c, keys, t + 301), 'stale', `${what}: outside the replay window`);
    assert.equal(verify({ ...c, signature: c.signature!.replace(`t=${t}`, `t=${t + 1}`) }, keys), 'mismatch', `${what}: re-dated`);
  }
}

test('signed webhooks (dev): POST, PUT and DELETE carry Switchyard-Signature under the key derived from backendSecret', async (t) => {
  const rx = await startReceiver(t);
  const s = await startDev(t, { tenants: testTenants({ webhook: { url: rx.url } }) });
  await oneSession(wsUrl(s, '/hook/room?tenant=demo'));
  await rx.until(4);
  assertSigned(rx.calls, [derivedKey(TENANTS.tenants.demo.backendSecret)], { v1s: 1 });
});

test('signed webhooks (dev): rotation: webhook.secret [new, old] signs with both, each verifies alone; a receiver that ignores the header works', async (t) => {
  const keys = ['whsec-new-' + randomBytes(12).toString('hex'), 'whsec-old-' + randomBytes(12).toString('hex')];
  // This receiver never looks at the signature: it echoes each frame back through the ws_uri.
  const rx = await startReceiver(t, (c) => {
    if (c.method !== 'PUT') return;
    const { ws_uri, data } = JSON.parse(c.raw.toString());
    void fetch(ws_uri, { method: 'PUT', headers: { authorization: `Bearer ${TENANTS.tenants.demo.backendSecret}`, 'content-type': 'text/plain' }, body: `echo ${data}` });
  });
  const s = await startDev(t, { tenants: testTenants({ webhook: { url: rx.url, secret: keys } }) });
  const ws = new WebSocket(wsUrl(s, '/hook/x?tenant=demo'));
  const got: string[] = [];
  ws.on('message', (m) => got.push(String(m)));
  await withDeadline(new Promise((r, j) => { ws.once('open', r); ws.once('error', j); }), 10_000, 'client open');
  ws.send('ping');
  await eventually(() => got.length === 1, 'the echo');
  assert.deepEqual(got, ['echo ping']);
  ws.close();
  await rx.until(3);
  for (const c of rx.calls) {
    assert.match(c.signature ?? '', /^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    assert.equal(verify(c, [keys[0]!]), 'ok', `${c.method}: the backend on the new secret`);
    assert.equal(verify(c, [keys[1]!]), 'ok', `${c.method}: the backend still on the old secret`);
    assert.equal(verify(c, [derivedKey(TENANTS.tenants.demo.backendSecret)]), 'mismatch', `${c.method}: an explicit secret replaces the derived key`);
  }
});

test('signed webhooks (cluster processes): a gateway process signs POST, PUT and DELETE; pushes go through the control API', { timeout: 120_000 }, async (t) => {
  const keys = ['whsec-cluster-new-0123456789', 'whsec-cluster-old-0123456789'];
  const rx = await startReceiver(t);
  const file = tenantsFile(t, { ...TENANTS, tenants: { ...TENANTS.tenants, demo: { ...TENANTS.tenants.demo, webhook: { url: rx.url, secret: keys } } } });
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const common = ['--nats', nats.url, '--nats-prefix', `w${randomBytes(4).toString('hex')}`, '--tenants', file];
  const control = await startProc(t, 'cp', 'control-api', [...common, '--node-id', 'cp']);
  const gw = await startProc(t, 'gw', 'gateway', [...common, '--node-id', 'gw', '--public-url', control.url]);
  for (const p of [control, gw]) {
    await eventually(async () => (await fetch(`${p.url}/readyz`)).status === 200, `${p.name} ready`, { timeoutMs: 20_000, everyMs: 100 });
  }
  await oneSession(`ws://127.0.0.1:${gw.port}/hook/room?tenant=demo`);
  await rx.until(4);
  assert.ok(JSON.parse(rx.calls[0]!.raw.toString()).ws_uri.startsWith(`${control.url}/v1/connections/gw%3A`));
  assertSigned(rx.calls, keys, { v1s: 2 });

  // A second client, closed by the backend through the control API: that DELETE is signed too.
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/hook/two?tenant=demo`);
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await withDeadline(new Promise((r, j) => { ws.once('open', r); ws.once('error', j); }), 10_000, 'client open');
  await rx.until(5);
  const wsUri = JSON.parse(rx.calls[4]!.raw.toString()).ws_uri as string;
  const del = await fetch(wsUri, { method: 'DELETE', headers: { authorization: `Bearer ${TENANTS.tenants.demo.backendSecret}` } });
  assert.equal(del.status, 200, await del.text());
  assert.equal(await withDeadline(closed, 10_000, 'client closed'), 1000);
  await rx.until(6);
  assert.equal(rx.calls[5]!.method, 'DELETE');
  assert.deepEqual(JSON.parse(rx.calls[5]!.raw.toString()), { ws_uri: wsUri });
  for (const c of rx.calls.slice(4)) for (const key of keys) assert.equal(verify(c, [key]), 'ok', `${c.method} with ${key}`);
});
