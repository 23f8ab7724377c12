import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedEngine, ErrorCode, resolveChannel, signClientToken, type ChannelRef } from '@switchyard/shared';
import { TENANTS, tenantOf } from '@switchyard/testkit';
import { settle, startCore, type Client, type Core } from './harness.js';

const chan = (core: Core, name: string): ChannelRef => resolveChannel(tenantOf(core.tenants, 'demo'), name);
const publish = (core: Core, name: string, data: unknown) => core.engine.broker.publish(chan(core, name), JSON.stringify(data));
/** Seqs of the site-dialect channel messages a client received. */
const ords = (c: Client): number[] =>
  c.take().flatMap((f) => {
    const m = JSON.parse(f as string) as { message?: string; ord?: number };
    return m.message !== undefined ? [m.ord as number] : [];
  });
const site = (core: Core) => core.connect('site', '/ws?site=demo');

test('hub: replay and live messages published during the subscribe join with no hole, duplicate or reordering', async () => {
  const core = startCore();
  for (let i = 1; i <= 5; i++) await publish(core, 'chat:r', i);
  const c = await site(core);
  const ref = chan(core, 'chat:r');
  const pending = core.hub.subscribe(c.s, { channel: ref, from: { after: 2 } });
  // Published before the history is read (in the replay and held) and after (held only).
  await publish(core, 'chat:r', 6);
  const sub = await pending;
  await publish(core, 'chat:r', 7);
  assert.deepEqual(ords(c), [], 'nothing before activate');
  core.hub.activate(c.s, sub);
  await publish(core, 'chat:r', 8);
  assert.deepEqual(ords(c), [3, 4, 5, 6, 7, 8]);
  assert.equal(c.conn.corks, 1, 'replay and held messages leave in one corked write');
});

test('hub: a live-only subscriber gets every message held while it subscribed, and nothing older', async () => {
  const core = startCore();
  await publish(core, 'r', 'old');
  const c = await site(core);
  const pending = core.hub.subscribe(c.s, { channel: chan(core, 'r') });
  await publish(core, 'r', 'held');
  core.hub.activate(c.s, await pending);
  assert.deepEqual(ords(c), [2]);
});

test('hub: an unsubscribe while subscribing wins; the subscribe fails and leaves nothing behind', async () => {
  const core = startCore();
  const c = await site(core);
  const ref = chan(core, 'chat:x');
  const pending = core.hub.subscribe(c.s, { channel: ref });
  assert.equal(core.hub.unsubscribe(c.s, ref), true);
  await assert.rejects(pending, (e: { code?: number }) => e.code === ErrorCode.NotSubscribed);
  assert.equal(core.hub.channelCount, 0);
  assert.equal(core.hub.subscriptions, 0);
  assert.deepEqual(await core.engine.presence.list(ref), [], 'presence left too');
});

test('hub: the subscription limit holds per connection, and a freed slot can be reused', async () => {
  const core = startCore({ maxSubscriptions: 2 });
  const c = await site(core);
  for (const n of ['a', 'b']) core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, n) }));
  await assert.rejects(core.hub.subscribe(c.s, { channel: chan(core, 'c') }), (e: { code?: number }) => e.code === ErrorCode.LimitExceeded);
  await assert.rejects(core.hub.subscribe(c.s, { channel: chan(core, 'a') }), (e: { code?: number }) => e.code === ErrorCode.AlreadySubscribed);
  core.hub.unsubscribe(c.s, chan(core, 'a'));
  core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, 'c') }));
  assert.deepEqual(core.hub.channelsOf(c.s).map((r) => r.name).sort(), ['b', 'c']);
  assert.equal(core.hub.channelCount, 2, 'channel a was released');
});

test('hub: a slow topic subscriber is closed with 4100 after a gap-free prefix once its channel spent a budget; a fast one gets everything', async () => {
  const core = startCore({ maxBufferedBytes: 200 }); // a check every 25 bytes published
  const fast = await site(core);
  const slow = await site(core);
  for (const c of [fast, slow]) core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, 'r') }));
  c_reset(fast);
  c_reset(slow);
  slow.conn.buffered = 1; // its socket stops draining
  let got: number[] = [];
  for (let i = 1; i <= 10; i++) {
    await publish(core, 'r', 'x'.repeat(40));
    core.endTurn(); // uWS writes the topic frames; the sweep checks on the next turn
    got = got.concat(ords(slow));
    await settle(); // a slow consumer found is closed outside the loop
  }
  assert.deepEqual(ords(fast), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.ok(got.length >= 3 && got.length < 10, `a prefix: ${got.join(',')}`);
  assert.deepEqual(got, got.map((_, i) => i + 1), 'gap-free');
  assert.deepEqual(slow.conn.ended, { code: 4100, reason: 'slow consumer: send buffer limit exceeded' });
  assert.ok(slow.conn.buffered <= 200 + 2 * 70, `passed the limit by at most a frame past the budget: ${slow.conn.buffered}`);
  assert.equal(core.metrics.stats.slowConsumerCloses, 1);
  assert.deepEqual(core.bus.topicsOf(slow.conn), [], 'closed: it left the topic');
});

test('hub: a slow subscriber under the budget on each of its channels is caught by the timed sweep', async () => {
  const core = startCore({ maxBufferedBytes: 800 }); // budget: 100 bytes per channel
  const slow = await site(core);
  for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o']) {
    core.hub.activate(slow.s, await core.hub.subscribe(slow.s, { channel: chan(core, name) }));
    await publish(core, name, 'x'.repeat(55)); // ~90 bytes each: no channel reaches its budget
  }
  slow.take();
  core.hub.sweep.runAll(); // every channel checked: nothing unchecked
  slow.conn.buffered = 1;
  for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o']) await publish(core, name, 'x'.repeat(55));
  core.endTurn();
  await settle();
  assert.ok(slow.conn.buffered > 800, `over the limit: ${slow.conn.buffered}`);
  assert.equal(slow.conn.ended, undefined, 'no channel spent its budget');
  core.hub.sweep.runAll(); // what the timer does within 250 ms
  await settle();
  assert.equal((slow.conn as { ended?: { code: number } }).ended?.code, 4100);
});

test('outbox: a slow consumer of direct frames is closed with 4100 after the frame that passed the limit', async () => {
  const core = startCore({ maxBufferedBytes: 200 });
  const c = await site(core);
  c.take();
  c.conn.buffered = 1;
  for (let i = 1; i <= 10; i++) c.s.send(`{"n":${i},"pad":"${'x'.repeat(40)}"}`);
  core.outbox.flush(); // the turn ends: it turns out slow while its frames are written
  await settle();
  const got = c.take().map((f) => (JSON.parse(f as string) as { n: number }).n);
  assert.deepEqual(got, [1, 2, 3, 4], 'a gap-free prefix, up to the frame that passed 200 bytes');
  assert.deepEqual(c.conn.ended, { code: 4100, reason: 'slow consumer: send buffer limit exceeded' });
  assert.equal(core.metrics.stats.slowConsumerCloses, 1);
});

test('hub: presence lists subscribers of presence namespaces, and of any channel when the target asks', async () => {
  const core = startCore();
  const c = await site(core);
  core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, 'chat:p') }));
  core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, 'plain'), presence: true }));
  core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, 'other') }));
  assert.deepEqual(await core.hub.presence(chan(core, 'chat:p')), [{ conn: c.s.id }]);
  assert.deepEqual(await core.hub.presence(chan(core, 'plain')), [{ conn: c.s.id }]);
  assert.deepEqual(await core.hub.presence(chan(core, 'other')), []);
  c.close();
  assert.deepEqual(await core.hub.presence(chan(core, 'plain')), [], 'a closed connection leaves');
  assert.equal(core.hub.subscriptions, 0);
});

test('hub: a broadcast publishes once per face in use, whatever the number of subscribers; each gets every message in order', async () => {
  const core = startCore();
  const subs = [await site(core), await site(core), await core.connect('otter', '/otter?tenant=demo')];
  for (const c of subs) core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, 'r') }));
  for (const c of subs) c_reset(c);
  const before = core.bus.published;
  for (let i = 1; i <= 5; i++) await publish(core, 'r', i);
  assert.equal(core.bus.published - before, 10, 'five messages, two faces (site, otter)');
  assert.deepEqual(ords(subs[0] as Client), [1, 2, 3, 4, 5]);
  assert.deepEqual(ords(subs[1] as Client), [1, 2, 3, 4, 5]);
  const otter = (subs[2] as Client).take().map((f) => (JSON.parse(f as string) as { message: number }).message);
  assert.deepEqual(otter, [1, 2, 3, 4, 5]);
  assert.equal(core.metrics.stats.messagesOut >= 15, true);
});

test('hub: the subscribe answer and the replay reach a resuming subscriber before any live frame', async () => {
  const core = startCore();
  const c = await core.connect('native', '/v1/ws?tenant=demo');
  for (let i = 1; i <= 3; i++) await publish(core, 'r', i);
  c.take();
  await c.send({ type: 'auth', id: 1, token: signClientToken(TENANTS.tenants.demo.secret, { user: 'u' }) });
  c.take();
  await c.send({ type: 'subscribe', id: 2, channel: 'r', after: 1 });
  await publish(core, 'r', 4); // live, in the same turn as nothing else: through the topic
  const frames = c.take().map((f) => JSON.parse(f as string) as { type: string; seq?: number; id?: number });
  assert.deepEqual(frames.map((f) => (f.type === 'message' ? f.seq : f.type)), ['reply', 2, 3, 4]);
  assert.deepEqual(core.bus.topicsOf(c.conn).length, 1, 'live through the topic');
});

test('outbox: what a connection is sent directly in one turn leaves in one corked write, in order', async () => {
  const core = startCore();
  const c = await site(core);
  c_reset(c);
  for (let i = 1; i <= 5; i++) c.s.send(`{"n":${i}}`);
  assert.equal(c.conn.sent.length, 0, 'nothing written before the turn ends');
  assert.deepEqual(c.take().map((f) => (JSON.parse(f as string) as { n: number }).n), [1, 2, 3, 4, 5]);
  assert.equal(c.conn.corks, 1, 'one corked write for five frames');
});

/** Forgets what a client was sent and how often it was corked so far. */
function c_reset(c: Client): void {
  c.take();
  c.conn.corks = 0;
}

/** An embedded engine that counts history reads (and can hold them, to play a slow broker). */
function countingEngine(): { engine: EmbeddedEngine; reads: () => number; hold: (on: boolean) => void } {
  const engine = new EmbeddedEngine();
  const read = engine.read.bind(engine);
  let reads = 0;
  let gate: Promise<void> | undefined;
  let open: () => void = () => {};
  engine.read = async (ch, after) => {
    reads++;
    const page = read(ch, after); // taken now: the broker's answer as of the request
    if (gate !== undefined) await gate;
    return page;
  };
  return {
    engine,
    reads: () => reads,
    hold(on) {
      if (on) gate = new Promise((r) => (open = r));
      else open();
    },
  };
}

test('hub: live-only subscribers of a known channel cost no history read; a storm on a new one costs one', async () => {
  const { engine, reads, hold } = countingEngine();
  const core = startCore({ engine });
  const ref = chan(core, 'chat:storm');
  await publish(core, 'chat:storm', 'before');
  hold(true);
  const clients = await Promise.all(Array.from({ length: 50 }, () => site(core)));
  const storm = clients.map((c) => core.hub.subscribe(c.s, { channel: ref }));
  await settle();
  hold(false);
  const subs = await Promise.all(storm);
  assert.equal(reads(), 1, 'one read for 50 concurrent live-only subscribes');
  assert.ok(subs.every((s) => s.last === 1));
  clients.forEach((c, i) => core.hub.activate(c.s, subs[i]!));
  await publish(core, 'chat:storm', 'live');
  // Later subscribers: the position comes from what this node relayed, not from the broker.
  const late = await site(core);
  const sub = await core.hub.subscribe(late.s, { channel: ref });
  assert.equal(reads(), 1);
  assert.equal(sub.last, 2, 'the last seq relayed before it joined');
  assert.equal(sub.epoch, subs[0]!.epoch);
  // A resume still reads.
  const resumer = await site(core);
  const r = await core.hub.subscribe(resumer.s, { channel: ref, from: { after: 0 } });
  assert.equal(reads(), 2);
  assert.deepEqual(r.replay.map((m) => m.seq), [1, 2]);
});

test("hub: a shared read older than a subscriber's join still gives it a last at or past every message relayed before it joined", async () => {
  const { engine, hold } = countingEngine();
  const core = startCore({ engine });
  const ref = chan(core, 'chat:race');
  const first = await site(core);
  core.hub.activate(first.s, await core.hub.subscribe(first.s, { channel: ref }));
  core.hub.unsubscribe(first.s, ref); // forgotten: the channel is new again
  const keep = await site(core);
  hold(true);
  const a = core.hub.subscribe(keep.s, { channel: ref }); // its read is taken now, at last = 0
  await settle();
  // A message relayed while the read is out: live-only B joins after it.
  await publish(core, 'chat:race', 'm1');
  const late = await site(core);
  const b = core.hub.subscribe(late.s, { channel: ref });
  await settle();
  hold(false);
  assert.equal((await a).last, 1, 'held message 1 reaches A (floor 0), and it is not behind');
  assert.equal((await b).last, 1, 'B never gets message 1: its last says so');
});

test('hub: seqs that start again (a new epoch) make the next live-only subscriber read the broker again', async () => {
  const { engine, reads } = countingEngine();
  const core = startCore({ engine });
  const ref = chan(core, 'chat:epoch');
  const a = await site(core);
  core.hub.activate(a.s, await core.hub.subscribe(a.s, { channel: ref }));
  await publish(core, 'chat:epoch', 1);
  await publish(core, 'chat:epoch', 2);
  const before = reads();
  core.hub.broadcast(ref, { seq: 1, time: Date.now(), data: '"restarted"' }); // the relay starts over at 1
  const b = await site(core);
  await core.hub.subscribe(b.s, { channel: ref });
  assert.equal(reads(), before + 1);
});

test('hub: a face that throws costs only its own subscribers the message; the others, the pending and the engine go on', async () => {
  const core = startCore();
  const boom = core.faces.register({ name: 'boom', binary: false, encode: () => { throw new RangeError('Maximum call stack size exceeded'); } });
  const a = await site(core);
  const broken = await site(core);
  (broken.s as { face: unknown }).face = boom; // a session of the broken face
  for (const c of [broken, a]) core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: chan(core, 'r') }));
  c_reset(a);
  const late = await site(core);
  const pending = core.hub.subscribe(late.s, { channel: chan(core, 'r'), from: { after: 0 } }); // held while it subscribes
  const seq = await publish(core, 'r', 'x');
  assert.equal(seq.seq, 1, 'stored and answered');
  await publish(core, 'r', 'y');
  assert.deepEqual(ords(a), [1, 2], 'the other face got both');
  core.hub.activate(late.s, await pending);
  assert.deepEqual(ords(late), [1, 2], 'and so did a subscriber joining meanwhile');
  assert.deepEqual(broken.take(), [], 'the broken face got nothing, and nobody crashed');
});
