import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from '@switchyard/testkit';
import { http } from './helpers.js';
import { startCluster } from './cluster-helpers.js';

// Issue 12, item 1: "/readyz that turns 503 when the NATS reader is dead". A NATS server that
// stops answering (SIGSTOP) looks the same to a client as a reader that stopped reading: the
// socket stays open and nothing comes back. The client's own verdict takes 10–15 s.
test('readyz: 503 within seconds when NATS stops answering, 200 again when it answers', async (t) => {
  const c = await startCluster(t, 1);
  const nodes = [c.control.server, c.gateways[0]!.server];
  for (const s of nodes) assert.equal((await http(s, 'GET', '/readyz')).status, 200);
  process.kill(c.nats.pid, 'SIGSTOP');
  let resumed = false;
  t.after(() => {
    if (!resumed) process.kill(c.nats.pid, 'SIGCONT');
  });
  const stoppedAt = Date.now();
  for (const s of nodes) {
    await eventually(async () => (await http(s, 'GET', '/readyz')).status === 503, 'readyz 503 while NATS is stopped', { timeoutMs: 8000 });
  }
  const noticed = Date.now() - stoppedAt;
  assert.ok(noticed < 8000, `noticed after ${noticed} ms (the client alone takes 10-15 s)`);
  process.kill(c.nats.pid, 'SIGCONT');
  resumed = true;
  for (const s of nodes) {
    await eventually(async () => (await http(s, 'GET', '/readyz')).status === 200, 'readyz 200 once NATS answers', { timeoutMs: 8000 });
  }
});
