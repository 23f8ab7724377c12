import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { eventually } from '@switchyard/testkit';
import { Client, type DisconnectedInfo } from '@switchyard/client';
import { deliveryProblems, freePort, kill, mintToken, Recorder, startDev, SteadyPublisher, tenantsFile, type Dev } from './helpers.js';

// `switchyard dev` SIGKILLed mid-stream and started again on the same port. The embedded engine
// loses its history: the client must say so (recovered:false, a new epoch), then deliver
// everything published after the restart exactly once and in order.

test('restart: SIGKILL of switchyard dev mid-stream and a restart on the same port — recovered:false, new epoch, then every message exactly once in order', { timeout: 60_000 }, async (t) => {
  const file = tenantsFile(t);
  const port = await freePort();
  let dev: Dev = await startDev(t, file, port);
  const channel = 'chat:restart';
  const c = new Client(dev.ws(), {
    WebSocket,
    getToken: () => mintToken(dev.url, { user: 'r' }),
    reconnectBaseMs: 100,
    reconnectMaxMs: 500,
  });
  t.after(() => c.close());
  const drops: DisconnectedInfo[] = [];
  c.on('disconnected', (d) => drops.push(d));
  const sub = c.subscribe<{ n: number }>(channel);
  const rec = new Recorder(sub);
  c.connect();
  await eventually(() => rec.subscribed.length === 1, 'subscribed');
  const publisher = new SteadyPublisher(() => dev.url, channel, 50).start();
  t.after(() => publisher.stop());

  await eventually(() => rec.messages.length >= 20, 'messages before the kill');
  const killedAt = Date.now();
  await kill(dev.run);
  const before = publisher.acked.filter((a) => a.at < killedAt);
  const firstEpoch = rec.subscribed[0]!.epoch;
  await eventually(() => drops.length >= 1, 'the client noticed');
  assert.equal(drops[0]!.code, 1006);

  dev = await startDev(t, file, port);
  const restartedAt = Date.now();
  await eventually(() => rec.subscribed.length === 2, 'resubscribed after the restart', { timeoutMs: 10_000 });
  const resumed = rec.subscribed[1]!;
  t.diagnostic(`down ${restartedAt - killedAt} ms; resubscribed ${Date.now() - restartedAt} ms after the restart; ${drops.length - 1} failed attempts meanwhile`);
  assert.equal(resumed.recovered, false, 'the history was lost: the client must be told');
  assert.equal(resumed.resumed, true);
  assert.notEqual(resumed.epoch, firstEpoch);

  // Publishing goes on; then stop and let the client catch up.
  await eventually(() => publisher.acked.filter((a) => a.at > restartedAt).length >= 30, 'publishes after the restart', { timeoutMs: 10_000 });
  await publisher.stop();
  const after = publisher.acked.filter((a) => a.at > killedAt);
  const last = after.at(-1)!;
  await eventually(() => rec.messages.some((m) => m.data.n === last.n), 'the last message', { timeoutMs: 5000 });

  // Before the kill: everything acknowledged arrived, once, in order.
  const pre = rec.messages.slice(0, rec.at[1]);
  assert.deepEqual(deliveryProblems(pre, before), []);
  // After the restart (seqs start again at 1): every acknowledged message exactly once, in order.
  const post = rec.messages.slice(rec.at[1]);
  assert.deepEqual(deliveryProblems(post, after), []);
  assert.equal(post[0]!.seq, 1, 'the new epoch starts at seq 1');
  assert.deepEqual(post.map((m) => m.seq), post.map((_, i) => i + 1));
  t.diagnostic(`${before.length} messages acknowledged before the kill, ${after.length} after the restart; all delivered once, in order`);
  assert.deepEqual(sub.position, { seq: post.at(-1)!.seq, epoch: resumed.epoch });
});
