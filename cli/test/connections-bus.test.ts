import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as natsConnect } from '@nats-io/transport-node';
import { startCluster } from './cluster-helpers.js';
import { backend, connect, http, wsUrl } from './helpers.js';

test('/v1/connections in a cluster: the control API checks the bearer; the command on the bus carries the proven tenant, never the secret', async (t) => {
  const cl = await startCluster(t, 1);
  const spy = await natsConnect({ servers: cl.nats.url });
  t.after(() => spy.close());
  const seen: string[] = [];
  spy.subscribe(`${cl.prefix}.node.>`, { callback: (_e, m) => void seen.push(m.string()) });
  await spy.flush();

  const c = await connect(t, wsUrl(cl.gateways[0]!.server, '/v1/ws?tenant=demo'));
  const hello = await c.next();
  const path = `/v1/connections/${encodeURIComponent(hello.conn as string)}`;
  const pushed = await http(cl.control.server, 'PUT', path, '{"to":"you"}', backend);
  assert.equal(pushed.status, 200, pushed.text);
  assert.deepEqual(await c.next(5000), { to: 'you' });
  const other = await http(cl.control.server, 'PUT', path, '{"to":"you"}', { authorization: 'Bearer other-backend-secret' });
  assert.equal(other.status, 401, "another tenant's backend may not push");
  assert.equal((await http(cl.control.server, 'GET', path)).status, 401, 'nor anyone without a bearer');

  await spy.flush();
  assert.ok(seen.length >= 3, `the commands crossed the bus: ${seen.length}`);
  const secret = backend.authorization.slice('Bearer '.length);
  for (const m of seen) {
    assert.ok(!m.includes(secret) && !m.includes('other-backend-secret') && !/authorization/i.test(m), m);
  }
  assert.deepEqual(JSON.parse(seen[0]!).backendOf, ['demo']);
  assert.deepEqual(JSON.parse(seen[1]!).backendOf, ['other']);
});
