import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signClientToken } from '@switchyard/shared';
import { testTenants } from '@switchyard/testkit';
import { backend, connect, http, startDev, wsUrl } from './helpers.js';
import type { RunningServer } from '../src/server.js';

// Issue 12, item 3: channel names are free, so what a node keeps must not follow them.
async function historyChannels(s: RunningServer): Promise<number> {
  const m = await http(s, 'GET', '/metrics');
  const line = /^switchyard_history_channels\{[^}]*\} (\d+)$/m.exec(m.text);
  assert.ok(line, 'switchyard_history_channels is exported');
  return Number(line[1]);
}

test('hostile memory: an anonymous otter client naming 3,000 channels leaves nothing behind', async (t) => {
  const s = await startDev(t);
  const o = await connect(t, wsUrl(s, '/otter?tenant=demo'));
  await o.next();
  for (let i = 0; i < 3000; i++) o.send({ command: 'pub', channel: `spam ${i}`, message: { i } });
  o.send({ command: 'sub', channel: 'x', signature: 'bad' }); // answered after every pub was carried out
  assert.equal((await o.next()).error, 'invalid signature');
  assert.equal(await historyChannels(s), 0);
});

test('hostile memory: a tenant at maxChannels gets limit_exceeded over REST and WebSocket; channels it has keep working', async (t) => {
  const s = await startDev(t, { tenants: testTenants({ maxChannels: 20 }) });
  for (let i = 0; i < 20; i++) {
    const r = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: `chat:${i}`, data: i }, backend);
    assert.equal(r.status, 200, r.text);
  }
  const refused = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: 'chat:one-more', data: 1 }, backend);
  assert.equal(refused.status, 429);
  assert.deepEqual(refused.body, { code: 'limit_exceeded', message: 'tenant demo keeps history for its limit of 20 channels on this node' });
  assert.equal((await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: 'chat:3', data: 'again' }, backend)).body.seq, 2);
  assert.equal((await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: 'live:free', data: 1 }, backend)).status, 200, 'history 0 costs nothing');

  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  c.send({ type: 'auth', id: 1, token: signClientToken('demo-client-secret', { user: 'u' }) });
  c.send({ type: 'publish', id: 2, channel: 'chat:ws-new', data: 1 });
  const r = await c.nextWhere((f) => f.type === 'reply' && f.id === 2);
  assert.equal(r.error?.name, 'limit_exceeded', JSON.stringify(r));
  // Subscribing is never refused, and the other tenant is untouched.
  c.send({ type: 'subscribe', id: 3, channel: 'chat:ws-new' });
  assert.ok((await c.nextWhere((f) => f.type === 'reply' && f.id === 3)).result);
  const other = await http(s, 'POST', '/v1/publish', { tenant: 'other', channel: 'x', data: 1 }, { authorization: 'Bearer other-backend-secret' });
  assert.equal(other.status, 200);
  assert.equal(await historyChannels(s), 22);
});
