import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedEngine, issueSiteToken, signClientToken, siteChannelAuth, type ChannelRef, type HistoryPage } from '@switchyard/shared';
import { TENANTS } from '@switchyard/testkit';
import { settle, startCore } from './harness.js';

const { token } = issueSiteToken('demo', TENANTS.tenants.demo.secret);
const subscribe = (channel: string, reqId: string) => ({
  request: 'subscribe',
  req_id: reqId,
  body: { channel, after: 0, token, auth: siteChannelAuth(TENANTS.tenants.demo.secret, channel, token) },
});

/** An embedded engine whose history reads wait until released: a slow broker, made visible. */
class GatedEngine extends EmbeddedEngine {
  private gate: Promise<void> = Promise.resolve();
  release: () => void = () => {};
  hold(): void {
    this.gate = new Promise((r) => (this.release = r));
  }
  override async read(ch: ChannelRef, after: number): Promise<HistoryPage> {
    await this.gate;
    return super.read(ch, after);
  }
}

test('runner: a connection\'s requests run one at a time and are answered in order, each seeing the one before', async () => {
  const engine = new GatedEngine();
  const core = startCore({ engine });
  const c = await core.connect('site', '/ws?site=demo');
  engine.hold();
  await c.send(subscribe('a', '1'));
  await c.send(subscribe('a', '2'));
  await c.send({ request: 'unsubscribe', req_id: '3', body: { channel: 'a' } });
  assert.deepEqual(c.take(), [], 'all wait for the first');
  engine.release();
  await settle();
  assert.deepEqual(c.take(), [
    '{"response":"ok","req_id":"1","body":null}',
    '{"response":"error","req_id":"2","body":"already subscribed to a"}',
    '{"response":"ok","req_id":"3","body":null}',
  ]);
});

test('runner: frames beyond the waiting limit are refused at once with limit_exceeded', async () => {
  const engine = new GatedEngine();
  const core = startCore({ engine, maxQueued: 2 });
  const c = await core.connect('site', '/ws?site=demo');
  engine.hold();
  for (const id of ['1', '2', '3', '4']) await c.send(subscribe(`ch${id}`, id));
  assert.deepEqual(c.take(), ['{"response":"error","req_id":"4","body":"at most 2 requests may wait for an answer"}']);
  engine.release();
  await settle();
  assert.deepEqual(c.take(), ['1', '2', '3'].map((id) => `{"response":"ok","req_id":"${id}","body":null}`));
});

test('runner: an oversized frame is answered and closed with 1009; nothing after it runs', async () => {
  const core = startCore({ maxPayload: 64 });
  const c = await core.connect('site', '/ws?site=demo');
  await c.send({ request: 'x', body: 'y'.repeat(100) });
  assert.deepEqual(c.take(), ['{"response":"error","body":"frame of 125 bytes exceeds the 64-byte limit"}']);
  assert.deepEqual(c.conn.ended, { code: 1009, reason: 'message too big' });
  await c.send({ request: 'nope' });
  assert.deepEqual(c.take(), []);
});

test('runner: every dialect\'s errors are counted in switchyard_errors_total', async () => {
  const core = startCore();
  const conns = {
    native: await core.connect('native', '/v1/ws?tenant=demo'),
    site: await core.connect('site', '/ws?site=demo'),
    bartnet: await core.connect('bartnet', '/bartnet'),
    otter: await core.connect('otter', '/otter?tenant=demo'),
    monorail: await core.connect('monorail', '/monorail/nodes?tenant=demo'),
  };
  for (const c of Object.values(conns)) await c.send('{nope');
  const errors = await core.metrics.errors.get();
  assert.equal(errors.values.find((v) => v.labels.code === 'bad_frame')?.value, 5);
});

test('runner: a command that fails before it ever waits still lets the queued ones run', async () => {
  const engine = new GatedEngine();
  const core = startCore({ engine, maxSubscriptions: 1 });
  const c = await core.connect('site', '/ws?site=demo');
  engine.hold();
  await c.send(subscribe('a', '1'));
  await c.send(subscribe('b', '2')); // over the limit: refused inside the subscribe, synchronously
  await c.send({ request: 'unsubscribe', req_id: '3', body: { channel: 'a' } });
  await c.send(subscribe('b', '4'));
  engine.release();
  await settle();
  assert.deepEqual(c.take(), [
    '{"response":"ok","req_id":"1","body":null}',
    '{"response":"error","req_id":"2","body":"at most 1 subscriptions per connection"}',
    '{"response":"ok","req_id":"3","body":null}',
    '{"response":"ok","req_id":"4","body":null}',
  ]);
});

/** An embedded engine whose relay up to backends fails, as a NATS broker whose connection closed does. */
class NoRelayEngine extends EmbeddedEngine {
  relays = 0;
  override relayUp(): void {
    this.relays++;
    throw new Error('connection closed');
  }
}

test('runner: a publish whose relay up to backends fails is still stored and answered, and the connection goes on', async () => {
  const engine = new NoRelayEngine();
  const core = startCore({ engine });
  const rejections: unknown[] = [];
  const onRejection = (err: unknown): void => {
    rejections.push(err);
  };
  process.on('unhandledRejection', onRejection);
  try {
    const c = await core.connect('native', '/v1/ws?tenant=demo');
    c.take();
    const token = signClientToken(TENANTS.tenants.demo.secret, { user: 'u' });
    await c.send({ type: 'auth', id: 1, token });
    await c.send({ type: 'publish', id: 2, channel: 'chat:r', data: 1 });
    await c.send({ type: 'publish', id: 3, channel: 'chat:r', data: 2, ack: false });
    await c.send({ type: 'publish', id: 4, channel: 'chat:r', data: 3 });
    await settle();
    const replies = c.take().map((f) => JSON.parse(f as string) as { id?: number; result?: { seq: number } });
    assert.deepEqual(replies.filter((r) => r.id !== 1).map((r) => [r.id, r.result?.seq]), [[2, 1], [4, 3]]);
    assert.equal(engine.relays, 3, 'each stored publish was relayed (and failed)');
    assert.deepEqual(rejections, [], 'no unhandled rejection');
  } finally {
    process.off('unhandledRejection', onRejection);
  }
});
