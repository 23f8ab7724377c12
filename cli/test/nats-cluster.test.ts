import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as natsConnect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { signClientToken } from '@switchyard/shared';
import { TENANTS, eventually, startNatsCluster } from '@switchyard/testkit';
import { startProc, tenantsFile, type Proc } from './cli-process.js';
import { delay } from './faults/clock.js';
import { backend, connect } from './helpers.js';

// Replicated streams (--nats-replicas 3) on a three-server JetStream cluster, with the
// stream's leader SIGKILLed while a backend publishes: the hard shape of idempotent publishes.

const NAMESPACES = { ...TENANTS.tenants.demo.namespaces, r3: { history: 2000 } };
const TENANTS_R3 = { ...TENANTS, tenants: { ...TENANTS.tenants, demo: { ...TENANTS.tenants.demo, namespaces: NAMESPACES } } };
const CHANNEL = 'r3:orders';

type Answer = { status: number; body: { seq: number; time: number; duplicate: boolean } };

/** `POST /v1/publish` of `data` to `channel` with an Idempotency-Key; undefined when no answer came (a timeout, a cut connection). */
async function postKeyed(ctl: Proc, channel: string, key: string, data: unknown): Promise<Answer | undefined> {
  try {
    const res = await fetch(`${ctl.url}/v1/publish`, {
      method: 'POST',
      headers: { ...backend, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ tenant: 'demo', channel, data }),
      signal: AbortSignal.timeout(3000),
    });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  } catch {
    return undefined;
  }
}

interface Ack {
  readonly seq: number;
  readonly attempts: number;
  /** The answer said an earlier attempt had stored it. */
  readonly duplicate: boolean;
}

/**
 * A backend that publishes message `n` with `Idempotency-Key: order-<n>` and retries it (the
 * same key, the other control API) until one answer is a 200, then goes on to `n + 1`.
 */
class RetryingBackend {
  readonly acks = new Map<number, Ack>();
  failures = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly controls: readonly Proc[], private readonly prefix: string) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    for (let n = 1; !this.stopped; n++) {
      for (let attempt = 1; ; attempt++) {
        const ctl = this.controls[(n + attempt) % this.controls.length] as Proc;
        const answer = await this.publish(ctl, n);
        if (answer !== undefined) {
          this.acks.set(n, { seq: answer.seq, attempts: attempt, duplicate: answer.duplicate });
          break;
        }
        this.failures++;
        await delay(100);
      }
      await delay(15);
    }
  }

  /** One attempt; its answer when it is a 200. */
  async publish(ctl: Proc, n: number): Promise<Answer['body'] | undefined> {
    // No answer, or not a 200: the message may be stored all the same; the retry tells.
    const a = await postKeyed(ctl, CHANNEL, `${this.prefix}-${n}`, { n });
    return a?.status === 200 ? a.body : undefined;
  }
}

test('JetStream cluster, R3: the stream leader SIGKILLed mid-stream; a backend retrying with Idempotency-Key has every message stored once and delivered once, in order', { timeout: 180_000 }, async (t) => {
  const nats = await startNatsCluster(3);
  t.after(() => nats.stop());
  const prefix = `r3${randomBytes(4).toString('hex')}`;
  const file = tenantsFile(t, TENANTS_R3);
  const args = (node: string): string[] => ['--nats', nats.url, '--nats-prefix', prefix, '--nats-replicas', '3', '--tenants', file, '--node-id', node];
  const controls = [await startProc(t, 'control0', 'control-api', args('control0')), await startProc(t, 'control1', 'control-api', args('control1'))];
  const gateway = await startProc(t, 'gateway', 'gateway', args('gw'));
  await eventually(async () => {
    for (const p of [...controls, gateway]) if ((await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(1000) })).status !== 200) return false;
    return true;
  }, 'every process ready (the JetStream cluster elected its leaders)', { timeoutMs: 60_000, everyMs: 250 });

  const nc = await natsConnect({ servers: nats.servers.map((s) => s.url) });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const stream = `${prefix.toUpperCase()}_4_demo_r3`; // <PREFIX>_<tenant length>_<tenant>_<namespace>
  assert.equal((await jsm.streams.info(stream)).config.num_replicas, 3);

  const c = await connect(t, `${gateway.url.replace(/^http/, 'ws')}/v1/ws?tenant=demo`);
  await c.nextWhere((f) => f.type === 'hello');
  c.send({ type: 'auth', id: 1, token: signClientToken(TENANTS.tenants.demo.secret, { user: 'watcher' }) });
  await c.nextWhere((f) => f.type === 'reply' && f.id === 1);
  c.send({ type: 'subscribe', id: 2, channel: CHANNEL });
  assert.equal((await c.nextWhere((f) => f.type === 'reply' && f.id === 2)).error, undefined);

  const pub = new RetryingBackend(controls, prefix);
  pub.start();
  await delay(1500);
  const leader = (await jsm.streams.info(stream)).cluster?.leader;
  const victim = nats.servers.find((s) => s.name === leader);
  assert.ok(victim !== undefined, `the stream's leader is one of ours: ${leader}`);
  const ackedBefore = pub.acks.size;
  await victim.kill();
  await delay(6000);
  const newLeader = await eventually(async () => (await jsm.streams.info(stream)).cluster?.leader, 'a new leader', { timeoutMs: 20_000, everyMs: 250 });
  assert.notEqual(newLeader, leader);
  await victim.restart();
  await delay(2000);
  await pub.stop();
  const total = pub.acks.size;
  const retried = [...pub.acks.values()].filter((a) => a.attempts > 1).length;
  const deduped = [...pub.acks.values()].filter((a) => a.duplicate).length;
  t.diagnostic(`${total} messages acknowledged (${ackedBefore} before the kill of ${leader}), ${retried} after retries (${deduped} of them stored by an earlier attempt), ${pub.failures} failed attempts; new leader ${newLeader}`);
  assert.ok(total > ackedBefore + 20, `publishing went on after the kill: ${ackedBefore} → ${total}`);

  // Acknowledged in order with increasing seqs, each message once.
  const acked = [...pub.acks.entries()].sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < acked.length; i++) assert.ok(acked[i]![1].seq > acked[i - 1]![1].seq, `message ${acked[i]![0]}: seq ${acked[i]![1].seq} after ${acked[i - 1]![1].seq}`);

  // Stored once each: the stream holds exactly the acknowledged messages, at their seqs.
  const res = await fetch(`${controls[0]!.url}/v1/history?tenant=demo&channel=${CHANNEL}&limit=10000`, { headers: backend });
  assert.equal(res.status, 200);
  const stored = ((await res.json()) as { messages: { seq: number; data: { n: number } }[] }).messages;
  assert.deepEqual(stored.map((m) => m.data.n), acked.map(([n]) => n), 'the stream holds each message once, in order');
  assert.deepEqual(stored.map((m) => m.seq), acked.map(([, a]) => a.seq));

  // The stream's duplicate window outlived its leader: repeats of keys acknowledged before,
  // around and after the kill answer the first seq and store nothing.
  for (const n of [1, ackedBefore, ackedBefore + 1, total]) {
    for (const ctl of controls) {
      const again = await pub.publish(ctl, n);
      assert.deepEqual(again && { seq: again.seq, duplicate: again.duplicate }, { seq: pub.acks.get(n)!.seq, duplicate: true }, `message ${n} again through ${ctl.name}`);
    }
  }
  assert.equal((await jsm.streams.info(stream)).state.messages, total, 'nothing stored by the repeats');

  // Delivered once each, in order, to the gateway's subscriber (its NATS server may have been the one killed).
  const got = await eventually(() => {
    const ms = (c.frames as { type?: string; seq: number; data: { n: number } }[]).filter((f) => f.type === 'message');
    return ms.length >= total ? ms : undefined;
  }, 'every acknowledged message delivered', { timeoutMs: 15_000, everyMs: 100 });
  assert.deepEqual(got.map((m) => m.data.n), acked.map(([n]) => n));
  assert.deepEqual(got.map((m) => m.seq), acked.map(([, a]) => a.seq));

  // A channel without history: keys are claimed in a replicated KV bucket; 20 racing
  // requests over both control APIs publish once, with the killed server back in the cluster.
  c.send({ type: 'subscribe', id: 3, channel: 'live:tick' });
  assert.equal((await c.nextWhere((f) => f.type === 'reply' && f.id === 3)).error, undefined);
  // Each request retries a 503 as a backend does (the bucket's first use creates it, which
  // may time out while the restarted server catches up).
  const keyed = async (i: number): Promise<Answer | undefined> => {
    for (let attempt = 0; ; attempt++) {
      const answer = await postKeyed(controls[(i + attempt) % 2]!, 'live:tick', `${prefix}-tick`, { i });
      if ((answer !== undefined && answer.status !== 503) || attempt === 10) return answer;
      await delay(200);
    }
  };
  const race = await Promise.all(Array.from({ length: 20 }, (_, i) => keyed(i)));
  const answers = race.filter((r): r is Answer => r?.status === 200);
  assert.equal(answers.length, race.length, JSON.stringify(race));
  assert.equal(answers.filter((r) => !r.body.duplicate).length, 1);
  assert.equal(new Set(answers.map((r) => r.body.time)).size, 1);
  const bucket = (await jsm.streams.list().next()).find((i) => i.config.name.startsWith(`KV_${prefix.toUpperCase()}_IDEM_demo_`));
  assert.equal(bucket?.config.num_replicas, 3, 'the claims bucket is replicated');
  await c.nextWhere((f) => f.type === 'message' && f.channel === 'live:tick', 5000);
  await delay(500);
  assert.deepEqual(c.frames.filter((f) => (f as { type?: string }).type === 'message'), [], 'published once');
});
