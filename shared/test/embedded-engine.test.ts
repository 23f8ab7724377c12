import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedEngine } from '../src/engine/embedded.js';
import { tenantOf, testTenants } from '@switchyard/testkit';
import { resolveChannel } from '../src/model/channel.js';
import type { Message } from '../src/model/message.js';
import { engineContract } from './engine-contract.js';

engineContract('embedded', () => new EmbeddedEngine());

const registry = testTenants({
  namespaces: {
    ttl: { history: 10, historyTtlSeconds: 60 },
    short: { history: 3 },
  },
});
const t1 = tenantOf(registry, 'demo');

test('embedded: kind is "embedded"', () => {
  assert.equal(new EmbeddedEngine().kind, 'embedded');
});

test('embedded: a channel\'s epoch is stable while it keeps its log and differs between engines', async () => {
  const a = new EmbeddedEngine();
  const b = new EmbeddedEngine();
  const c = resolveChannel(t1, 'room');
  assert.deepEqual(await a.read(c, 0), { messages: [], last: 0, complete: true, epoch: a.epoch }, 'no log yet');
  await a.publish(c, '1');
  const p1 = await a.history.read(c, -1);
  await a.publish(c, '2');
  const p2 = await a.history.read(c, 0);
  assert.equal(p2.epoch, p1.epoch);
  assert.match(p1.epoch, /^[0-9a-f-]{36}\.\d+$/);
  assert.ok(p1.epoch.startsWith(`${a.epoch}.`));
  await b.publish(c, '1');
  assert.notEqual((await b.read(c, 0)).epoch, p1.epoch);
  await a.close();
  await b.close();
});

test('embedded: seqs restart at 1 in a new engine (new epoch)', async () => {
  const c = resolveChannel(t1, 'room');
  const a = new EmbeddedEngine();
  await a.publish(c, '1');
  await a.publish(c, '2');
  const b = new EmbeddedEngine();
  assert.equal((await b.publish(c, '1')).seq, 1);
});

test('embedded: message time comes from the injected clock', async () => {
  let now = 1_700_000_000_000;
  const e = new EmbeddedEngine({ now: () => now });
  const c = resolveChannel(t1, 'room');
  const m1 = await e.publish(c, '"a"');
  now += 1234;
  const m2 = await e.publish(c, '"b"');
  assert.equal(m1.time, 1_700_000_000_000);
  assert.equal(m2.time, 1_700_000_001_234);
});

test('embedded: TTL expiry with an injected clock', async () => {
  let now = 1_000_000;
  const e = new EmbeddedEngine({ now: () => now });
  const c = resolveChannel(t1, 'ttl:room');
  assert.equal(c.opts.historyTtlSeconds, 60);

  const m1 = await e.publish(c, '"at 0s"');
  now += 30_000;
  const m2 = await e.publish(c, '"at 30s"');
  now += 30_000; // 60 s after m1: exactly the TTL, still kept
  let page = await e.read(c, 0);
  assert.deepEqual(page.messages, [m1, m2]);
  assert.equal(page.complete, true);

  now += 1; // m1 is now older than 60 s
  page = await e.read(c, 0);
  assert.deepEqual(page.messages, [m2]);
  assert.equal(page.complete, false, 'm1 was lost to the TTL');
  assert.equal(page.last, 2);
  page = await e.read(c, 1);
  assert.deepEqual(page.messages, [m2]);
  assert.equal(page.complete, true);

  now += 30_000; // everything expired
  page = await e.read(c, 0);
  assert.deepEqual(page.messages, []);
  assert.equal(page.complete, false);
  assert.equal(page.last, 2);
  assert.deepEqual((await e.read(c, -1)).messages, []);
  assert.deepEqual(await e.read(c, 2), { messages: [], last: 2, complete: true, epoch: page.epoch });

  // Seqs continue after expiry.
  const m3 = await e.publish(c, '"later"');
  assert.equal(m3.seq, 3);
  page = await e.read(c, 2);
  assert.deepEqual(page.messages, [m3]);
  assert.equal(page.complete, true);
});

test('embedded: the default namespace has no TTL', async () => {
  let now = 0;
  const e = new EmbeddedEngine({ now: () => now });
  const c = resolveChannel(t1, 'plain');
  const m = await e.publish(c, '1');
  now = 10 * 365 * 86_400_000;
  assert.deepEqual((await e.read(c, 0)).messages, [m]);
});

test('embedded: namespace history size trims the ring', async () => {
  const e = new EmbeddedEngine();
  const c = resolveChannel(t1, 'short:x');
  for (let i = 1; i <= 5; i++) await e.publish(c, String(i));
  const page = await e.read(c, 0);
  assert.deepEqual(page.messages.map((m) => m.seq), [3, 4, 5]);
  assert.equal(page.complete, false);
  assert.equal(page.last, 5);
});

test('embedded: delivery happens before publish resolves (synchronous)', async () => {
  const e = new EmbeddedEngine();
  const c = resolveChannel(t1, 'sync');
  const got: Message[] = [];
  e.setDeliveryHandler((_ch, m) => got.push(m));
  await e.subscribe(c);
  const p = e.publish(c, '"x"');
  assert.equal(got.length, 1, 'delivered during publish()');
  assert.equal(got[0], await p);
});

test('embedded: broker, history and presence are the engine itself', () => {
  const e = new EmbeddedEngine();
  assert.equal(e.broker, e);
  assert.equal(e.history, e);
  assert.equal(e.presence, e);
});

test('embedded: registers only switchyard_history_channels (the NATS series exist only with --nats)', async () => {
  const { createMetrics } = await import('../src/metrics.js');
  const metrics = createMetrics('dev', { processMetrics: false });
  const before = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).sort();
  const e = new EmbeddedEngine();
  e.registerMetrics(metrics);
  await e.publish(resolveChannel(t1, 'room'), '1');
  const after = await metrics.registry.getMetricsAsJSON();
  assert.deepEqual(after.map((m) => m.name).filter((n) => !before.includes(n)), ['switchyard_history_channels']);
  assert.equal(after.find((m) => m.name === 'switchyard_history_channels')?.values[0]?.value, 1);
  await e.close();
});