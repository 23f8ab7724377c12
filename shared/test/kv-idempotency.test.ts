import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { startNatsServer, testTenants, type NatsServer } from '@switchyard/testkit';
import { KvIdempotency, msgId, type Claim } from '../src/engine/nats/idempotency.js';
import { resolveChannel } from '../src/model/channel.js';

// The claims of idempotency keys in a channel without history, against a real nats-server:
// several KvIdempotency instances stand for several control-API replicas.

let nats: NatsServer;
let nc: NatsConnection;
before(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
});
after(async () => {
  await nc.close();
  await nats.stop();
});

const ch = resolveChannel(testTenants().tenants.get('demo')!, 'live:ticker');
const TIMINGS = { staleMs: 400, waitMs: 1500, pollMs: 10 };
const replicas = (n: number, prefix = `k${randomBytes(4).toString('hex')}`): KvIdempotency[] =>
  Array.from({ length: n }, () => new KvIdempotency(() => nc, prefix, 1, TIMINGS));
const held = (c: Claim): boolean => c.first === undefined;

test('kv claims: racing requests over three replicas: one holds the key, the others wait for it and answer its time', async () => {
  const rs = replicas(3);
  const key = { key: 'race', windowMs: 60_000 };
  const claims = await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const c = await rs[i % 3]!.claim(ch, key, 1000 + i);
      if (held(c)) setTimeout(() => void (c as Exclude<Claim, { first: number }>).done(), 50); // publishing takes a while
      return c;
    }),
  );
  assert.equal(claims.filter(held).length, 1);
  const firsts = new Set(claims.filter((c) => !held(c)).map((c) => c.first));
  assert.equal(firsts.size, 1);
  assert.ok([...firsts][0]! >= 1000 && [...firsts][0]! < 1030);
});

test('kv claims: a claim abandoned in progress (its holder failed after its create was stored) is taken over after staleMs, once', async () => {
  const [a, b, c] = replicas(3);
  const key = { key: 'abandoned', windowMs: 60_000 };
  assert.ok(held(await a!.claim(ch, key, 1)), 'a holds it, and never publishes nor releases');
  const startedAt = Date.now();
  // Each retry publishes at once when it holds the key (marks it done).
  const retry = async (r: KvIdempotency, time: number): Promise<Claim> => {
    const c = await r.claim(ch, key, time);
    if (held(c)) await (c as Exclude<Claim, { first: number }>).done();
    return c;
  };
  const [bc, cc] = await Promise.all([retry(b!, 2), retry(c!, 3)]);
  const tookMs = Date.now() - startedAt;
  assert.equal([bc, cc].filter(held).length, 1, 'one of the retries takes it over');
  assert.ok(tookMs >= TIMINGS.staleMs - 50, `after staleMs: ${tookMs} ms`);
  const loser = held(bc!) ? cc! : bc!;
  // The other saw the takeover in progress; once the new holder published, it is a duplicate of it.
  assert.equal(loser.first, held(bc!) ? 2 : 3);
  assert.equal((await a!.claim(ch, key, 9)).first, loser.first, 'the old holder\'s repeat answers the new holder\'s time');
});

test('kv claims: a released claim publishes again at once; a claim in progress past waitMs fails', async () => {
  const prefix = `k${randomBytes(4).toString('hex')}`;
  const [a, b] = replicas(2, prefix);
  const key = { key: 'released', windowMs: 60_000 };
  const first = await a!.claim(ch, key, 1);
  assert.ok(held(first));
  await (first as Exclude<Claim, { first: number }>).release();
  const again = await b!.claim(ch, key, 2);
  assert.ok(held(again), 'the key is free after a release');
  // `again` stays in progress: with staleMs longer than waitMs, a repeat gives up.
  const impatient = new KvIdempotency(() => nc, prefix, 1, { staleMs: 60_000, waitMs: 200, pollMs: 10 });
  await assert.rejects(impatient.claim(ch, key, 3), /still in progress/);
});

test('kv claims: a bare time stored by an older version is a finished claim', async () => {
  const prefix = `k${randomBytes(4).toString('hex')}`;
  const [a] = replicas(1, prefix);
  const key = { key: 'legacy', windowMs: 60_000 };
  const kv = await new Kvm(nc).create(a!.bucketName('demo', key.windowMs), { history: 1, ttl: 60_000 });
  await kv.create(msgId(ch, key.key), '1234');
  assert.deepEqual(await a!.claim(ch, key, 99), { first: 1234 });
});
