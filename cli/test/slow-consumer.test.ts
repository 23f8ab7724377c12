import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { resolveChannel, signClientToken } from '@switchyard/shared';
import { connect, http, startDev, tenants, wsUrl, type Client } from './helpers.js';

test('a slow consumer is closed with 4100 after a gap-free prefix; a fast one on the same channel gets everything', async (t) => {
  const s = await startDev(t, {
    limits: { maxPayload: 65536, maxBufferedBytes: 64 * 1024, maxSubscriptions: 10, idleTimeoutSeconds: 120 },
  });
  const token = signClientToken('demo-client-secret', { user: 'u' });
  const open = async (): Promise<Client> => {
    const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
    await c.next();
    c.send({ type: 'auth', id: 1, token });
    await c.next();
    c.send({ type: 'subscribe', id: 2, channel: 'chat:flood' });
    await c.next();
    return c;
  };
  const fast = await open();
  const slow = await open();
  // The slow client stops reading: first the kernel buffers fill, then uWS's.
  (slow.ws as unknown as { _socket: Socket })._socket.pause();

  const ref = resolveChannel(tenants().tenants.get('demo')!, 'chat:flood');
  const payload = JSON.stringify({ pad: 'x'.repeat(4000) });
  const total = 6000; // ~24 MB: more than loopback socket buffers hold
  const batch = 100;
  for (let seq = 1; seq <= total; seq += batch) {
    for (let i = 0; i < batch; i++) await s.engine.broker.publish(ref, payload);
    // Let the fast client read what was sent before publishing more.
    const got = await fast.take(batch, (f) => f.type === 'message', 10_000);
    assert.equal(got[batch - 1].seq, seq + batch - 1);
  }

  (slow.ws as unknown as { _socket: Socket })._socket.resume();
  const closed = await slow.closedWithin(10_000);
  assert.equal(closed.code, 4100);
  assert.match(closed.reason, /slow consumer/);
  const seqs = slow.frames.filter((f: any) => f.type === 'message').map((f: any) => f.seq as number);
  assert.ok(seqs.length < total, 'the slow client did not receive everything');
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'what it received has no hole');

  const metrics = await http(s, 'GET', '/metrics');
  assert.match(metrics.text, /switchyard_slow_consumer_closes_total\{role="dev"\} 1\n/);
});
