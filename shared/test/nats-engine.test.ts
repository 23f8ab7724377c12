import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { ErrorCode, ProtocolError } from '../src/codes.js';
import { BROKER_UNAVAILABLE } from '../src/engine/nats/errors.js';
import { NatsEngine } from '../src/engine/nats/nats-engine.js';
import type { NatsEngineOptions } from '../src/engine/nats/options.js';
import { createLogger, type Logger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { resolveChannel } from '../src/model/channel.js';
import { engineContract, registry } from './engine-contract.js';
import { eventually, startNatsServer, testTenants, withDeadline, type NatsServer } from '@switchyard/testkit';

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(() => nats.stop());

/** A gateway-like engine (manages streams, answers presence) under a fresh subject prefix. */
async function makeEngine(prefix = `t${randomBytes(4).toString('hex')}`, more: Partial<NatsEngineOptions> = {}): Promise<NatsEngine> {
  const e = new NatsEngine({
    servers: [nats.url],
    tenants: registry,
    log: createLogger('silent'),
    prefix,
    manageStreams: true,
    servePresence: true,
    presenceStallMs: 20,
    ...more,
  });
  await e.whenStarted();
  return e;
}

/** Resolves `p`, or rejects once `ms` pass. */
const within = <T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> => withDeadline(p, ms, `timed out waiting for ${what}`);

engineContract('nats', () => makeEngine());

describe('nats engine', () => {
  test('seqs are JetStream stream sequences; two engines on one prefix share history and delivery', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const a = await makeEngine(prefix);
    const b = await makeEngine(prefix);
    try {
      const { resolveChannel } = await import('../src/model/channel.js');
      const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:shared');
      const got: number[] = [];
      let resolveAll!: () => void;
      const all = new Promise<void>((r) => (resolveAll = r));
      b.broker.setDeliveryHandler((_c, m) => {
        got.push(m.seq);
        if (got.length === 3) resolveAll();
      });
      await b.broker.subscribe(ch);
      const seqs = [];
      for (let i = 0; i < 3; i++) seqs.push((await a.broker.publish(ch, String(i))).seq);
      await all;
      assert.deepEqual(got, seqs);
      const page = await b.history.read(ch, seqs[0]!);
      assert.deepEqual(page.messages.map((m) => m.seq), seqs.slice(1));
      assert.equal(page.complete, true);
      assert.equal(page.epoch, (await a.history.read(ch, 0)).epoch);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('nats engine: gaps', () => {
  test('a live message lost in transit is detected by Nats-Last-Sequence and filled from the stream, in order', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const pub = await makeEngine(prefix);
    const gw = await makeEngine(prefix);
    try {
      const { resolveChannel } = await import('../src/model/channel.js');
      const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:gappy');
      const got: number[] = [];
      gw.broker.setDeliveryHandler((_c, m) => got.push(m.seq));
      const until = (n: number) => eventually(() => got.length >= n, `${n} delivered (have ${got.length})`, { timeoutMs: 3000 });
      await gw.broker.subscribe(ch);
      const s1 = (await pub.broker.publish(ch, '1')).seq;
      await until(1);
      // Simulate two live messages lost between NATS and this node.
      const relay = (gw as unknown as { relay: { onLive: (lc: unknown, m: unknown) => void } }).relay;
      const onLive = relay.onLive.bind(relay);
      let drop = 2;
      relay.onLive = (lc, m) => {
        if (drop > 0) {
          drop--;
          return;
        }
        onLive(lc, m);
      };
      const s2 = (await pub.broker.publish(ch, '2')).seq;
      const s3 = (await pub.broker.publish(ch, '3')).seq;
      const s4 = (await pub.broker.publish(ch, '4')).seq;
      await until(4);
      assert.deepEqual(got, [s1, s2, s3, s4]);
    } finally {
      await pub.close();
      await gw.close();
    }
  });
});

describe('nats engine: interest', () => {
  test('subscribe/unsubscribe races settle on the last call, with no leaked or missing subscription', async () => {
    const e = await makeEngine();
    try {
      const { resolveChannel } = await import('../src/model/channel.js');
      const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:race');
      const a = e.broker.subscribe(ch);
      const b = e.broker.unsubscribe(ch);
      await Promise.all([a, b]);
      assert.equal(e.liveSubscriptions(), 0, 'subscribe then unsubscribe leaves none');
      const c = e.broker.unsubscribe(ch);
      const d = e.broker.subscribe(ch);
      await Promise.all([c, d]);
      assert.equal(e.liveSubscriptions(), 1, 'unsubscribe then subscribe leaves one');
      const got: number[] = [];
      e.broker.setDeliveryHandler((_c, m) => got.push(m.seq));
      const { seq } = await e.broker.publish(ch, '1');
      await eventually(() => got.length > 0, 'the message is delivered', { timeoutMs: 2000, everyMs: 10 });
      assert.deepEqual(got, [seq]);
    } finally {
      await e.close();
    }
  });
});

describe('nats engine: streams', () => {
  test('stream setup is idempotent and follows a changed history size', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const first = await makeEngine(prefix);
    const again = await makeEngine(prefix); // same plan: no error, nothing changes
    await again.close();
    await first.close();
    const changed = testTenants({ namespaces: { chat: { history: 7, historyTtlSeconds: 60 } } });
    const e = new NatsEngine({ servers: [nats.url], tenants: changed, log: createLogger('silent'), prefix, manageStreams: true, servePresence: false });
    await e.whenStarted();
    await e.close();
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(`${prefix.toUpperCase()}_4_demo_chat`);
      assert.equal(info.config.max_msgs_per_subject, 7);
      assert.equal(info.config.max_age, 60 * 1e9);
      assert.deepEqual(info.config.republish, { src: `${prefix}.h.demo.chat.>`, dest: `${prefix}.live.demo.chat.>` });
    } finally {
      await nc.close();
    }
  });
});

/** A logger whose lines the test can read (warn and above). */
function capturedLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) }), lines };
}

/** Asserts that `p` rejects with exactly the fixed `unavailable` error `message`. */
async function rejectsWith(p: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `a ProtocolError, not ${String(err)}`);
    assert.equal(err.code, ErrorCode.Unavailable);
    assert.equal(err.temporary, true);
    assert.equal(err.message, message);
    return true;
  });
}

describe('nats engine: errors', () => {
  test('a failed history read tells callers only "message broker unavailable"; the NATS error is logged', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const { log, lines } = capturedLog();
    const e = await makeEngine(prefix, { log });
    const nc = await connect({ servers: nats.url });
    try {
      const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:vanishing');
      await e.broker.publish(ch, '1');
      await (await jetstreamManager(nc)).streams.delete(`${prefix.toUpperCase()}_4_demo_chat`);
      await rejectsWith(e.history.read(ch, 0), BROKER_UNAVAILABLE);
      await rejectsWith(e.broker.publish(ch, '2'), 'message could not be stored');
      assert.ok(lines.some((l) => /history read failed/.test(l) && /stream not found/i.test(l)), lines.join(''));
    } finally {
      await nc.close();
      await e.close();
    }
  });

  test('a connection command that times out tells callers only "message broker unavailable"', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const { log, lines } = capturedLog();
    const e = await makeEngine(prefix, { log, commandTimeoutMs: 100 });
    const nc = await connect({ servers: nats.url });
    try {
      // A node that hears commands and never answers.
      nc.subscribe(`${prefix}.node.mute`, { callback: () => {} });
      await nc.flush();
      await rejectsWith(e.connections.send({ op: 'info', conn: 'mute:abc', backendOf: [] }), BROKER_UNAVAILABLE);
      assert.ok(lines.some((l) => /connection command failed/.test(l) && /timeout/i.test(l)), lines.join(''));
    } finally {
      await nc.close();
      await e.close();
    }
  });

  test('with NATS stopped, publishes and reads fail with the fixed messages only', async () => {
    const own = await startNatsServer();
    const { log } = capturedLog();
    const e = new NatsEngine({
      servers: [own.url], tenants: registry, log, prefix: 'stopped', manageStreams: true, servePresence: true, jetStreamTimeoutMs: 500,
    });
    try {
      await e.whenStarted();
      const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:down');
      await e.broker.publish(ch, '1');
      await own.kill();
      // Whether or not the client has noticed yet, only fixed texts may come back.
      await rejectsWith(e.history.read(ch, 0), BROKER_UNAVAILABLE);
      await assert.rejects(e.broker.publish(ch, '2'), (err: unknown) => {
        assert.ok(err instanceof ProtocolError);
        assert.ok([BROKER_UNAVAILABLE, 'message could not be stored'].includes(err.message), err.message);
        return true;
      });
      await rejectsWith(e.presence.list(ch), BROKER_UNAVAILABLE);
      await rejectsWith(e.nodes.gatherStats(), BROKER_UNAVAILABLE);
    } finally {
      await e.close();
      await own.stop();
    }
  });

  test('no responders: nobody present, the connection gone (the typed check, not the message text)', async () => {
    const e = await makeEngine(undefined, { servePresence: false });
    try {
      const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:empty');
      assert.deepEqual(await e.presence.list(ch), []);
      assert.deepEqual(await e.connections.send({ op: 'info', conn: 'ghost:1', backendOf: [] }), { status: 'gone' });
      e.nodes.serveStats(() => ({ node: 'n1', role: 'gateway', connections: 1, channels: 0, subscriptions: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 }));
      assert.deepEqual((await e.nodes.gatherStats()).map((s) => s.node), ['n1']);
    } finally {
      await e.close();
    }
  });
});

describe('nats engine: readiness', () => {
  test('subscribe waits for the engine to become ready, then delivers', async () => {
    const e = new NatsEngine({ servers: [nats.url], tenants: registry, log: createLogger('silent'), prefix: `t${randomBytes(4).toString('hex')}`, manageStreams: true, servePresence: true });
    try {
      const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:early');
      const got: number[] = [];
      let delivered!: () => void;
      const arrived = new Promise<void>((r) => (delivered = r));
      e.broker.setDeliveryHandler((_c, m) => {
        got.push(m.seq);
        delivered();
      });
      assert.equal(e.ready(), false, 'not ready the moment it is made');
      await e.broker.subscribe(ch); // before whenStarted: waits for readiness, not for a poll
      assert.equal(e.ready(), true);
      const { seq } = await e.broker.publish(ch, '1');
      await within(arrived, 'the delivery');
      assert.deepEqual(got, [seq]);
    } finally {
      await e.close();
    }
  });

  test('unreachable NATS: subscribe rejects after readyWaitMs with the fixed message; close ends the connect loop', async () => {
    const unused = await startNatsServer();
    const url = unused.url;
    await unused.stop(); // a port where nothing listens now
    const e = new NatsEngine({ servers: [url], tenants: registry, log: createLogger('silent'), manageStreams: false, servePresence: true, readyWaitMs: 100 });
    const ch = resolveChannel(registry.tenants.get('demo')!, 'chat:never');
    await rejectsWith(e.broker.subscribe(ch), BROKER_UNAVAILABLE);
    assert.equal(e.ready(), false);
    const pending = e.broker.subscribe(resolveChannel(registry.tenants.get('demo')!, 'chat:never-2'));
    await e.close();
    await rejectsWith(pending, BROKER_UNAVAILABLE);
    await within(e.whenStarted(), 'the connect loop to stop');
  });
});

describe('nats engine: metrics', () => {
  test('registers its three series under their established names', async () => {
    const e = await makeEngine();
    try {
      const metrics = createMetrics('gateway', { processMetrics: false });
      e.registerMetrics(metrics);
      const text = await metrics.registry.metrics();
      assert.match(text, /^switchyard_nats_live_messages_total\{role="gateway"\} 0$/m);
      assert.match(text, /^switchyard_nats_live_subscriptions\{role="gateway"\} 0$/m);
      assert.match(text, /^switchyard_engine_ready\{role="gateway"\} 1$/m);
      assert.match(text, /# HELP switchyard_engine_ready 1 when the engine can publish and subscribe \(NATS connected, streams in place\)\./);
    } finally {
      await e.close();
    }
  });
});
