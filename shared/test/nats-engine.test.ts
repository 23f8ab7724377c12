import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { NatsEngine } from '../src/engine/nats/nats-engine.js';
import { createLogger } from '../src/log.js';
import { engineContract, registry } from './engine-contract.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(() => nats.stop());

/** A gateway-like engine (manages streams, answers presence) under a fresh subject prefix. */
async function makeEngine(prefix = `t${randomBytes(4).toString('hex')}`): Promise<NatsEngine> {
  const e = new NatsEngine({
    servers: [nats.url],
    tenants: registry,
    log: createLogger('silent'),
    prefix,
    manageStreams: true,
    servePresence: true,
    presenceStallMs: 20,
  });
  await e.whenStarted();
  return e;
}

engineContract('nats', () => makeEngine());

describe('nats engine', () => {
  test('seqs are JetStream stream sequences; two engines on one prefix share history and delivery', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const a = await makeEngine(prefix);
    const b = await makeEngine(prefix);
    try {
      const { resolveChannel } = await import('../src/model/channel.js');
      const ch = resolveChannel(registry.tenants.get('alpha')!, 'chat:shared');
      const got: number[] = [];
      let resolveAll!: () => void;
      const all = new Promise<void>((r) => (resolveAll = r));
      b.setDeliveryHandler((_c, m) => {
        got.push(m.seq);
        if (got.length === 3) resolveAll();
      });
      await b.subscribe(ch);
      const seqs = [];
      for (let i = 0; i < 3; i++) seqs.push((await a.publish(ch, String(i))).seq);
      await all;
      assert.deepEqual(got, seqs);
      const page = await b.read(ch, seqs[0]!);
      assert.deepEqual(page.messages.map((m) => m.seq), seqs.slice(1));
      assert.equal(page.complete, true);
      assert.equal(page.epoch, (await a.read(ch, 0)).epoch);
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
      const ch = resolveChannel(registry.tenants.get('alpha')!, 'chat:gappy');
      const got: number[] = [];
      const waiters: (() => void)[] = [];
      gw.setDeliveryHandler((_c, m) => {
        got.push(m.seq);
        for (const w of waiters.splice(0)) w();
      });
      const until = async (n: number): Promise<void> => {
        const deadline = Date.now() + 3000;
        while (got.length < n) {
          assert.ok(Date.now() < deadline, `only ${got.length} of ${n} delivered: ${got}`);
          await new Promise<void>((r) => {
            waiters.push(r);
            setTimeout(r, 100);
          });
        }
      };
      await gw.subscribe(ch);
      const s1 = (await pub.publish(ch, '1')).seq;
      await until(1);
      // Simulate two live messages lost between NATS and this node.
      const engine = gw as unknown as { onLive: (lc: unknown, m: unknown) => void };
      const onLive = engine.onLive.bind(gw);
      let drop = 2;
      engine.onLive = (lc, m) => {
        if (drop > 0) {
          drop--;
          return;
        }
        onLive(lc, m);
      };
      const s2 = (await pub.publish(ch, '2')).seq;
      const s3 = (await pub.publish(ch, '3')).seq;
      const s4 = (await pub.publish(ch, '4')).seq;
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
      const ch = resolveChannel(registry.tenants.get('alpha')!, 'chat:race');
      const a = e.subscribe(ch);
      const b = e.unsubscribe(ch);
      await Promise.all([a, b]);
      assert.equal(e.liveSubscriptions(), 0, 'subscribe then unsubscribe leaves none');
      const c = e.unsubscribe(ch);
      const d = e.subscribe(ch);
      await Promise.all([c, d]);
      assert.equal(e.liveSubscriptions(), 1, 'unsubscribe then subscribe leaves one');
      const got: number[] = [];
      e.setDeliveryHandler((_c, m) => got.push(m.seq));
      const { seq } = await e.publish(ch, '1');
      const deadline = Date.now() + 2000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
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
    const { parseTenants } = await import('../src/config/tenants.js');
    const changed = parseTenants({
      adminToken: 'contract-admin-token',
      tenants: {
        alpha: {
          secret: 'alpha-client-secret',
          postSecret: 'alpha-post-secret',
          backendSecret: 'alpha-backend-secret',
          namespaces: { chat: { history: 7, historyTtlSeconds: 60 } },
        },
      },
    });
    const e = new NatsEngine({ servers: [nats.url], tenants: changed, log: createLogger('silent'), prefix, manageStreams: true, servePresence: false });
    await e.whenStarted();
    await e.close();
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: nats.url });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(`${prefix.toUpperCase()}_5_alpha_chat`);
      assert.equal(info.config.max_msgs_per_subject, 7);
      assert.equal(info.config.max_age, 60 * 1e9);
      assert.deepEqual(info.config.republish, { src: `${prefix}.h.alpha.chat.>`, dest: `${prefix}.live.alpha.chat.>` });
    } finally {
      await nc.close();
    }
  });
});
