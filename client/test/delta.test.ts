import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { TENANTS, eventually, startNatsServer } from '@switchyard/testkit';
import { Client, SwitchyardError, type DeltaCodec, type Message } from '@switchyard/client';
import { fossil } from '@switchyard/client/delta';
import { msgpack } from '@switchyard/client/msgpack';
import { startProc } from '../../cli/test/cli-process.js';
import { mintToken, Recorder, restPublish, startDev, tenantsFile } from './helpers.js';

// Delta compression (docs/client.md#delta-compression): the client asks for it per
// subscription, applies the deltas, and the app sees whole messages.

const TENANTS_DELTA = {
  ...TENANTS,
  tenants: { ...TENANTS.tenants, demo: { ...TENANTS.tenants.demo, namespaces: { ...TENANTS.tenants.demo.namespaces, tick: { history: 100, delta: true } } } },
};

/** A ~2 KB ticker object with one to three fields changed per message. */
function ticker(n: number): { n: number } & Record<string, unknown> {
  const o: { n: number } & Record<string, unknown> = { n };
  for (let k = 0; k < 25; k++) {
    const changed = k === n % 25 || (n % 3 > 0 && k === (n * 7) % 25) || (n % 3 > 1 && k === (n * 11) % 25);
    o[`instrument_${k}`] = { price: changed ? 100 + n * 0.5 : 100 + k, volume: 1000 * k, name: `Zürich ${k}` };
  }
  return o;
}

/** fossil, counting what it applied; `breakAt`: the n-th apply answers garbage (a corrupted delta). */
function counting(breakAt = 0): DeltaCodec & { applied: number } {
  const c = {
    name: 'fossil',
    applied: 0,
    apply(base: Uint8Array, delta: Uint8Array): Uint8Array {
      c.applied++;
      if (c.applied === breakAt) return fossil.apply(base, delta.map((b, i) => (i === delta.length - 3 ? b ^ 1 : b)));
      return fossil.apply(base, delta);
    },
  };
  return c;
}

for (const codec of ['json', 'msgpack'] as const) {
  test(`delta (${codec}): the app gets every message whole; all but the first came as deltas; a delta that does not apply makes it resubscribe`, { timeout: 60_000 }, async (t) => {
    const dev = await startDev(t, tenantsFile(t, TENANTS_DELTA));
    const c = new Client(dev.ws(), { WebSocket, getToken: () => mintToken(dev.url, { user: 'u' }), ...(codec === 'msgpack' ? { codec: msgpack } : {}) });
    t.after(() => c.close());
    const errors: SwitchyardError[] = [];
    c.on('error', (e) => errors.push(e));
    const d = counting(30);
    const channel = `tick:${codec}`;
    const rec = new Recorder(c.subscribe<{ n: number }>(channel, { delta: d }));
    c.connect();
    await eventually(() => rec.subscribed.length === 1, 'subscribed');
    const N = 60;
    for (let n = 1; n <= N; n++) await restPublish(dev.url, channel, ticker(n));
    await eventually(() => rec.messages.length >= N, `${N} messages`, { timeoutMs: 10_000 });
    assert.deepEqual(rec.messages.map((m: Message<{ n: number }>) => m.data), Array.from({ length: N }, (_, i) => ticker(i + 1)));
    assert.deepEqual(rec.seqs, Array.from({ length: N }, (_, i) => i + 1), 'each once, in order');
    // Apply 30 failed its checksum: one resubscribe, resuming after message 30, then a full message and deltas again.
    assert.equal(rec.subscribed.length, 2);
    assert.deepEqual([rec.subscribed[1]!.resumed, rec.subscribed[1]!.recovered], [true, true]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /subscription tick:\w+: seq 31: bad checksum; subscribing again/);
    assert.ok(d.applied >= N - 3, `${d.applied} deltas applied`);
  });
}

test('delta: a namespace without delta just sends full messages; the subscription works as without the option', async (t) => {
  const dev = await startDev(t, tenantsFile(t, TENANTS_DELTA));
  const c = new Client(dev.ws(), { WebSocket, getToken: () => mintToken(dev.url, { user: 'u' }) });
  t.after(() => c.close());
  const d = counting();
  const rec = new Recorder(c.subscribe<{ n: number }>('logs:plain', { delta: d }));
  c.connect();
  await eventually(() => rec.subscribed.length === 1, 'subscribed');
  for (let n = 1; n <= 5; n++) await restPublish(dev.url, 'logs:plain', ticker(n));
  await eventually(() => rec.messages.length === 5, '5 messages');
  assert.deepEqual(rec.messages.map((m) => m.data), [1, 2, 3, 4, 5].map(ticker));
  assert.equal(d.applied, 0);
});

test('cluster: delta subscriptions through two gateways on NATS — every client rebuilds every message, in order', { timeout: 90_000 }, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const file = tenantsFile(t, TENANTS_DELTA);
  const prefix = `d${randomBytes(4).toString('hex')}`;
  const common = ['--nats', nats.url, '--nats-prefix', prefix, '--tenants', file];
  const control = await startProc(t, 'control', 'control-api', [...common, '--node-id', 'control-1']);
  const gateways = await Promise.all([0, 1].map((i) => startProc(t, `gw${i}`, 'gateway', [...common, '--node-id', `gw${i}-1`])));
  await eventually(async () => {
    for (const p of [control, ...gateways]) if ((await fetch(`${p.url}/readyz`)).status !== 200) return false;
    return true;
  }, 'ready', { timeoutMs: 20_000, everyMs: 100 });
  const channel = 'tick:cluster';
  const clients = [0, 1, 2, 3].map((i) => {
    const g = gateways[i % 2]!;
    const c = new Client(`ws://127.0.0.1:${g.port}/v1/ws?tenant=demo`, { WebSocket, getToken: () => mintToken(control.url, { user: `u${i}` }), ...(i >= 2 ? { codec: msgpack } : {}) });
    t.after(() => c.close());
    const d = counting();
    const rec = new Recorder(c.subscribe<{ n: number }>(channel, { delta: d }));
    c.connect();
    return { c, d, rec };
  });
  await eventually(() => clients.every((x) => x.rec.subscribed.length === 1), 'every client subscribed', { timeoutMs: 15_000 });
  const N = 80;
  const seqs: number[] = [];
  for (let n = 1; n <= N; n++) seqs.push(await restPublish(control.url, channel, ticker(n)));
  await eventually(() => clients.every((x) => x.rec.messages.length >= N), 'every client has every message', { timeoutMs: 15_000 });
  for (const [i, x] of clients.entries()) {
    assert.deepEqual(x.rec.messages.map((m) => m.data), Array.from({ length: N }, (_, k) => ticker(k + 1)), `client ${i}`);
    assert.deepEqual(x.rec.seqs, seqs, `client ${i}: the stream's seqs`);
    assert.equal(x.d.applied, N - 1, `client ${i}: all but the first were deltas`);
    assert.equal(x.rec.subscribed.length, 1);
  }
});
