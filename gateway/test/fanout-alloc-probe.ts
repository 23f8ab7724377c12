/**
 * Measures the young-generation bytes one broadcast allocates at 1, 100 and 1000 subscribers,
 * without and with delta compression, and prints them as JSON
 * (`{"plain":{"1":…,"100":…,"1000":…},"delta":{…}}`). See fanout-alloc.test.ts.
 */
import assert from 'node:assert/strict';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { resolveChannel, type Message } from '@switchyard/shared';
import { TENANTS, tenantOf, testTenants } from '@switchyard/testkit';
import { SendResult, type Conn, type TopicBus } from '../src/core/session.js';
import { startCore } from './harness.js';

// Run by fanout-alloc.test.ts with --expose-gc and a 64 MB young generation, so no scavenge
// can fall inside a measurement window and hide what it allocated.
const gc = (globalThis as { gc?: () => void }).gc ?? (() => { throw new Error('run with --expose-gc'); });

/** Counts what a topic's subscribers would be sent, keeping nothing (uWS does this part in C++). */
class NullBus implements TopicBus {
  readonly subscribers = new Map<string, number>();
  sends = 0;
  publish(topic: string): void {
    this.sends += this.subscribers.get(topic) ?? 0;
  }
}

/** A socket that takes every frame and keeps nothing: only the hub's own allocations remain. */
class NullConn implements Conn {
  constructor(private readonly bus: NullBus) {}
  send(): number {
    this.bus.sends++;
    return SendResult.Success;
  }
  bufferedAmount(): number {
    return 0;
  }
  cork(fn: () => void): void {
    fn();
  }
  subscribe(topic: string): void {
    this.bus.subscribers.set(topic, (this.bus.subscribers.get(topic) ?? 0) + 1);
  }
  unsubscribe(topic: string): void {
    this.bus.subscribers.set(topic, (this.bus.subscribers.get(topic) ?? 0) - 1);
  }
  end(): void {}
}

const BROADCASTS = 200;
/** Broadcasts per event-loop turn (one flush each), as a burst of publishes would bring. */
const PER_TURN = 8;

/**
 * Bytes in the young generation, where short-lived objects (anything made per subscriber)
 * are allocated; the optimizing compiler's output lands elsewhere and would blur the figure.
 */
const youngBytes = (): number => getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space')?.space_used_size ?? NaN;

/** A ~2 KB ticker object with one to three fields changed per message (the delta workload). */
function ticker(i: number): string {
  const o: Record<string, unknown> = {};
  for (let k = 0; k < 30; k++) o[`instrument_${k}`] = { price: 100 + k + (k % 3 < 1 + (i % 3) && k % 10 === i % 10 ? i : 0), volume: 1000 * k, name: `name-${k}` };
  return JSON.stringify(o);
}

const deltaTenants = testTenants({ namespaces: { ...TENANTS.tenants.demo.namespaces, tick: { history: 100, delta: true } } });

/**
 * Young-generation bytes one broadcast (and its share of a flush) allocates with `n` subscribers of two faces (site and otter),
 * or with `delta`, of the native faces (JSON and msgpack) with delta compression on,
 * measured between two forced GCs; retried when a GC ran inside the window (it would hide
 * allocations).
 */
async function bytesPerBroadcast(n: number, delta = false): Promise<number> {
  const bus = new NullBus();
  const core = startCore({ bus, tenants: deltaTenants });
  const demo = tenantOf(core.tenants, 'demo');
  const ref = resolveChannel(demo, delta ? 'tick:room' : 'room');
  for (let i = 0; i < n; i++) {
    const conn = new NullConn(bus);
    const c = delta
      ? await core.connect('native', '/v1/ws?tenant=demo', { conn, protocols: i % 2 === 0 ? [] : ['switchyard.v1.msgpack'] })
      : await core.connect(i % 2 === 0 ? 'site' : 'otter', i % 2 === 0 ? '/ws?site=demo' : '/otter?tenant=demo', { conn });
    core.hub.activate(c.s, await core.hub.subscribe(c.s, { channel: ref, delta }));
  }
  core.outbox.flush();
  const greetings = bus.sends; // otter and native greet each connection
  let seq = 0;
  const batch = (): Message[] =>
    Array.from({ length: BROADCASTS }, () => ({ seq: ++seq, time: 1_795_000_000_000, data: delta ? ticker(seq) : '{"text":"hello, subscribers"}' }));
  // A turn's worth of broadcasts, then the flush that writes each connection's frames at once.
  const turn = (msgs: Message[]): void => {
    for (let k = 0; k < msgs.length; k += PER_TURN) {
      for (let j = k; j < k + PER_TURN && j < msgs.length; j++) core.hub.broadcast(ref, msgs[j] as Message);
      core.outbox.flush();
    }
  };
  for (let warm = 0; warm < 5; warm++) turn(batch());
  let gcs: number[] = [];
  const obs = new PerformanceObserver((list) => gcs.push(...list.getEntries().map((e) => e.startTime)));
  obs.observe({ entryTypes: ['gc'] });
  // The least of several windows: the steady state, once the JIT has settled (a window that
  // still runs unoptimized code sees iterator results allocated per step; one that a GC
  // crossed is left out). Anything the loop itself allocates per subscriber is in every window.
  let least = Infinity;
  let sent = 5 * n * BROADCASTS; // the warm-up
  try {
    for (let window = 0; window < 8; window++) {
      const msgs = batch();
      gc();
      gc();
      gcs = [];
      const t0 = performance.now();
      const before = youngBytes();
      turn(msgs);
      const after = youngBytes();
      const t1 = performance.now();
      await new Promise((r) => setImmediate(r)); // let the observer report GCs of the window
      if (gcs.every((t) => t < t0 || t > t1)) least = Math.min(least, (after - before) / BROADCASTS);
      sent += n * BROADCASTS;
    }
  } finally {
    obs.disconnect();
  }
  assert.equal(bus.sends - greetings, sent, 'every subscriber got every broadcast');
  assert.ok(Number.isFinite(least), 'a GC ran inside every measurement window');
  return least;
}

const plain: Record<number, number> = {};
for (const n of [1, 100, 1000]) plain[n] = await bytesPerBroadcast(n);
const delta: Record<number, number> = {};
for (const n of [1, 100, 1000]) delta[n] = await bytesPerBroadcast(n, true);
process.stdout.write(JSON.stringify({ plain, delta }));
