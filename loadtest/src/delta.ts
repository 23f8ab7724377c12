/**
 * Delta compression against full messages, in one run (docs/performance.md#delta-compression):
 * a `switchyard dev` process, S native subscribers of one channel of a `delta: true`
 * namespace, and a backend publishing a ~2 KB JSON object with one to three fields changed
 * per message at a fixed rate. Rounds alternate the two modes (subscribers that ask for
 * `delta: "fossil"`, and subscribers that do not), each on a fresh server. Per delivery:
 * WebSocket payload bytes received, and the server's CPU (user + system, from /proc) over
 * the publishing window divided by the deliveries. One subscriber per round rebuilds every
 * message from the deltas and checks it against what was published.
 *
 *   node --import tsx loadtest/src/delta.ts [--subscribers 200] [--messages 600] [--rate 100] [--rounds 2]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { applyDelta } from 'fossil-delta';
import { killAll, spawnServer, terminate, waitReady } from './children.js';
import { cpuSeconds } from './proc.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const SUBSCRIBERS = arg('subscribers', 200);
const MESSAGES = arg('messages', 600);
const RATE = arg('rate', 100);
const ROUNDS = arg('rounds', 2);
const CHANNEL = 'd:ticker';

/** The workload: ~2 KB of JSON, 30 instruments, one to three of them changing per message. */
function ticker(n: number, state: Record<string, { bid: number; ask: number; volume: number; name: string; venue: string }>): string {
  for (let j = 0; j < 1 + (n % 3); j++) {
    const k = `instrument_${(n * 7 + j * 13) % 30}`;
    const s = state[k]!;
    s.bid = Math.round((s.bid + ((n * 31 + j) % 7) - 3) * 100) / 100;
    s.ask = Math.round((s.bid + 0.05) * 100) / 100;
    s.volume += 100 * (j + 1);
  }
  return JSON.stringify({ updated: n, instruments: state });
}

function initialState() {
  const s: Record<string, { bid: number; ask: number; volume: number; name: string; venue: string }> = {};
  for (let k = 0; k < 30; k++) s[`instrument_${k}`] = { bid: 100 + k, ask: 100.05 + k, volume: 1000 * k, name: `INSTR${k}`, venue: 'XETR' };
  return s;
}

const deltaText = (value: unknown): string => JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

interface Result {
  readonly mode: 'full' | 'delta';
  readonly bytesPerDelivery: number;
  readonly cpuUsPerDelivery: number;
  readonly deliveries: number;
  readonly seconds: number;
}

async function round(mode: 'full' | 'delta'): Promise<Result> {
  const server = await spawnServer(
    process.execPath,
    [join(ROOT, 'cli/bin/switchyard.js'), 'dev', '--port', '0', '--host', '127.0.0.1', '--tenants', join(ROOT, 'loadtest/tenants.json'), '--log-level', 'info'],
    'switchyard',
    ROOT,
  );
  try {
    await waitReady(server.port);
    const url = `ws://127.0.0.1:${server.port}/v1/ws?tenant=bench`;
    let bytes = 0;
    let received = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const expected: string[] = [];
    let checked = 0;
    let base: Uint8Array | undefined;
    const sockets = await Promise.all(
      Array.from({ length: SUBSCRIBERS }, (_, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(url, 'switchyard.v1.json', { perMessageDeflate: false });
          ws.on('error', reject);
          ws.on('message', (data: Buffer) => {
            const text = data.toString('latin1');
            if (text.startsWith('{"type":"reply"')) return resolve(ws);
            if (!text.startsWith('{"type":"message"')) return;
            bytes += data.byteLength;
            if (i === 0) {
              // The checking subscriber: rebuild and compare.
              const f = JSON.parse(data.toString('utf8')) as { seq: number; delta?: boolean; data: unknown };
              let value: unknown;
              if (f.delta === true) {
                base = applyDelta(base as Uint8Array, Buffer.from(f.data as string, 'latin1'));
                value = JSON.parse(Buffer.from(base).toString('latin1'));
              } else {
                value = f.data;
                base = Buffer.from(deltaText(f.data), 'latin1');
              }
              // Publishes may overtake each other on their way in (concurrent requests): match by content.
              const n = (value as { updated: number }).updated;
              if (JSON.stringify(value) !== expected[n - 1]) throw new Error(`message ${n} (seq ${f.seq}) was not rebuilt right`);
              checked++;
            }
            if (++received === SUBSCRIBERS * MESSAGES) done();
          });
          ws.on('open', () => ws.send(JSON.stringify(mode === 'delta' ? { type: 'subscribe', id: 1, channel: CHANNEL, delta: 'fossil' } : { type: 'subscribe', id: 1, channel: CHANNEL })));
        }),
      ),
    );
    const state = initialState();
    const payloads = Array.from({ length: MESSAGES }, (_, n) => ticker(n + 1, state));
    expected.push(...payloads.map((p) => JSON.stringify(JSON.parse(p))));
    const cpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    let next = t0;
    const acks: Promise<unknown>[] = [];
    for (const p of payloads) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next += 1000 / RATE;
      acks.push(
        fetch(`http://127.0.0.1:${server.port}/v1/publish`, {
          method: 'POST',
          headers: { authorization: 'Bearer bench-backend-secret', 'content-type': 'application/json' },
          body: `{"tenant":"bench","channel":${JSON.stringify(CHANNEL)},"data":${p}}`,
        }).then((r) => {
          if (r.status !== 200) throw new Error(`publish: ${r.status}`);
          return r.text();
        }),
      );
    }
    await Promise.all(acks);
    await Promise.race([all, new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${received} of ${SUBSCRIBERS * MESSAGES} deliveries`)), 30_000))]);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(server.pid) - cpu0;
    if (checked !== MESSAGES) throw new Error(`the checking subscriber rebuilt ${checked} of ${MESSAGES}`);
    for (const ws of sockets) ws.terminate();
    const deliveries = SUBSCRIBERS * MESSAGES;
    return { mode, bytesPerDelivery: bytes / deliveries, cpuUsPerDelivery: (cpu / deliveries) * 1e6, deliveries, seconds };
  } finally {
    await terminate(server.child);
  }
}

try {
  const results: Result[] = [];
  for (let r = 0; r < ROUNDS; r++) for (const mode of ['full', 'delta'] as const) results.push(await round(mode));
  const avg = (mode: 'full' | 'delta', k: 'bytesPerDelivery' | 'cpuUsPerDelivery') => {
    const rs = results.filter((x) => x.mode === mode);
    return rs.reduce((a, x) => a + x[k], 0) / rs.length;
  };
  const line = (label: string, b: number, c: number) => `| ${label} | ${b.toFixed(0)} | ${c.toFixed(2)} |`;
  console.log(`\n${SUBSCRIBERS} subscribers, ${MESSAGES} messages at ${RATE}/s per round, ${ROUNDS} round(s) per mode (payload ${ticker(1, initialState()).length} bytes)\n`);
  console.log('| mode | bytes per delivery | server CPU µs per delivery |\n| --- | --- | --- |');
  for (const r of results) console.log(line(`${r.mode} (${r.seconds.toFixed(1)} s)`, r.bytesPerDelivery, r.cpuUsPerDelivery));
  const fb = avg('full', 'bytesPerDelivery');
  const db = avg('delta', 'bytesPerDelivery');
  const fc = avg('full', 'cpuUsPerDelivery');
  const dc = avg('delta', 'cpuUsPerDelivery');
  console.log(line('**full, mean**', fb, fc));
  console.log(line('**delta, mean**', db, dc));
  console.log(`| **delta / full** | ${(db / fb).toFixed(3)} | ${(dc / fc).toFixed(3)} |`);
} finally {
  killAll();
}
