import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Unpackr, pack } from 'msgpackr';
import { signClientToken } from '@switchyard/shared';
import { TENANTS, testTenants } from '@switchyard/testkit';
import { startCore, type Client, type Core } from './harness.js';

// Join and leave frames (docs/protocol.md#join-and-leave) on the hub, with exact frames.

const tenants = testTenants({
  namespaces: { ...TENANTS.tenants.demo.namespaces, room: { history: 0, presence: true, joinLeave: true } },
});
const unpackr = new Unpackr({ mapsAsObjects: true, int64AsType: 'number' });

async function native(core: Core, user: string, o: { msgpack?: boolean; info?: unknown } = {}): Promise<Client> {
  const c = await core.connect('native', '/v1/ws?tenant=demo', o.msgpack === true ? { protocols: ['switchyard.v1.msgpack'] } : {});
  const token = signClientToken(TENANTS.tenants.demo.secret, { user, ...(o.info !== undefined ? { info: o.info } : {}) });
  await c.send({ type: 'auth', id: 1, token });
  c.take();
  return c;
}

async function subscribe(c: Client, channel: string): Promise<void> {
  await c.send({ type: 'subscribe', id: 2, channel });
  const reply = c.take();
  assert.match(reply[0] as string, /"type":"reply","id":2/);
}

test('join/leave: exact frames, once each, to the other subscribers and never to the joiner itself', async () => {
  const core = startCore({ tenants });
  const a = await native(core, 'alice');
  await subscribe(a, 'room:1');
  assert.deepEqual(a.take(), [], 'no join of its own');

  const b1 = await native(core, 'bob', { info: { name: 'Bob' } });
  await subscribe(b1, 'room:1');
  assert.deepEqual(a.take(), [`{"type":"join","channel":"room:1","conn":"${b1.s.id}","user":"bob","info":{"name":"Bob"}}`]);
  assert.deepEqual(b1.take(), [], 'the joiner gets no join of its own, nor of those present before it');

  // A second tab of bob: another connection, another join; both ids in the frames.
  const b2 = await native(core, 'bob', { info: { name: 'Bob' } });
  await subscribe(b2, 'room:1');
  const join2 = `{"type":"join","channel":"room:1","conn":"${b2.s.id}","user":"bob","info":{"name":"Bob"}}`;
  assert.deepEqual(a.take(), [join2]);
  assert.deepEqual(b1.take(), [join2]);

  // Unsubscribe: a leave (no info), not to the leaver.
  await b1.send({ type: 'unsubscribe', id: 3, channel: 'room:1' });
  assert.match(b1.take()[0] as string, /"type":"reply","id":3/);
  assert.deepEqual(b1.take(), []);
  const leave1 = `{"type":"leave","channel":"room:1","conn":"${b1.s.id}","user":"bob"}`;
  assert.deepEqual(a.take(), [leave1]);
  assert.deepEqual(b2.take(), [leave1]);

  // Disconnect: a leave, once.
  b2.close();
  assert.deepEqual(a.take(), [`{"type":"leave","channel":"room:1","conn":"${b2.s.id}","user":"bob"}`]);
  assert.deepEqual(a.take(), []);
});

test('join/leave: msgpack subscribers get the same fields; other dialects and channels without the option get nothing', async () => {
  const core = startCore({ tenants });
  const m = await native(core, 'mia', { msgpack: true });
  await m.send(pack({ type: 'subscribe', id: 2, channel: 'room:1' }), true);
  assert.deepEqual(m.take().map((f) => (unpackr.unpack(f as Uint8Array) as { type: string }).type), ['reply']);
  const plain = await native(core, 'pat');
  await subscribe(plain, 'chat:1'); // presence, no joinLeave
  const site = await core.connect('site', '/ws?site=demo');
  await site.send({ type: 'subscribe', channel: 'room:1' });
  site.take();

  const j = await native(core, 'joe', { info: [1, 2] });
  await subscribe(j, 'room:1');
  await subscribe(j, 'chat:1');
  const frames = m.take().map((f) => unpackr.unpack(f as Uint8Array) as unknown);
  assert.deepEqual(frames, [{ type: 'join', channel: 'room:1', conn: j.s.id, user: 'joe', info: [1, 2] }]);
  assert.deepEqual(plain.take(), [], 'no frames for a channel without joinLeave');
  assert.deepEqual(site.take(), [], 'the site dialect gets no join frames');
  j.close();
  assert.deepEqual(m.take().map((f) => unpackr.unpack(f as Uint8Array) as unknown), [{ type: 'leave', channel: 'room:1', conn: j.s.id, user: 'joe' }]);
  assert.deepEqual(plain.take(), []);
  assert.deepEqual(site.take(), []);
});

test('join/leave: frames are encoded once per face, whatever the number of subscribers', async () => {
  const core = startCore({ tenants });
  const subs: Client[] = [];
  for (let i = 0; i < 5; i++) {
    const c = await native(core, `u${i}`);
    await subscribe(c, 'room:1');
    subs.push(c);
  }
  for (const c of subs) c.take();
  const before = core.bus.published;
  const j = await native(core, 'joe');
  await subscribe(j, 'room:1');
  assert.equal(core.bus.published - before, 1, 'one publish to the JSON face topic for five subscribers');
  for (const c of subs) assert.equal(c.take().length, 1);
});

test('config: joinLeave needs presence, and the error names the path', () => {
  assert.throws(
    () => testTenants({ namespaces: { jl: { joinLeave: true } } }),
    (err: Error) => /tenants\.demo\.namespaces\.jl\.joinLeave/.test(err.message) && /presence/.test(err.message),
  );
});
