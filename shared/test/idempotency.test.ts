import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, type Message } from '../src/index.js';
import { IdempotencyMap, checkIdempotencyKey, idempotencyWindowMs } from '../src/engine/idempotency.js';
import { DEFAULT_NAMESPACE } from '../src/model/tenant.js';

/** A publish that numbers its calls; `calls` says how many ran. */
function counter() {
  const c = { calls: 0, publish: (): Promise<Message> => Promise.resolve({ seq: ++c.calls, time: 1000 + c.calls, data: '"x"' }) };
  return c;
}

test('idempotency map: a repeat within the window gets the first result, marked duplicate', async () => {
  let now = 0;
  const m = new IdempotencyMap(10, () => now);
  const c = counter();
  const first = await m.run('a', 100, '"x"', c.publish);
  assert.equal(first.duplicate, undefined);
  const again = await m.run('a', 100, '"x"', c.publish);
  assert.deepEqual(again, { ...first, duplicate: true });
  assert.equal(c.calls, 1);
  assert.equal((await m.run('b', 100, '"x"', c.publish)).seq, 2, 'another key publishes');
  now = 100; // the window is over
  assert.equal((await m.run('a', 100, '"x"', c.publish)).duplicate, undefined);
  assert.equal(c.calls, 3);
});

test('idempotency map: racing calls share the first one\'s promise; a failure is forgotten', async () => {
  const m = new IdempotencyMap(10, () => 0);
  let release!: (msg: Message) => void;
  let calls = 0;
  const slow = (): Promise<Message> => {
    calls++;
    return new Promise((r) => (release = r));
  };
  const all = Array.from({ length: 20 }, () => m.run('k', 1000, '1', slow));
  release({ seq: 7, time: 5, data: '1' });
  const got = await Promise.all(all);
  assert.equal(calls, 1);
  assert.ok(got.every((g) => g.seq === 7 && g.time === 5));
  assert.equal(got.filter((g) => g.duplicate === true).length, 19);

  const failing = (): Promise<Message> => Promise.reject(new Error('down'));
  await assert.rejects(m.run('f', 1000, '1', failing), /down/);
  await new Promise((r) => setImmediate(r));
  const c = counter();
  assert.equal((await m.run('f', 1000, '1', c.publish)).duplicate, undefined, 'a retry after a failure publishes');
  assert.equal(c.calls, 1);
});

test('idempotency map: bounded by count, oldest forgotten first; expired keys pruned', async () => {
  let now = 0;
  const m = new IdempotencyMap(3, () => now);
  const c = counter();
  for (const k of ['k1', 'k2', 'k3', 'k4']) await m.run(k, 1000, '1', c.publish);
  assert.equal(m.size, 3);
  assert.equal(m.evicted, 1);
  assert.equal((await m.run('k4', 1000, '1', c.publish)).duplicate, true);
  assert.equal((await m.run('k1', 1000, '1', c.publish)).duplicate, undefined, 'k1 was forgotten early');
  // A flood of distinct keys never holds more than the bound.
  for (let i = 0; i < 10_000; i++) await m.run(`flood-${i}`, 1000, '1', c.publish);
  assert.equal(m.size, 3);
  // Expired entries leave on sweep (and from the oldest on, as keys arrive).
  now = 5000;
  m.sweep();
  assert.equal(m.size, 0);
});

test('idempotency keys: the rule, and the window each namespace gets', () => {
  for (const ok of ['a', 'order-42', '0b5f0c1e-6a4e-4c3e-9c39-2f4e2d1a7b9c', 'YWJj+/==', 'x'.repeat(128), 'a.b:c_d']) {
    assert.equal(checkIdempotencyKey(ok, 'key'), ok);
  }
  for (const bad of ['', 'x'.repeat(129), 'has space', 'new\nline', 'é', 42, null, {}]) {
    assert.throws(() => checkIdempotencyKey(bad, 'the Idempotency-Key header'), (e: unknown) => e instanceof ProtocolError && /Idempotency-Key header must be 1-128/.test(e.message));
  }
  assert.equal(idempotencyWindowMs(120, DEFAULT_NAMESPACE), 120_000);
  assert.equal(idempotencyWindowMs(120, { ...DEFAULT_NAMESPACE, historyTtlSeconds: 30 }), 30_000, 'a shorter history TTL caps it');
  assert.equal(idempotencyWindowMs(120, { ...DEFAULT_NAMESPACE, history: 0, historyTtlSeconds: 30 }), 120_000, 'no history, no cap');
});

test('tenants: idempotencyWindowSeconds defaults to 120 and is 1 to 86400', async () => {
  const { parseTenants, TenantsConfigError } = await import('../src/config/tenants.js');
  const doc = (extra: Record<string, unknown>) => ({
    adminToken: 'admin-token-1',
    tenants: { a: { secret: 'client-secret', postSecret: 'post-secret', backendSecret: 'backend-secret', ...extra } },
  });
  assert.equal(parseTenants(doc({})).tenants.get('a')?.idempotencyWindowSeconds, 120);
  assert.equal(parseTenants(doc({ idempotencyWindowSeconds: 5 })).tenants.get('a')?.idempotencyWindowSeconds, 5);
  for (const bad of [0, 86_401, 1.5, '60']) {
    assert.throws(() => parseTenants(doc({ idempotencyWindowSeconds: bad })), (e: unknown) => e instanceof TenantsConfigError && /tenants\.a\.idempotencyWindowSeconds: must be an integer from 1 to 86400/.test(e.message));
  }
});
