import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as natsConnect } from '@nats-io/transport-node';
import { EmbeddedEngine } from '@switchyard/shared';
import { TENANTS, eventually, startNatsServer, testTenants } from '@switchyard/testkit';
import { startProc, tenantsFile } from './cli-process.js';
import { backend, startDev } from './helpers.js';

type Answer = { status: number; body: any; text: string };

/** POST /v1/publish against `url` as the demo backend, with an Idempotency-Key header when `key` is given. */
async function post(url: string, body: unknown, key?: string): Promise<Answer> {
  const res = await fetch(`${url}/v1/publish`, {
    method: 'POST',
    headers: { ...backend, ...(key !== undefined ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

async function history(url: string, channel: string): Promise<{ seq: number; time: number; data: unknown }[]> {
  const res = await fetch(`${url}/v1/history?tenant=demo&channel=${encodeURIComponent(channel)}`, { headers: backend });
  assert.equal(res.status, 200);
  return ((await res.json()) as { messages: { seq: number; time: number; data: unknown }[] }).messages;
}

test('idempotency, one node: a repeated key publishes once and answers the first seq and time', async (t) => {
  const s = await startDev(t);
  const a = await post(s.url, { tenant: 'demo', channel: 'chat:idem', data: 'first' }, 'order-1');
  assert.equal(a.status, 200, a.text);
  assert.equal(a.body.duplicate, false);
  const b = await post(s.url, { tenant: 'demo', channel: 'chat:idem', data: 'retry' }, 'order-1');
  assert.deepEqual(b.body, { ...a.body, duplicate: true });
  // Another key, and the same key on another channel, publish.
  const c = await post(s.url, { tenant: 'demo', channel: 'chat:idem', data: 'second' }, 'order-2');
  assert.equal(c.body.seq, a.body.seq + 1);
  assert.equal(c.body.duplicate, false);
  const d = await post(s.url, { tenant: 'demo', channel: 'chat:other', data: 'x' }, 'order-1');
  assert.equal(d.body.duplicate, false);
  assert.deepEqual((await history(s.url, 'chat:idem')).map((m) => m.data), ['first', 'second']);
  // Without a key the answer is as it always was.
  const e = await post(s.url, { tenant: 'demo', channel: 'chat:idem', data: 'plain' });
  assert.deepEqual(Object.keys(e.body).sort(), ['channel', 'seq', 'time']);
});

test('idempotency, one node: 20 concurrent requests with one key store one message, every answer the same', async (t) => {
  const s = await startDev(t);
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => post(s.url, { tenant: 'demo', channel: 'chat:race', data: i }, 'race-1')));
  assert.ok(all.every((r) => r.status === 200));
  assert.equal(new Set(all.map((r) => `${r.body.seq}/${r.body.time}`)).size, 1);
  assert.equal(all.filter((r) => r.body.duplicate === false).length, 1);
  assert.equal((await history(s.url, 'chat:race')).length, 1);
});

test('idempotency, one node: the key is forgotten after the tenant window; history-0 channels too', async (t) => {
  const s = await startDev(t, { tenants: testTenants({ idempotencyWindowSeconds: 1 }) });
  const a = await post(s.url, { tenant: 'demo', channel: 'chat:win', data: 1 }, 'k');
  const l = await post(s.url, { tenant: 'demo', channel: 'live:win', data: 1 }, 'k');
  assert.equal(l.body.seq, 0);
  const l2 = await post(s.url, { tenant: 'demo', channel: 'live:win', data: 2 }, 'k');
  assert.deepEqual(l2.body, { ...l.body, duplicate: true });
  await new Promise((r) => setTimeout(r, 1100));
  const b = await post(s.url, { tenant: 'demo', channel: 'chat:win', data: 2 }, 'k');
  assert.equal(b.body.duplicate, false);
  assert.equal(b.body.seq, a.body.seq + 1);
  assert.equal((await post(s.url, { tenant: 'demo', channel: 'live:win', data: 3 }, 'k')).body.duplicate, false);
});

test('idempotency, one node: batch forms', async (t) => {
  const s = await startDev(t);
  // channels: the header key applies to each channel.
  const body = { tenant: 'demo', channels: ['news:a', 'news:b'], data: 'n' };
  const a = await post(s.url, body, 'batch-1');
  assert.deepEqual(a.body.results.map((r: any) => r.duplicate), [false, false]);
  const b = await post(s.url, body, 'batch-1');
  assert.deepEqual(b.body.results, a.body.results.map((r: any) => ({ ...r, duplicate: true })));
  // messages: a key per message; messages without one always publish.
  const msgs = { tenant: 'demo', messages: [{ channel: 'news:a', data: 1, key: 'm1' }, { channel: 'news:a', data: 2, key: 'm2' }, { channel: 'news:a', data: 3 }] };
  const c = await post(s.url, msgs);
  assert.equal(c.status, 200, c.text);
  assert.deepEqual(c.body.results.map((r: any) => r.duplicate), [false, false, undefined]);
  const d = await post(s.url, msgs);
  assert.deepEqual(d.body.results.map((r: any) => r.duplicate), [true, true, undefined]);
  assert.deepEqual(d.body.results.slice(0, 2).map((r: any) => r.seq), c.body.results.slice(0, 2).map((r: any) => r.seq));
  assert.deepEqual((await history(s.url, 'news:a')).map((m) => m.data), ['n', 1, 2, 3, 3]);
});

test('idempotency, one node: bad keys are refused with 400 bad_request, and nothing is published', async (t) => {
  const s = await startDev(t);
  const cases: [unknown, string | undefined, RegExp][] = [
    [{ tenant: 'demo', channel: 'chat:bad', data: 1 }, 'x'.repeat(129), /the Idempotency-Key header must be 1-128 characters/],
    [{ tenant: 'demo', channel: 'chat:bad', data: 1 }, 'has space', /Idempotency-Key header must be/],
    [{ tenant: 'demo', channel: 'chat:bad', data: 1 }, '', /Idempotency-Key header must be/],
    [{ tenant: 'demo', messages: [{ channel: 'chat:bad', data: 1, key: 7 }] }, undefined, /messages\[0\]\.key must be 1-128/],
    [{ tenant: 'demo', messages: [{ channel: 'chat:bad', data: 1 }] }, 'k', /give each message its own key field/],
    [{ tenant: 'demo', messages: [{ channel: 'chat:bad', data: 1, key: 'k' }, { channel: 'chat:bad', data: 2, key: 'k' }] }, undefined, /messages\[1\]\.key repeats the key of an earlier message to chat:bad/],
  ];
  for (const [body, key, message] of cases) {
    const r = await post(s.url, body, key);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.code, 'bad_request');
    assert.match(r.body.message, message);
  }
  assert.equal((await history(s.url, 'chat:bad')).length, 0);
});

test('idempotency, one node: the map is bounded; past the bound the oldest key is forgotten early', async (t) => {
  const engine = new EmbeddedEngine({ maxIdempotencyKeys: 3 });
  const s = await startDev(t, { engine });
  for (const k of ['k1', 'k2', 'k3', 'k4']) assert.equal((await post(s.url, { tenant: 'demo', channel: 'chat:bound', data: k }, k)).body.duplicate, false);
  assert.equal(engine.idempotency.size, 3);
  assert.equal((await post(s.url, { tenant: 'demo', channel: 'chat:bound', data: 'again' }, 'k4')).body.duplicate, true);
  assert.equal((await post(s.url, { tenant: 'demo', channel: 'chat:bound', data: 'again' }, 'k1')).body.duplicate, false);
  for (let i = 0; i < 200; i++) await post(s.url, { tenant: 'demo', channel: 'chat:flood', data: i }, `flood-${i}`);
  assert.equal(engine.idempotency.size, 3, 'a flood of distinct keys holds at most the bound');
});

/** nats-server and two control APIs over it, with a `window`-second idempotency window. */
async function twoReplicas(t: TestContext, window: number) {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const tenants = tenantsFile(t, { ...TENANTS, tenants: { ...TENANTS.tenants, demo: { ...TENANTS.tenants.demo, idempotencyWindowSeconds: window } } });
  const prefix = `i${randomBytes(4).toString('hex')}`;
  const args = (n: number) => ['--nats', nats.url, '--nats-prefix', prefix, '--tenants', tenants, '--node-id', `ctl-${n}`];
  const ctl = await Promise.all([startProc(t, 'ctl0', 'control-api', args(0)), startProc(t, 'ctl1', 'control-api', args(1))]);
  await eventually(async () => {
    for (const p of ctl) if ((await fetch(`${p.url}/readyz`)).status !== 200) return false;
    return true;
  }, 'both control APIs ready', { timeoutMs: 20_000, everyMs: 100 });
  const nc = await natsConnect({ servers: nats.url });
  t.after(() => nc.close());
  return { nats, ctl, prefix, nc };
}

test('idempotency, cluster: concurrent retries over two control APIs store one message; every answer its seq', async (t) => {
  const { ctl, prefix, nc } = await twoReplicas(t, 3);
  const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
  const stream = (await jsm.streams.names().next()).find((n) => n.includes('chat'));
  assert.ok(stream !== undefined);
  assert.equal((await jsm.streams.info(stream)).config.duplicate_window, 3_000_000_000, 'the stream keeps ids for the tenant window');

  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => post(ctl[i % 2]!.url, { tenant: 'demo', channel: 'chat:race', data: i }, 'race-1')));
  assert.ok(all.every((r) => r.status === 200), all.map((r) => r.text).join('\n'));
  assert.equal(new Set(all.map((r) => r.body.seq)).size, 1, 'one seq');
  assert.equal(new Set(all.map((r) => r.body.time)).size, 1, 'one time: the stored message\'s');
  assert.equal(all.filter((r) => r.body.duplicate === false).length, 1);
  const stored = await history(ctl[0]!.url, 'chat:race');
  assert.equal(stored.length, 1);
  assert.equal(stored[0]!.seq, all[0]!.body.seq);
  assert.equal(stored[0]!.time, all[0]!.body.time);
  assert.equal((await jsm.streams.info(stream)).state.messages, 1);

  // Batch form across the replicas, then the window ends and the key publishes again.
  const batch = { tenant: 'demo', messages: [{ channel: 'chat:b', data: 1, key: 'x' }, { channel: 'chat:b', data: 2, key: 'y' }] };
  const [b0, b1] = await Promise.all([post(ctl[0]!.url, batch), post(ctl[1]!.url, batch)]);
  assert.deepEqual(b0!.body.results.map((r: any) => r.seq), b1!.body.results.map((r: any) => r.seq));
  assert.equal((await history(ctl[0]!.url, 'chat:b')).length, 2);
  await new Promise((r) => setTimeout(r, 3200));
  const late = await post(ctl[1]!.url, { tenant: 'demo', channel: 'chat:race', data: 'late' }, 'race-1');
  assert.equal(late.body.duplicate, false);
  assert.ok(late.body.seq > all[0]!.body.seq);
  void prefix;
});

test('idempotency, cluster: a history-0 namespace claims keys in a KV bucket; racing replicas publish once', async (t) => {
  const { ctl, prefix, nc } = await twoReplicas(t, 2);
  const seen: string[] = [];
  const sub = nc.subscribe(`${prefix}.live.demo.>`, { callback: (err, m) => void (err === null && seen.push(m.string())) });
  t.after(() => sub.unsubscribe());
  await nc.flush();
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => post(ctl[i % 2]!.url, { tenant: 'demo', channel: 'live:ticker', data: i }, 'tick-1')));
  assert.ok(all.every((r) => r.status === 200), all.map((r) => r.text).join('\n'));
  assert.ok(all.every((r) => r.body.seq === 0));
  assert.equal(new Set(all.map((r) => r.body.time)).size, 1, 'every answer the first publish\'s time');
  assert.equal(all.filter((r) => r.body.duplicate === false).length, 1);
  await nc.flush();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(seen.length, 1, `published once: ${seen.join(',')}`);
  // The bucket's TTL is the window: after it the key publishes again.
  await new Promise((r) => setTimeout(r, 2200));
  const again = await post(ctl[0]!.url, { tenant: 'demo', channel: 'live:ticker', data: 'later' }, 'tick-1');
  assert.equal(again.body.duplicate, false);
  await eventually(() => seen.length === 2, 'the second publish delivered', { timeoutMs: 2000, everyMs: 20 });
});
