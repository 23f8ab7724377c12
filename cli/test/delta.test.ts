import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta } from 'fossil-delta';
import { signClientToken } from '@switchyard/shared';
import { TENANTS, testTenants } from '@switchyard/testkit';
import { connect, publish, startDev, wsUrl, type Client } from './helpers.js';
import type { RunningServer } from '../src/server.js';

// Delta compression (docs/protocol.md#delta-compression) on a real dev server, read by raw
// `ws` clients that apply the Fossil deltas themselves, as a third-party client would.

const tenants = testTenants({ namespaces: { ...TENANTS.tenants.demo.namespaces, tick: { history: 100, delta: true } } });
const token = signClientToken(TENANTS.tenants.demo.secret, { user: 'alice' });

/** A ~2 KB ticker object with one to three fields changed per message; some text is not ASCII. */
function ticker(i: number): Record<string, unknown> {
  const o: Record<string, unknown> = { updated: i };
  for (let k = 0; k < 25; k++) {
    const changed = k === i % 25 || (i % 3 > 0 && k === (i * 7) % 25) || (i % 3 > 1 && k === (i * 11) % 25);
    o[`instrument_${k}`] = { price: changed ? 100 + i * 0.25 : 100 + k, volume: 1000 * k, name: `Société Générale ${k} — €` };
  }
  return o;
}

/** The delta text a full message's data stands for (docs/protocol.md#delta-compression). */
const deltaText = (value: unknown): string => JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

let ids = 0;
async function call(c: Client, frame: Record<string, unknown>): Promise<any> {
  const id = ++ids;
  c.send({ ...frame, id });
  return c.nextWhere((f) => f.type === 'reply' && f.id === id);
}

async function authed(t: TestContext, s: RunningServer, msgpack = false): Promise<Client> {
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'), msgpack ? 'switchyard.v1.msgpack' : 'switchyard.v1.json');
  await c.next();
  assert.ok((await call(c, { type: 'auth', token })).result);
  return c;
}

/** Reads `n` messages of a delta subscription, applying deltas: the data values and how many came as deltas. */
async function readDeltas(c: Client, n: number): Promise<{ data: unknown[]; deltas: number; seqs: number[] }> {
  let base: Uint8Array | undefined;
  const data: unknown[] = [];
  const seqs: number[] = [];
  let deltas = 0;
  for (const f of await c.take(n, (x) => x.type === 'message', 15_000)) {
    if (f.delta === true) {
      assert.ok(base !== undefined, `seq ${f.seq}: a delta before any full message`);
      base = applyDelta(base, typeof f.data === 'string' ? latin1(f.data) : new Uint8Array(f.data as Buffer)); // checks the checksum
      data.push(JSON.parse(Buffer.from(base).toString('latin1')));
      deltas++;
    } else {
      base = latin1(deltaText(f.data));
      data.push(f.data);
    }
    seqs.push(f.seq);
  }
  return { data, deltas, seqs };
}

for (const msgpack of [false, true]) {
  const kind = msgpack ? 'msgpack' : 'JSON';
  test(`delta (${kind}): a raw client rebuilds every published message from one full message and deltas`, async (t) => {
    const s = await startDev(t, { tenants });
    const c = await authed(t, s, msgpack);
    const r = await call(c, { type: 'subscribe', channel: 'tick:eur', delta: 'fossil' });
    assert.equal(r.result.delta, true);
    const N = 120;
    const reading = readDeltas(c, N);
    for (let i = 1; i <= N; i++) await publish(s, 'tick:eur', ticker(i));
    const got = await reading;
    assert.deepEqual(got.data, Array.from({ length: N }, (_, i) => ticker(i + 1)));
    assert.equal(got.deltas, N - 1, 'all but the first came as deltas');
  });
}

test('delta: subscribers joining during a burst get a full message, then deltas, in order, with nothing missed', async (t) => {
  const s = await startDev(t, { tenants });
  const first = await authed(t, s);
  await call(first, { type: 'subscribe', channel: 'tick:burst', delta: 'fossil' });
  const N = 300;
  const readFirst = readDeltas(first, N);
  let published = 0;
  const publishing = (async () => {
    // Bursts of 10 concurrent publishes: several messages per turn on the gateway.
    for (let i = 1; i <= N; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, k) => publish(s, 'tick:burst', ticker(i + k))));
      published = i + 9;
    }
  })();
  const joiners: { c: Client; after: number }[] = [];
  for (const msgpack of [false, true, false]) {
    while (published < 50 * (joiners.length + 1)) await new Promise((r) => setTimeout(r, 5));
    const c = await authed(t, s, msgpack);
    const r = await call(c, { type: 'subscribe', channel: 'tick:burst', delta: 'fossil' });
    joiners.push({ c, after: r.result.last as number });
  }
  await publishing;
  const got = await readFirst;
  // Publishes raced each other: seqs say which payload each message carries.
  const bySeq = new Map<number, unknown>();
  got.seqs.forEach((seq, i) => bySeq.set(seq, got.data[i]));
  assert.deepEqual(got.seqs, Array.from({ length: N }, (_, i) => i + 1));
  for (const j of joiners) {
    const mine = await readDeltas(j.c, N - j.after);
    assert.deepEqual(mine.seqs, Array.from({ length: N - j.after }, (_, i) => j.after + 1 + i), 'every message after the reply, in order');
    assert.deepEqual(mine.data, mine.seqs.map((q) => bySeq.get(q)), 'the same data as the first subscriber');
    assert.ok(mine.deltas >= N - j.after - 1, 'only the first one in full');
  }
});

test('delta: a namespace without delta ignores the request (delta:false in the reply) and sends full messages', async (t) => {
  const s = await startDev(t, { tenants });
  const c = await authed(t, s);
  const r = await call(c, { type: 'subscribe', channel: 'chat:nodelta', delta: 'fossil' });
  assert.equal(r.result.delta, false);
  for (let i = 1; i <= 3; i++) await publish(s, 'chat:nodelta', ticker(i));
  const ms = await c.take(3, (f) => f.type === 'message');
  assert.deepEqual(ms.map((m) => m.delta), [undefined, undefined, undefined]);
  assert.deepEqual(ms.map((m) => m.data), [1, 2, 3].map(ticker));
  const bad = await call(c, { type: 'subscribe', channel: 'tick:x', delta: true });
  assert.equal(bad.error.name, 'bad_request');
});

test('delta: the tenants file refuses a delta option that is not a boolean', () => {
  assert.throws(() => testTenants({ namespaces: { tick: { delta: 'yes' } } }), /tenants\.demo\.namespaces\.tick\.delta: must be true or false/);
});
