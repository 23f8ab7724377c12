/**
 * `npm run bench`: Switchyard against the raw uWS.js baseline on this machine, alternating
 * A B A B (default 3 rounds) so every figure is a ratio measured in one run. Scenarios:
 *   fanout    2000 subscribers on 1 channel, ~100-byte messages
 *   channels  5000 subscribers over 500 channels
 *   idle      RSS per connection holding one subscription
 * Reports deliveries/s, server CPU seconds per million deliveries (from /proc), latency
 * p50/p99 and loss/duplicate counts per subscriber. Traffic stays on 127.0.0.1; every run is
 * bounded in connections and time. `--quick` is the tiny smoke run CI uses.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kind } from './protocol.js';
import { cpuSeconds, rssBytes } from './proc.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const rounds = quick ? 1 : Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const only = args.includes('--scenarios') ? (args[args.indexOf('--scenarios') + 1] ?? '').split(',') : undefined;

interface Scenario {
  readonly name: string;
  readonly subscribers: number;
  readonly channels: number;
  /** Messages per second over all channels (0: idle, nothing published). */
  readonly rate: number;
  readonly seconds: number;
  readonly payloadBytes: number;
}

const SCENARIOS: Scenario[] = quick
  ? [
      { name: 'fanout', subscribers: 50, channels: 1, rate: 100, seconds: 1, payloadBytes: 100 },
      { name: 'channels', subscribers: 50, channels: 10, rate: 100, seconds: 1, payloadBytes: 100 },
      { name: 'idle', subscribers: 50, channels: 10, rate: 0, seconds: 0, payloadBytes: 0 },
    ]
  : [
      { name: 'fanout', subscribers: 2000, channels: 1, rate: 50, seconds: 8, payloadBytes: 100 },
      { name: 'channels', subscribers: 5000, channels: 500, rate: 2000, seconds: 8, payloadBytes: 100 },
      { name: 'idle', subscribers: 5000, channels: 500, rate: 0, seconds: 0, payloadBytes: 0 },
    ];

interface Result {
  deliveries: number;
  deliveriesPerSec: number;
  cpuPerMillion: number;
  p50: number;
  p99: number;
  missing: number;
  duplicated: number;
  rssPerConn: number;
}

/** Starts a server process and resolves with its pid and port. */
function startServer(kind: Kind): Promise<{ child: ChildProcess; port: number }> {
  const child =
    kind === 'baseline'
      ? spawn(process.execPath, ['--import', 'tsx', join(HERE, 'baseline.ts'), '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(
          process.execPath,
          [join(ROOT, 'cli/bin/switchyard.js'), 'dev', '--port', '0', '--host', '127.0.0.1', '--tenants', join(ROOT, 'loadtest/tenants.json'), '--max-subscriptions', '10', '--log-level', 'info'],
          { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] },
        );
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${kind} did not start`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /PORT (\d+)|"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1] ?? m[2]) });
      }
    });
    child.once('exit', (code) => reject(new Error(`${kind} exited with ${code}`)));
  });
}

/** Forks a worker and resolves once it is running. */
function worker(file: string): Promise<ChildProcess> {
  const w = fork(join(HERE, file), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve) => w.once('message', () => resolve(w)));
}

function ask<T>(w: ChildProcess, msg: object, ev: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${ev} from worker`)), timeoutMs);
    const on = (m: { ev: string; message?: string }) => {
      if (m.ev === 'error') {
        clearTimeout(timer);
        w.off('message', on);
        reject(new Error(m.message));
      } else if (m.ev === ev) {
        clearTimeout(timer);
        w.off('message', on);
        resolve(m as T);
      }
    };
    w.on('message', on);
    w.send(msg);
  });
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

async function run(kind: Kind, sc: Scenario): Promise<Result> {
  const server = await startServer(kind);
  const pid = server.child.pid as number;
  const workers = await Promise.all([worker('subscribers.ts'), worker('subscribers.ts')]);
  const channels = Array.from({ length: sc.channels }, (_, i) => `b:c${i}`);
  try {
    const rss0 = rssBytes(pid);
    const per = Math.ceil(sc.subscribers / workers.length);
    await Promise.all(
      workers.map((w, i) => ask(w, { cmd: 'connect', kind, port: server.port, channels, count: Math.min(per, sc.subscribers - i * per), offset: i * per }, 'ready')),
    );
    const rssPerConn = (rssBytes(pid) - rss0) / sc.subscribers;
    if (sc.rate === 0) return { deliveries: 0, deliveriesPerSec: 0, cpuPerMillion: NaN, p50: NaN, p99: NaN, missing: 0, duplicated: 0, rssPerConn };

    const publisher = await worker('publisher.ts');
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    const done = await ask<{ published: Record<string, number>; sent: number }>(
      publisher,
      { cmd: 'publish', kind, port: server.port, channels, rate: sc.rate, durationMs: sc.seconds * 1000, payloadBytes: sc.payloadBytes },
      'done',
    );
    publisher.send({ cmd: 'close' });
    // Wait (bounded) for deliveries in flight to land.
    const expected = done.sent * (sc.subscribers / sc.channels);
    let received = 0;
    for (let tries = 0; tries < 50; tries++) {
      const counts = await Promise.all(workers.map((w) => ask<{ received: number }>(w, { cmd: 'received' }, 'received')));
      const now = counts.reduce((a, c) => a + c.received, 0);
      if (now >= expected || (now === received && tries > 5)) {
        received = now;
        break;
      }
      received = now;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu = cpuSeconds(pid) - cpu0;
    const seconds = (performance.now() - t0) / 1000;
    const reports = await Promise.all(
      workers.map((w) => ask<{ received: number; missing: number; duplicated: number; latencies: number[] }>(w, { cmd: 'report', published: done.published }, 'report')),
    );
    const latencies = reports.flatMap((r) => r.latencies);
    const deliveries = reports.reduce((a, r) => a + r.received, 0);
    return {
      deliveries,
      deliveriesPerSec: deliveries / seconds,
      cpuPerMillion: (cpu / deliveries) * 1e6,
      p50: pct(latencies, 50),
      p99: pct(latencies, 99),
      missing: reports.reduce((a, r) => a + r.missing, 0),
      duplicated: reports.reduce((a, r) => a + r.duplicated, 0),
      rssPerConn,
    };
  } finally {
    for (const w of workers) w.send({ cmd: 'close' });
    server.child.kill('SIGKILL');
  }
}

const median = (xs: number[]): number => pct(xs, 50);
const f = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

async function main(): Promise<void> {
  const rows: string[] = [];
  let lossy = 0;
  console.log(`Switchyard benchmark: ${rounds} round(s), A B alternating, on ${(await import('node:os')).cpus().length} cores${quick ? ' (quick smoke run)' : ''}`);
  for (const sc of SCENARIOS.filter((s) => only === undefined || only.includes(s.name))) {
    const res: Record<Kind, Result[]> = { baseline: [], switchyard: [] };
    for (let r = 0; r < rounds; r++) {
      for (const kind of ['baseline', 'switchyard'] as Kind[]) {
        const out = await run(kind, sc);
        res[kind].push(out);
        lossy += out.missing + out.duplicated;
        console.log(`  ${sc.name} round ${r + 1} ${kind}: ${f(out.deliveriesPerSec, 0)} deliveries/s, ${f(out.cpuPerMillion)} CPU s/M, p99 ${f(out.p99)} ms, rss/conn ${f(out.rssPerConn / 1024)} KB, missing ${out.missing}, dup ${out.duplicated}`);
      }
    }
    const m = (k: Kind, pick: (r: Result) => number) => median(res[k].map(pick));
    const row = (metric: string, pick: (r: Result) => number, d = 2) => {
      const a = m('baseline', pick);
      const b = m('switchyard', pick);
      rows.push(`| ${sc.name} | ${metric} | ${f(a, d)} | ${f(b, d)} | ${f(b / a)}× |`);
    };
    if (sc.rate > 0) {
      row('server CPU s per million deliveries', (r) => r.cpuPerMillion);
      row('deliveries/s', (r) => r.deliveriesPerSec, 0);
      row('latency p50 ms', (r) => r.p50);
      row('latency p99 ms', (r) => r.p99);
      rows.push(`| ${sc.name} | missing / duplicated | ${res.baseline.reduce((a, r) => a + r.missing, 0)} / ${res.baseline.reduce((a, r) => a + r.duplicated, 0)} | ${res.switchyard.reduce((a, r) => a + r.missing, 0)} / ${res.switchyard.reduce((a, r) => a + r.duplicated, 0)} | |`);
    } else {
      row('RSS KB per subscribed connection', (r) => r.rssPerConn / 1024);
    }
  }
  console.log('\n| scenario | metric | raw uWS.js | Switchyard (embedded) | ratio |\n| --- | --- | --- | --- | --- |');
  console.log(rows.join('\n'));
  console.log(`\nloss check: ${lossy === 0 ? 'ok, 0 missing and 0 duplicated deliveries' : `${lossy} missing or duplicated deliveries`}`);
  process.exitCode = lossy === 0 ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
