import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signClientToken } from '@switchyard/shared';
import { connect, http, startDev, wsUrl } from './helpers.js';

test('auth deadline: a native connection that does not authenticate in time is closed with 4103; one that did, and one on an anonymous tenant, stay', async (t) => {
  const s = await startDev(t, {
    limits: { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 10, idleTimeoutSeconds: 120, authTimeoutSeconds: 1 },
  });
  const silent = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  const failed = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  const authed = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  const anonymous = await connect(t, wsUrl(s, '/v1/ws?tenant=other'));
  for (const c of [silent, failed, authed, anonymous]) assert.equal((await c.next()).type, 'hello');
  failed.send({ type: 'auth', id: 1, token: 'not-a-token' });
  assert.equal((await failed.next()).error?.name, 'token_invalid');
  authed.send({ type: 'auth', id: 1, token: signClientToken('demo-client-secret', { user: 'u' }) });
  assert.equal((await authed.next()).result?.user, 'u');

  const t0 = Date.now();
  assert.deepEqual(await silent.closedWithin(3000), { code: 4103, reason: 'authentication timeout: no auth in time' });
  assert.ok(Date.now() - t0 < 2500);
  assert.equal((await failed.closedWithin(1000)).code, 4103, 'a failed auth does not count');
  await new Promise((r) => setTimeout(r, 500));
  for (const c of [authed, anonymous]) {
    c.send({ type: 'ping', id: 9 });
    assert.equal((await c.nextWhere((f) => f.id === 9)).type, 'reply', 'still open');
  }
  // Closes are counted by code; every known label exists from the start (a sum is 0, not empty).
  const metrics = (await http(s, 'GET', '/metrics')).text;
  assert.match(metrics, /switchyard_closes_total\{code="4103",role="dev"\} 2\n/);
  assert.match(metrics, /switchyard_closes_total\{code="4100",role="dev"\} 0\n/);
  assert.match(metrics, /switchyard_closes_total\{code="other",role="dev"\} 0\n/);
  assert.match(metrics, /switchyard_errors_total\{code="internal",role="dev"\} 0\n/);
  assert.match(metrics, /switchyard_errors_total\{code="token_invalid",role="dev"\} 1\n/);
});

test('closes_total: a code a client sends that is not listed is counted as other', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=other'));
  await c.next();
  c.ws.close(4321, 'mine');
  await new Promise((r) => setTimeout(r, 300));
  const m = await connect(t, wsUrl(s, '/v1/ws?tenant=other'));
  await m.next();
  m.ws.close(1000);
  await new Promise((r) => setTimeout(r, 300));
  const metrics = (await http(s, 'GET', '/metrics')).text;
  assert.match(metrics, /switchyard_closes_total\{code="other",role="dev"\} 1\n/);
  assert.match(metrics, /switchyard_closes_total\{code="1000",role="dev"\} 1\n/);
  assert.doesNotMatch(metrics, /code="4321"/);
});
