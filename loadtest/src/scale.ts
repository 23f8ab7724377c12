/**
 * `npm run bench:scale`: issue 11's "scale on one box". Five gateway processes on one
 * nats-server (plus one control API), 90,000 WebSocket connections in total, all subscribed
 * to one channel (`b:scale`, a namespace with history: every publish goes through JetStream
 * and RePublish, as in production), opened by subscriber workers of ≤ 15,000 sockets each,
 * each from its own source address 127.0.0.2, .3, … (one address has ~28,000 ephemeral ports;
 * one process may hold < 19,900 sockets here). Then, in order:
 *   connect    connections subscribed per second, gateway RSS per connection (per gateway)
 *   idle       CPU per minute of the gateways, nats-server and the control API while every
 *              connection is open and only pings flow; pings answered; connections closed
 *   broadcast  one `POST /v1/publish` that reaches every connection, several times: time
 *              from the send to each subscriber (p50 / p99 / max over subscribers), CPU of
 *              the broadcast, and that every connection got each one exactly once
 *   publish    the publish path alone (REST → control API → JetStream), CPU per publish
 * Flags: --connections N (90000), --gateways N (5), --broadcasts N (5), --idle-seconds N (30),
 * --idle-timeout S (30: the gateways' --idle-timeout; a ping every ~22–26 s), --quick (2
 * gateways, 200 connections, 2 broadcasts, 6 s idle with pings every ~4–8 s). Exits non-zero if
 * a connection failed or dropped, or a broadcast was missed or duplicated by anyone.
 */
import type { ChildProcess } from 'node:child_process';
import { now } from './protocol.js';
import { cpuSeconds, machineCpuSeconds, memAvailableBytes, rssBytes } from './proc.js';
import { ask, killAll } from './children.js';
import { startCluster, startWorker, type Cluster } from './scale-cluster.js';

const args = process.argv.slice(2);
const FLAGS = ['--quick', '--connections', '--gateways', '--broadcasts', '--idle-seconds', '--idle-timeout'];
const unknown = args.filter((a) => a.startsWith('--') && !FLAGS.includes(a));
if (unknown.length > 0) throw new Error(`unknown flag(s) ${unknown.join(' ')}; known: ${FLAGS.join(' ')}`);
const quick = args.includes('--quick');
const flag = (name: string, full: number, small: number): number => {
  const i = args.indexOf(`--${name}`);
  const v = i < 0 ? (quick ? small : full) : Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive whole number`);
  return v;
};
const CONNECTIONS = flag('connections', 90_000, 200);
const GATEWAYS = flag('gateways', 5, 2);
const BROADCASTS = flag('broadcasts', 5, 2);
const IDLE_SECONDS = flag('idle-seconds', 30, 6);
const IDLE_TIMEOUT = flag('idle-timeout', 30, 8);
const SETTLE_MS = quick ? 1000 : 5000;
/** A broadcast not complete within this long is reported with its missing subscribers. */
const BROADCAST_DEADLINE_MS = quick ? 10_000 : 30_000;
/** Pause between broadcasts, so each one's CPU is its own. */
const GAP_MS = quick ? 300 : 2000;
/** Sockets per worker process: under the 19,900 a process may hold, with room for its other descriptors. */
const PER_WORKER = 15_000;
/** Per worker, connections being opened at once. */
const LANES = 50;
const CHANNEL = 'b:scale';
/** The publish-path phase: publishes, and how many are in flight. */
const PUBLISHES = quick ? 50 : 2000;
const PUBLISH_LANES = 16;
const PAYLOAD_PAD = 'x'.repeat(60); // ~100-byte payloads, like `npm run bench`

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]): number => xs.reduce((a, x) => a + x, 0);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
const log = (s: string): void => console.log(`  ${s}`);

interface Ready {
  perPort: number[];
  subscribed: number;
  failed: number;
  firstError?: string;
}
interface Stats {
  closes: number;
  pings: number;
}
interface Report {
  latencies: number[];
  missing: number;
  duplicated: number;
}

/** CPU seconds so far of each server process and of the whole machine. */
function cpu(c: Cluster): { gateways: number[]; control: number; nats: number; machine: number } {
  return { gateways: c.gateways.map((g) => cpuSeconds(g.pid)), control: cpuSeconds(c.control.pid), nats: cpuSeconds(c.nats.pid), machine: machineCpuSeconds() };
}

async function stats(workers: ChildProcess[]): Promise<Stats> {
  const all = await Promise.all(workers.map((w) => ask<Stats>(w, { cmd: 'stats' }, 'stats')));
  return { closes: sum(all.map((s) => s.closes)), pings: sum(all.map((s) => s.pings)) };
}

/** Resolves true once every worker reported broadcast `b` complete, false at the deadline. */
function complete(workers: ChildProcess[], b: number): Promise<boolean> {
  return new Promise((resolve) => {
    let left = workers.length;
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      for (const w of workers) w.off('message', on);
      resolve(ok);
    };
    const on = (m: { ev: string; b?: number }): void => {
      if (m.ev === 'complete' && m.b === b && --left === 0) finish(true);
    };
    const timer = setTimeout(() => finish(false), BROADCAST_DEADLINE_MS);
    for (const w of workers) w.on('message', on);
  });
}

/** `POST /v1/publish` of broadcast `b` (its send time inside) to `channel`; throws unless 200. */
async function publish(port: number, b: number, channel = CHANNEL): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench-backend-secret' },
    body: `{"tenant":"bench","channel":"${channel}","data":{"n":${b},"t":${now().toFixed(3)},"pad":"${PAYLOAD_PAD}"}}`,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`publish answered ${res.status}: ${text}`);
}

/**
 * The publish path alone, for sizing the side that a broadcast's CPU does not show: REST
 * publishes, PUBLISH_LANES at a time, to a channel nobody subscribes to (stored in
 * JetStream and republished, no gateway involved). Returns publishes/s and CPU ms per publish.
 */
async function publishPath(c: Cluster, count: number): Promise<{ rate: number; control: number; nats: number }> {
  const c0 = cpu(c);
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await publish(c.control.port, ++next, 'b:nobody');
  };
  await Promise.all(Array.from({ length: PUBLISH_LANES }, lane));
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpu(c);
  return { rate: count / seconds, control: ((c1.control - c0.control) / count) * 1000, nats: ((c1.nats - c0.nats) / count) * 1000 };
}

interface Connected {
  seconds: number;
  subscribed: number;
  failed: number;
  firstError?: string;
  onGateway: number[];
  /** CPU ms per subscribed connection over the phase. */
  cpuMs: { gateways: number; nats: number; control: number; machine: number };
  /** Gateway RSS before connecting, bytes. */
  rss0: number[];
  /** Gateway RSS KB per connection, after connecting. */
  rssPerConn: number[];
  /** KB per connection: the workers' RSS, and the machine's MemAvailable drop. */
  workerPerConn: number;
  machinePerConn: number;
}

async function connectPhase(cluster: Cluster, workers: ChildProcess[]): Promise<Connected> {
  const ports = cluster.gateways.map((g) => g.port);
  const rss0 = cluster.gateways.map((g) => rssBytes(g.pid));
  const workerRss0 = sum(workers.map((w) => rssBytes(w.pid as number)));
  const mem0 = memAvailableBytes();
  const c0 = cpu(cluster);
  const t0 = performance.now();
  const first = (i: number): number => Math.floor((i * CONNECTIONS) / workers.length);
  const ready = await Promise.all(
    workers.map((w, i) =>
      ask<Ready>(
        w,
        { cmd: 'connect', ports, count: first(i + 1) - first(i), offset: first(i), channel: CHANNEL, localAddress: `127.0.0.${2 + i}`, broadcasts: BROADCASTS, lanes: LANES },
        'ready',
        300_000,
      ),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpu(cluster);
  const subscribed = sum(ready.map((r) => r.subscribed));
  const perConnMs = (a: number, b: number): number => ((b - a) / subscribed) * 1000;
  const onGateway = ports.map((_, g) => sum(ready.map((r) => r.perPort[g] ?? 0)));
  return {
    seconds,
    subscribed,
    failed: sum(ready.map((r) => r.failed)),
    firstError: ready.find((r) => r.firstError !== undefined)?.firstError,
    onGateway,
    cpuMs: { gateways: perConnMs(sum(c0.gateways), sum(c1.gateways)), nats: perConnMs(c0.nats, c1.nats), control: perConnMs(c0.control, c1.control), machine: perConnMs(c0.machine, c1.machine) },
    rss0,
    rssPerConn: rssPerConn(cluster, rss0, onGateway),
    workerPerConn: (sum(workers.map((w) => rssBytes(w.pid as number))) - workerRss0) / CONNECTIONS / 1024,
    machinePerConn: (mem0 - memAvailableBytes()) / CONNECTIONS / 1024,
  };
}

/** Gateway RSS growth since `rss0`, KB per connection it holds. */
function rssPerConn(cluster: Cluster, rss0: number[], onGateway: number[]): number[] {
  return cluster.gateways.map((g, i) => (rssBytes(g.pid) - rss0[i]!) / (onGateway[i] || NaN) / 1024);
}

interface Idle {
  /** CPU s per minute. */
  gateways: number[];
  nats: number;
  control: number;
  pings: number;
  closes: number;
  rssPerConn: number[];
}

/** Every connection open, nothing published: only the gateways' pings and their pongs flow. */
async function idlePhase(cluster: Cluster, workers: ChildProcess[], connected: Connected): Promise<Idle> {
  await sleep(SETTLE_MS);
  const s0 = await stats(workers);
  const c0 = cpu(cluster);
  await sleep(IDLE_SECONDS * 1000);
  const c1 = cpu(cluster);
  const s1 = await stats(workers);
  const perMinute = (a: number, b: number): number => ((b - a) / IDLE_SECONDS) * 60;
  return {
    gateways: c1.gateways.map((x, g) => perMinute(c0.gateways[g]!, x)),
    nats: perMinute(c0.nats, c1.nats),
    control: perMinute(c0.control, c1.control),
    pings: s1.pings - s0.pings,
    closes: s1.closes - s0.closes,
    rssPerConn: rssPerConn(cluster, connected.rss0, connected.onGateway),
  };
}

interface Broadcast {
  /** ms from the send to the subscribers. */
  p50: number;
  p99: number;
  max: number;
  /** CPU s of the broadcast. */
  gateways: number;
  servers: number;
  machine: number;
  /** Counted once every broadcast is over, so that a late duplicate is seen too. */
  missing: number;
  duplicated: number;
}

async function broadcastPhase(cluster: Cluster, workers: ChildProcess[]): Promise<Broadcast[]> {
  const runs: Broadcast[] = [];
  for (let b = 1; b <= BROADCASTS; b++) {
    await sleep(GAP_MS);
    const done = complete(workers, b);
    const before = cpu(cluster);
    await publish(cluster.control.port, b);
    const whole = await done;
    const after = cpu(cluster);
    const reports = await Promise.all(workers.map((w) => ask<Report>(w, { cmd: 'report', b }, 'report')));
    const lat = Float64Array.from(reports.flatMap((r) => r.latencies)).sort();
    const at = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
    const gateways = sum(after.gateways) - sum(before.gateways);
    const run = {
      p50: at(0.5),
      p99: at(0.99),
      max: lat[lat.length - 1] ?? NaN,
      gateways,
      servers: gateways + after.control - before.control + after.nats - before.nats,
      machine: after.machine - before.machine,
      missing: 0,
      duplicated: 0,
    };
    runs.push(run);
    log(`broadcast ${b}: ${lat.length} received${whole ? '' : ' (deadline passed)'}; p50 ${f(run.p50, 1)} ms, p99 ${f(run.p99, 1)} ms, max ${f(run.max, 1)} ms; CPU s gateways ${f(run.gateways)}, servers ${f(run.servers)}, machine ${f(run.machine)}`);
  }
  await sleep(GAP_MS);
  for (const [i, run] of runs.entries()) {
    const reports = await Promise.all(workers.map((w) => ask<Report>(w, { cmd: 'report', b: i + 1 }, 'report')));
    run.missing = sum(reports.map((r) => r.missing));
    run.duplicated = sum(reports.map((r) => r.duplicated));
  }
  return runs;
}

function table(c: Connected, idle: Idle, runs: Broadcast[], pub: { rate: number; control: number; nats: number }, closes: number, memLow: number): void {
  const m = (pick: (r: Broadcast) => number): number => median(runs.map(pick));
  const per = (xs: number[], d = 2): string => `${f(median(xs), d)} (per gateway: ${xs.map((x) => f(x, d)).join(', ')})`;
  const rows: [string, string, string][] = [
    ['connect', 'subscribed connections (per gateway)', `${c.subscribed} (${c.onGateway.join(', ')})`],
    ['connect', 'failed connections', String(c.failed)],
    ['connect', 'connect phase s', f(c.seconds, 1)],
    ['connect', 'connect rate, connections subscribed per s', f(c.subscribed / c.seconds, 0)],
    ['connect', 'CPU ms per connection: gateways summed / nats-server / whole machine', `${f(c.cpuMs.gateways, 3)} / ${f(c.cpuMs.nats, 3)} / ${f(c.cpuMs.machine, 3)}`],
    ['connect', 'gateway RSS MB before connecting: median', per(c.rss0.map((r) => r / 2 ** 20), 1)],
    ['connect', 'gateway RSS KB per connection, after connecting: median', per(c.rssPerConn)],
    ['idle', 'gateway RSS KB per connection, after the idle window: median', per(idle.rssPerConn)],
    ['idle', 'machine memory KB per connection (MemAvailable drop: both ends, kernel included)', f(c.machinePerConn)],
    ['idle', 'window s / gateway ping interval s / pings answered per connection', `${IDLE_SECONDS} / ~${pingInterval(IDLE_TIMEOUT)} / ${f(idle.pings / c.subscribed)}`],
    ['idle', 'gateways CPU s per minute, summed', `${f(sum(idle.gateways), 3)} (per gateway: ${idle.gateways.map((x) => f(x, 3)).join(', ')})`],
    ['idle', 'gateways CPU s per minute per 100k connections', f((sum(idle.gateways) / c.subscribed) * 1e5, 3)],
    ['idle', 'nats-server CPU s per minute', f(idle.nats, 3)],
    ['idle', 'control API CPU s per minute', f(idle.control, 3)],
    ['idle', 'connections closed during the window', String(idle.closes)],
    ['broadcast', 'broadcasts × deliveries each', `${runs.length} × ${c.subscribed}`],
    ['broadcast', `time from send to subscriber ms, p50 / p99 / max over subscribers (median of ${runs.length})`, `${f(m((r) => r.p50), 1)} / ${f(m((r) => r.p99), 1)} / ${f(m((r) => r.max), 1)}`],
    ['broadcast', 'gateways CPU s per broadcast, summed', f(m((r) => r.gateways), 3)],
    ['broadcast', 'gateways CPU s per million deliveries', f((m((r) => r.gateways) / c.subscribed) * 1e6)],
    ['broadcast', 'servers (gateways + control API + nats-server) CPU s per broadcast', f(m((r) => r.servers), 3)],
    ['broadcast', 'whole machine CPU s per broadcast (load generator and kernel included)', f(m((r) => r.machine), 3)],
    ['broadcast', 'missing / duplicated, each broadcast', runs.map((r) => `${r.missing} / ${r.duplicated}`).join(', ')],
    ['publish', `REST publishes/s, ${PUBLISH_LANES} in flight, to a channel without subscribers`, f(pub.rate, 0)],
    ['publish', 'CPU ms per publish: control API / nats-server (JetStream store + RePublish)', `${f(pub.control, 3)} / ${f(pub.nats, 3)}`],
    ['run', 'connections closed before teardown', String(closes)],
    ['run', 'machine MemAvailable at its lowest GiB', f(memLow / 2 ** 30, 1)],
  ];
  console.log('\n| phase | metric | value |\n| --- | --- | --- |');
  for (const [a, b, v] of rows) console.log(`| ${a} | ${b} | ${v} |`);
}

let teardown: (() => Promise<void>) | undefined;

async function main(): Promise<boolean> {
  const t0 = performance.now();
  const perGateway = Math.ceil(CONNECTIONS / GATEWAYS);
  if (perGateway > 19_000) throw new Error(`${perGateway} connections per gateway: one process may hold < 19,900 sockets here; add gateways`);
  const nWorkers = Math.max(2, Math.ceil(CONNECTIONS / PER_WORKER));
  if (nWorkers > 250) throw new Error('too many workers for 127.0.0.2–127.0.0.251');
  console.log(
    `Switchyard scale run: ${GATEWAYS} gateways on one nats-server, ${CONNECTIONS} connections on 1 channel from ${nWorkers} worker processes (127.0.0.2–127.0.0.${1 + nWorkers}), ${BROADCASTS} broadcasts${quick ? ' (quick smoke run)' : ''}`,
  );
  const cluster = await startCluster(GATEWAYS, IDLE_TIMEOUT);
  const workers: ChildProcess[] = [];
  teardown = async () => {
    teardown = undefined;
    for (const w of workers) if (w.connected) w.send({ cmd: 'close' });
    await cluster.stop();
  };
  const memLow = { min: memAvailableBytes() };
  const memWatch = setInterval(() => (memLow.min = Math.min(memLow.min, memAvailableBytes())), 1000);
  try {
    workers.push(...(await Promise.all(Array.from({ length: nWorkers }, startWorker))));
    const c = await connectPhase(cluster, workers);
    log(`connect: ${c.subscribed} subscribed, ${c.failed} failed${c.firstError === undefined ? '' : ` (first: ${c.firstError})`} in ${f(c.seconds, 1)} s; per gateway ${c.onGateway.join(', ')}`);
    log(`connect CPU ms per connection: gateways ${f(c.cpuMs.gateways, 3)}, nats-server ${f(c.cpuMs.nats, 3)}, control API ${f(c.cpuMs.control, 3)}, machine ${f(c.cpuMs.machine, 3)}`);
    log(`RSS KB per connection: gateways ${c.rssPerConn.map((x) => f(x)).join(', ')}; workers ${f(c.workerPerConn)}; machine MemAvailable drop ${f(c.machinePerConn)}`);
    const idle = await idlePhase(cluster, workers, c);
    log(`idle ${IDLE_SECONDS} s: gateways ${idle.gateways.map((x) => f(x, 3)).join(', ')} CPU s/min; nats-server ${f(idle.nats, 3)}; control API ${f(idle.control, 3)}; ${idle.pings} pings answered, ${idle.closes} closes`);
    const runs = await broadcastPhase(cluster, workers);
    const { closes } = await stats(workers);
    const pub = await publishPath(cluster, PUBLISHES);
    log(`publish path: ${f(pub.rate, 0)} REST publishes/s; CPU ms per publish: control API ${f(pub.control, 3)}, nats-server ${f(pub.nats, 3)}`);
    table(c, idle, runs, pub, closes, memLow.min);
    const missing = sum(runs.map((r) => r.missing));
    const duplicated = sum(runs.map((r) => r.duplicated));
    const ok = c.subscribed === CONNECTIONS && closes === 0 && missing + duplicated === 0;
    console.log(`\nrun took ${f((performance.now() - t0) / 1000, 0)} s (teardown not included)`);
    console.log(
      ok
        ? `scale check: ok, ${c.subscribed} connections, 0 failed, 0 closed, 0 missing and 0 duplicated deliveries`
        : `scale check: FAILED: ${CONNECTIONS - c.subscribed} failed connections, ${closes} closed, ${missing} missing and ${duplicated} duplicated deliveries`,
    );
    return ok;
  } finally {
    clearInterval(memWatch);
    await teardown?.();
  }
}

/** uWS pings a connection idle for its idle timeout minus a margin of 4, 8 or 16 s (its timers tick every 4 s). */
function pingInterval(idleTimeout: number): number {
  let margin = 4;
  while (idleTimeout - margin * 2 >= margin * 2 && margin < 16) margin *= 2;
  return idleTimeout - margin;
}

// Whatever ends this process takes every child with it.
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    const hard = setTimeout(() => process.exit(130), 15_000);
    void (teardown?.() ?? Promise.resolve()).finally(() => {
      clearTimeout(hard);
      process.exit(130);
    });
  });
}
main().then(
  (ok) => {
    process.exitCode = ok ? 0 : 1;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
