import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedEngine } from '../src/engine/embedded.js';
import { resolveChannel } from '../src/model/channel.js';
import { hiddenChannel } from '../src/model/hidden.js';
import { ErrorCode, ProtocolError } from '../src/codes.js';
import { tenantOf, testTenants } from '@switchyard/testkit';

// Issue 12, item 3: what the embedded engine keeps is bounded by what it must keep, never by
// how many channels were ever named.
const registry = testTenants({ namespaces: { live: { history: 0 }, ttl: { history: 10, historyTtlSeconds: 60 } } });
const demo = tenantOf(registry, 'demo');
const other = tenantOf(registry, 'other');

test('embedded memory: channels without history keep nothing; their messages carry seq 0, as in a cluster', async (t) => {
  const e = new EmbeddedEngine();
  t.after(() => e.close());
  for (let i = 0; i < 1000; i++) {
    assert.equal((await e.publish(resolveChannel(demo, `live:${i}`), '1')).seq, 0);
    await e.publish(hiddenChannel('demo', `\u0001otter:${i}`), '1');
  }
  assert.equal(e.channels, 0);
  assert.deepEqual(await e.read(resolveChannel(demo, 'live:1'), 0), { messages: [], last: 0, complete: true, epoch: '' });
  assert.equal((await e.read(resolveChannel(demo, 'live:1'), 5)).complete, false, 'nothing to resume from');

  // A subscriber still gets them live.
  const got: number[] = [];
  e.setDeliveryHandler((_c, m) => got.push(m.seq));
  await e.subscribe(resolveChannel(demo, 'live:x'));
  await e.publish(resolveChannel(demo, 'live:x'), '1');
  assert.deepEqual(got, [0]);
  assert.equal(e.channels, 0);
});

test('embedded memory: an idle channel\'s log goes once its TTL expired everything and no one is subscribed', async (t) => {
  let now = 1_000_000;
  const e = new EmbeddedEngine({ now: () => now });
  t.after(() => e.close());
  const c = resolveChannel(demo, 'ttl:room');
  const pinned = resolveChannel(demo, 'ttl:pinned');
  for (let i = 0; i < 500; i++) await e.publish(resolveChannel(demo, `ttl:${i}`), '1');
  await e.subscribe(pinned);
  const m = await e.publish(c, '"a"');
  const old = await e.read(c, 0);
  assert.equal(e.channels, 502);

  now += 30_000;
  e.sweep();
  assert.equal(e.channels, 502, 'messages within the TTL keep their channel');
  now += 31_000;
  e.sweep();
  assert.equal(e.channels, 1, 'only the subscribed channel is left');

  // The channel comes back in a new epoch: a client resuming with the old one is told.
  const m2 = await e.publish(c, '"b"');
  assert.equal(m2.seq, 1);
  const page = await e.read(c, m.seq);
  assert.notEqual(page.epoch, old.epoch);
  assert.deepEqual(page.messages, []); // seq 1 ≤ after: the hub sees the epoch change and replays it all
  assert.deepEqual((await e.read(c, 0)).messages.map((x) => x.data), ['"b"']);
});

test('embedded memory: a tenant at its channel limit gets limit_exceeded; other tenants and known channels are unaffected', async (t) => {
  const e = new EmbeddedEngine({ channelLimit: (id) => (id === 'demo' ? 3 : 0) });
  t.after(() => e.close());
  for (let i = 0; i < 3; i++) await e.publish(resolveChannel(demo, `c${i}`), '1');
  await assert.rejects(e.publish(resolveChannel(demo, 'c3'), '1'), (err) =>
    err instanceof ProtocolError && err.code === ErrorCode.LimitExceeded && /limit of 3 channels/.test(err.message));
  assert.equal((await e.publish(resolveChannel(demo, 'c0'), '2')).seq, 2, 'a channel it has keeps working');
  assert.equal((await e.publish(resolveChannel(demo, 'live:new'), '1')).seq, 0, 'channels without history cost nothing');
  assert.equal((await e.publish(resolveChannel(other, 'c3'), '1')).seq, 1);
  assert.equal(e.channels, 4);
});
