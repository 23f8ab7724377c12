import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDelta, createDelta } from 'fossil-delta';
import { Unpackr } from 'msgpackr';
import { resolveChannel, signClientToken, type ChannelRef } from '@switchyard/shared';
import { TENANTS, tenantOf, testTenants } from '@switchyard/testkit';
import { deltaText } from '../src/core/delta.js';
import { startCore, type Client, type Core } from './harness.js';

// Delta compression (docs/protocol.md#delta-compression) on the hub, with exact frames.

const tenants = testTenants({
  namespaces: { ...TENANTS.tenants.demo.namespaces, tick: { history: 100, delta: true }, tick0: { history: 0, delta: true } },
});
const token = signClientToken(TENANTS.tenants.demo.secret, { user: 'u' });
const unpackr = new Unpackr({ mapsAsObjects: true, int64AsType: 'number' });
const TIME = /"time":\d+/g;

const chan = (core: Core, name: string): ChannelRef => resolveChannel(tenantOf(core.tenants, 'demo'), name);

/** The ticker payload of message `i`: ~2 KB, a few fields changing per message. */
function ticker(i: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let k = 0; k < 30; k++) o[`instrument_${k}`] = { price: k === i % 30 ? 100 + i : 100 + k, volume: 1000 * k, name: `Ünïcode-name-${k}` };
  o.seqNo = i;
  return o;
}

const publish = (core: Core, name: string, data: unknown) => core.engine.broker.publish(chan(core, name), JSON.stringify(data));

async function native(core: Core, msgpack = false): Promise<Client> {
  const c = await core.connect('native', '/v1/ws?tenant=demo', msgpack ? { protocols: ['switchyard.v1.msgpack'] } : {});
  await c.send({ type: 'auth', id: 1, token });
  c.take();
  return c;
}

const bytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const expectedDelta = (prev: unknown, next: unknown): string =>
  Buffer.from(createDelta(bytes(deltaText(JSON.stringify(prev))), bytes(deltaText(JSON.stringify(next))))).toString('latin1');

/** Applies the message frames a JSON client got, as a client does; returns the data values and the frames' kinds. */
function reader() {
  let base: Uint8Array | undefined;
  return (frames: (string | Uint8Array)[]) =>
    frames.flatMap((raw) => {
      const f = (typeof raw === 'string' ? JSON.parse(raw) : unpackr.unpack(raw)) as { type: string; seq: number; delta?: boolean; data: unknown };
      if (f.type !== 'message') return [];
      if (f.delta === true) {
        assert.ok(base !== undefined, `a delta (seq ${f.seq}) with no full message before it`);
        const d = typeof f.data === 'string' ? bytes(f.data) : (f.data as Uint8Array);
        base = applyDelta(base, d); // verifies the Fossil checksum
        return [{ seq: f.seq, kind: 'delta', data: JSON.parse(Buffer.from(base).toString('latin1')) as unknown }];
      }
      base = bytes(deltaText(JSON.stringify(f.data)));
      return [{ seq: f.seq, kind: 'full', data: f.data }];
    });
}

test('delta: exact frames — the reply says delta is on, the first message is full, each next one a delta against it', async () => {
  const core = startCore({ tenants });
  const c = await native(core);
  await c.send({ type: 'subscribe', id: 2, channel: 'tick:a', delta: 'fossil' });
  const [reply] = c.take() as string[];
  assert.match(reply as string, /^\{"type":"reply","id":2,"result":\{"channel":"tick:a","last":0,"recovered":true,"epoch":"[^"]+","delta":true\}\}$/);
  const name = 'ACME Corporation, Widgets & Anvils Division';
  await publish(core, 'tick:a', { price: 1, name });
  await publish(core, 'tick:a', { price: 2, name });
  await publish(core, 'tick:a', { price: 3, name: 'X' }); // a delta no smaller than the message: sent in full
  const frames = (c.take() as string[]).map((f) => f.replace(TIME, '"time":T'));
  assert.deepEqual(frames, [
    `{"type":"message","channel":"tick:a","seq":1,"time":T,"data":{"price":1,"name":"${name}"}}`,
    `{"type":"message","channel":"tick:a","seq":2,"time":T,"delta":true,"data":${JSON.stringify(expectedDelta({ price: 1, name }, { price: 2, name }))}}`,
    '{"type":"message","channel":"tick:a","seq":3,"time":T,"data":{"price":3,"name":"X"}}',
  ]);
});

test('delta: over many messages a delta subscriber rebuilds every payload; the delta frames are a fraction of the full ones', async () => {
  const core = startCore({ tenants });
  const d = await native(core);
  const plain = await native(core);
  await d.send({ type: 'subscribe', id: 2, channel: 'tick:b', delta: 'fossil' });
  await plain.send({ type: 'subscribe', id: 2, channel: 'tick:b' });
  d.take();
  plain.take();
  const read = reader();
  const before = core.bus.published;
  for (let i = 1; i <= 50; i++) await publish(core, 'tick:b', ticker(i));
  const got = read(d.take());
  assert.deepEqual(got.map((m) => m.data), Array.from({ length: 50 }, (_, i) => ticker(i + 1)));
  assert.deepEqual(got.map((m) => m.kind), ['full', ...Array<string>(49).fill('delta')]);
  assert.equal(core.bus.published - before, 99, 'one full frame per message, one delta frame per message after the first');
  const sizes = (fs: (string | Uint8Array)[]) => fs.map((f) => Buffer.byteLength(f as string));
  const full = sizes(plain.take());
  assert.equal(full.length, 50);
  // What d got (taken above) is not kept; measure a second run's frames instead.
  for (let i = 51; i <= 60; i++) await publish(core, 'tick:b', ticker(i));
  const deltaSizes = sizes(d.take());
  const fullSizes = sizes(plain.take());
  const ratio = deltaSizes.reduce((a, b) => a + b) / fullSizes.reduce((a, b) => a + b);
  assert.ok(ratio < 0.15, `delta frames are ${(ratio * 100).toFixed(1)}% of the full ones`);
});

test('delta: a subscriber joining mid-stream gets a full message first, then deltas; the others keep getting deltas', async () => {
  const core = startCore({ tenants });
  const a = await native(core);
  await a.send({ type: 'subscribe', id: 2, channel: 'tick:c', delta: 'fossil' });
  const readA = reader();
  for (let i = 1; i <= 3; i++) await publish(core, 'tick:c', ticker(i));
  readA(a.take());
  const b = await native(core);
  await b.send({ type: 'subscribe', id: 2, channel: 'tick:c', delta: 'fossil' });
  b.take();
  const readB = reader();
  const before = core.bus.published;
  for (let i = 4; i <= 6; i++) await publish(core, 'tick:c', ticker(i));
  assert.equal(core.bus.published - before, 4, 'message 4: full (for b) and delta (for a); 5 and 6: the delta only');
  assert.deepEqual(readA(a.take()).map((m) => `${m.seq}:${m.kind}`), ['4:delta', '5:delta', '6:delta']);
  const gotB = readB(b.take());
  assert.deepEqual(gotB.map((m) => `${m.seq}:${m.kind}`), ['4:full', '5:delta', '6:delta']);
  assert.deepEqual(gotB.map((m) => m.data), [ticker(4), ticker(5), ticker(6)]);
  assert.deepEqual(core.bus.topicsOf(b.conn).map((t) => t.endsWith('d')), [true], 'b moved to the delta topic');
});

test('delta: a resume with replay gets the replayed messages and the next live one in full, then deltas', async () => {
  const core = startCore({ tenants });
  const a = await native(core);
  await a.send({ type: 'subscribe', id: 2, channel: 'tick:r', delta: 'fossil' });
  for (let i = 1; i <= 3; i++) await publish(core, 'tick:r', ticker(i));
  a.take();
  const c = await native(core);
  await c.send({ type: 'subscribe', id: 2, channel: 'tick:r', after: 1, delta: 'fossil' });
  for (let i = 4; i <= 5; i++) await publish(core, 'tick:r', ticker(i));
  const frames = c.take();
  assert.match(frames[0] as string, /"result":\{"channel":"tick:r","last":3,"recovered":true,"epoch":"[^"]+","delta":true\}/);
  const got = reader()(frames);
  assert.deepEqual(got.map((m) => `${m.seq}:${m.kind}`), ['2:full', '3:full', '4:full', '5:delta']);
  assert.deepEqual(got.map((m) => m.data), [2, 3, 4, 5].map(ticker));
});

test('delta: after a message some subscribers missed (a face could not encode it), the next one goes in full', async () => {
  const core = startCore({ tenants });
  const j = await native(core);
  const m = await native(core, true);
  for (const c of [j, m]) await c.send({ type: 'subscribe', id: 2, channel: 'tick:g', delta: 'fossil' });
  const ref = chan(core, 'tick:g');
  const readJ = reader();
  const readM = reader();
  for (let i = 1; i <= 2; i++) await publish(core, 'tick:g', ticker(i));
  readJ(j.take());
  readM(m.take());
  // Not JSON (the ingress never lets this through): msgpack cannot encode it, JSON splices it.
  core.hub.broadcast(ref, { seq: 3, time: 1, data: '{"broken":' });
  j.take();
  assert.deepEqual(m.take(), [], 'the msgpack face lost message 3');
  core.hub.broadcast(ref, { seq: 4, time: 1, data: JSON.stringify(ticker(4)) });
  core.hub.broadcast(ref, { seq: 5, time: 1, data: JSON.stringify(ticker(5)) });
  for (const [c, read] of [[j, readJ], [m, readM]] as const) {
    assert.deepEqual(read(c.take()).map((x) => `${x.seq}:${x.kind}`), ['4:full', '5:delta']);
  }
});

test('delta: two faces — each encodes at most one full and one delta frame per message; msgpack deltas are bytes', async () => {
  const core = startCore({ tenants });
  const clients = [await native(core), await native(core), await native(core, true), await native(core, true)];
  for (const c of clients) await c.send({ type: 'subscribe', id: 2, channel: 'tick:f', delta: 'fossil' });
  const plain = await native(core, true);
  await plain.send({ type: 'subscribe', id: 2, channel: 'tick:f' });
  const readers = clients.map(() => reader());
  clients.forEach((c, i) => readers[i]!(c.take()));
  plain.take();
  await publish(core, 'tick:f', ticker(1));
  const before = core.bus.published;
  for (let i = 2; i <= 4; i++) await publish(core, 'tick:f', ticker(i));
  assert.equal(core.bus.published - before, 3 * 3, 'per message: JSON delta, msgpack delta, msgpack full (plain)');
  clients.forEach((c, i) => {
    const got = readers[i]!(c.take());
    assert.deepEqual(got.map((m) => `${m.seq}:${m.kind}`), ['1:full', '2:delta', '3:delta', '4:delta']);
    assert.deepEqual(got.map((m) => m.data), [1, 2, 3, 4].map(ticker));
  });
  await publish(core, 'tick:f', { x: 1, y: 'same same same same same same same same' });
  await publish(core, 'tick:f', { x: 2, y: 'same same same same same same same same' });
  const raw = (clients[2] as Client).take();
  const last = unpackr.unpack(raw[1] as Uint8Array) as Record<string, unknown>;
  assert.deepEqual(Object.keys(last), ['type', 'channel', 'seq', 'time', 'delta', 'data']);
  assert.ok(last.data instanceof Uint8Array, 'msgpack: the delta is bin');
  assert.equal(Buffer.from(last.data).toString('latin1'), expectedDelta({ x: 1, y: 'same same same same same same same same' }, { x: 2, y: 'same same same same same same same same' }));
});

test('delta: history-less (seq 0) channels get deltas too, and a resubscribe starts with a full message', async () => {
  const core = startCore({ tenants });
  const c = await native(core);
  await c.send({ type: 'subscribe', id: 2, channel: 'tick0:z', delta: 'fossil' });
  const read = reader();
  for (let i = 1; i <= 3; i++) await publish(core, 'tick0:z', ticker(i));
  assert.deepEqual(read(c.take()).map((m) => `${m.seq}:${m.kind}`), ['0:full', '0:delta', '0:delta']);
  await c.send({ type: 'unsubscribe', id: 3, channel: 'tick0:z' });
  await c.send({ type: 'subscribe', id: 4, channel: 'tick0:z', delta: 'fossil' });
  for (let i = 4; i <= 5; i++) await publish(core, 'tick0:z', ticker(i));
  const got = read(c.take());
  assert.deepEqual(got.map((m) => `${m.seq}:${m.kind}`), ['0:full', '0:delta']);
  assert.deepEqual(got.map((m) => m.data), [ticker(4), ticker(5)]);
});

test('delta: a namespace without delta answers delta:false and sends full messages; a bad delta value is refused', async () => {
  const core = startCore({ tenants });
  const c = await native(core);
  await c.send({ type: 'subscribe', id: 2, channel: 'logs:x', delta: 'fossil' });
  await publish(core, 'logs:x', ticker(1));
  await publish(core, 'logs:x', ticker(2));
  const frames = c.take() as string[];
  assert.match(frames[0] as string, /"epoch":"[^"]+","delta":false\}\}$/);
  assert.deepEqual(frames.slice(1).map((f) => (JSON.parse(f) as { delta?: boolean }).delta), [undefined, undefined]);
  await c.send({ type: 'subscribe', id: 3, channel: 'tick:x', delta: 'zstd' });
  assert.deepEqual(c.take(), ['{"type":"reply","id":3,"error":{"code":103,"name":"bad_request","message":"delta must be \\"fossil\\""}}']);
});

test('delta: unsubscribing and closing take delta subscribers off both topics; the channel is released', async () => {
  const core = startCore({ tenants });
  const a = await native(core);
  const b = await native(core);
  for (const c of [a, b]) await c.send({ type: 'subscribe', id: 2, channel: 'tick:u', delta: 'fossil' });
  await publish(core, 'tick:u', ticker(1)); // both move to the delta topic
  const b2 = await native(core);
  await b2.send({ type: 'subscribe', id: 2, channel: 'tick:u', delta: 'fossil' }); // on the full topic
  for (const c of [a, b, b2]) c.take();
  await a.send({ type: 'unsubscribe', id: 3, channel: 'tick:u' });
  b.close();
  b2.close();
  for (const c of [a, b, b2]) assert.deepEqual(core.bus.topicsOf(c.conn), []);
  assert.equal(core.hub.channelCount, 0);
  assert.equal(core.hub.subscriptions, 0);
});

test('delta: a slow delta subscriber is closed with 4100 by the sweep; the others go on', async () => {
  const core = startCore({ tenants, maxBufferedBytes: 2000 });
  const fast = await native(core);
  const slow = await native(core);
  for (const c of [fast, slow]) await c.send({ type: 'subscribe', id: 2, channel: 'tick:s', delta: 'fossil' });
  await publish(core, 'tick:s', ticker(1));
  core.endTurn();
  fast.take();
  slow.take();
  slow.conn.buffered = 1;
  const read = reader();
  read([JSON.stringify({ type: 'message', seq: 1, data: ticker(1) })]);
  for (let i = 2; i <= 40; i++) {
    await publish(core, 'tick:s', ticker(i));
    core.endTurn();
    await new Promise((r) => setImmediate(r));
  }
  core.hub.sweep.runAll();
  await new Promise((r) => setImmediate(r));
  assert.equal(slow.conn.ended?.code, 4100);
  assert.deepEqual(read(fast.take()).map((m) => m.data), Array.from({ length: 39 }, (_, i) => ticker(i + 2)));
});
