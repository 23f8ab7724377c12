/**
 * A load-generator worker process: opens connections, subscribes each to one channel, and
 * checks every message it receives: counts, latency (payload `t` → now) and order (payload `n`
 * grows by one per channel: a jump is a loss, a step back a duplicate or reordering).
 * Flow connections use the lean client (`lean-ws.ts`); churn and resume use `ws`.
 * Driven over IPC by bench.ts.
 */
import WebSocket from 'ws';
import { faces, now, numberField, type Kind } from './protocol.js';
import { LeanSocket, numberIn } from './lean-ws.js';

interface Conn {
  readonly channel: string;
  next: number; // the n expected next (1-based)
  received: number;
  missing: number;
  duplicated: number;
}

const conns: Conn[] = [];
const sockets: { destroy(): void }[] = [];
let latencies: number[] = [];
let sampleEvery = 1;
let seen = 0;
/** Latency is sampled only for messages sent at or after this time (the warm-up ends). */
let measureFrom = 0;

const N = Buffer.from('"n":');
const T = Buffer.from('"t":');

/** Opens `count` lean connections, each subscribed to one channel; resolves once all are subscribed. */
async function connect(kind: Kind, port: number, channels: string[], count: number, offset: number): Promise<void> {
  const face = faces[kind];
  const prefix = Buffer.from(face.messagePrefix);
  const opening: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const id = offset + i + 1;
    const c: Conn = { channel: channels[(offset + i) % channels.length] as string, next: 1, received: 0, missing: 0, duplicated: 0 };
    conns.push(c);
    opening.push(
      new Promise<void>((resolve, reject) => {
        let subscribed = false;
        LeanSocket.open('127.0.0.1', port, face.path, {
          frame(buf, start, end) {
            if (end - start >= prefix.length && buf.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0) {
              const n = numberIn(buf, start, end, N);
              c.received++;
              if (n === c.next) c.next++;
              else if (n > c.next) {
                c.missing += n - c.next;
                c.next = n + 1;
              } else c.duplicated++;
              if (++seen % sampleEvery === 0) {
                const sent = numberIn(buf, start, end, T);
                if (sent >= measureFrom) latencies.push(now() - sent);
                if (latencies.length >= 20_000) {
                  latencies = latencies.filter((_, k) => k % 2 === 0);
                  sampleEvery *= 2;
                }
              }
            } else if (!subscribed && face.isSubscribed(buf.toString('latin1', start, end), id)) {
              subscribed = true;
              resolve();
            }
          },
          close() {
            if (!subscribed) reject(new Error('connection closed before subscribing'));
          },
        }).then((ws) => {
          sockets.push(ws);
          for (const f of face.subscribe(c.channel, id)) ws.send(f);
        }, reject);
      }),
    );
    // Open in small batches: a burst of thousands of handshakes only measures the kernel.
    if (i % 100 === 99) await Promise.all(opening.slice(-100));
  }
  await Promise.all(opening);
}

/** Connect, subscribe, wait for the confirmation, close; `concurrency` loops for `ms`. */
async function churn(kind: Kind, port: number, channels: string[], concurrency: number, ms: number): Promise<{ cycles: number; errors: number }> {
  const face = faces[kind];
  const end = Date.now() + ms;
  let cycles = 0;
  let errors = 0;
  let id = 0;
  const loop = async (): Promise<void> => {
    while (Date.now() < end) {
      const my = ++id;
      const channel = channels[my % channels.length] as string;
      try {
        await new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(face.url(port), { perMessageDeflate: false });
          const timer = setTimeout(() => reject(new Error('timeout')), 5000);
          ws.once('error', reject);
          ws.once('open', () => {
            for (const f of face.subscribe(channel, my)) ws.send(f);
          });
          ws.on('message', (data: Buffer) => {
            if (face.isSubscribed(data.toString('latin1'), my)) {
              clearTimeout(timer);
              ws.close();
              ws.once('close', () => resolve());
            }
          });
        });
        cycles++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { cycles, errors };
}

/** `count` connections resume `channel` after seq `after` at once; each must get exactly last−after messages, in order. */
async function resume(port: number, channel: string, count: number, after: number, last: number): Promise<{ ok: number; missing: number; duplicated: number }> {
  const face = faces.switchyard;
  let ok = 0;
  let missing = 0;
  let duplicated = 0;
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<void>((resolve) => {
          const ws = new WebSocket(face.url(port), { perMessageDeflate: false });
          let next = after + 1;
          const timer = setTimeout(() => {
            missing += last + 1 - next;
            ws.terminate();
            resolve();
          }, 30_000);
          ws.once('open', () => {
            for (const f of face.subscribe(channel, i + 1, after)) ws.send(f);
          });
          ws.on('message', (data: Buffer) => {
            const text = data.toString('latin1');
            if (!face.isMessage(text)) return;
            const n = numberField(text, 'n');
            if (n === next) next++;
            else if (n > next) {
              missing += n - next;
              next = n + 1;
            } else duplicated++;
            if (next > last) {
              ok++;
              clearTimeout(timer);
              ws.close();
              resolve();
            }
          });
          ws.once('error', () => {
            missing += last + 1 - next;
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  return { ok, missing, duplicated };
}

process.on('message', (m: { cmd: string; [k: string]: unknown }) => {
  if (m.cmd === 'churn') {
    churn(m.kind as Kind, m.port as number, m.channels as string[], m.concurrency as number, m.ms as number).then((r) => process.send?.({ ev: 'churned', ...r }));
    return;
  }
  if (m.cmd === 'resume') {
    resume(m.port as number, m.channel as string, m.count as number, m.after as number, m.last as number).then((r) => process.send?.({ ev: 'resumed', ...r }));
    return;
  }
  if (m.cmd === 'connect') {
    connect(m.kind as Kind, m.port as number, m.channels as string[], m.count as number, m.offset as number).then(
      () => process.send?.({ ev: 'ready' }),
      (err: Error) => process.send?.({ ev: 'error', message: err.message }),
    );
  } else if (m.cmd === 'report') {
    // Messages published but never received count as missing too.
    const published = m.published as Record<string, number>;
    let received = 0;
    let missing = 0;
    let duplicated = 0;
    for (const c of conns) {
      received += c.received;
      duplicated += c.duplicated;
      missing += c.missing + Math.max(0, (published[c.channel] ?? 0) - (c.next - 1));
    }
    process.send?.({ ev: 'report', received, missing, duplicated, latencies });
  } else if (m.cmd === 'measure-from') {
    measureFrom = m.t as number;
    process.send?.({ ev: 'measuring' });
  } else if (m.cmd === 'progress') {
    // Per channel (in the order given), how many messages every connection here has: the
    // slowest one's count. A closed-loop publisher keeps its window against the slowest.
    const index = new Map((m.channels as string[]).map((c, i) => [c, i]));
    const least: number[] = new Array((m.channels as string[]).length).fill(Infinity);
    for (const c of conns) {
      const i = index.get(c.channel) as number;
      if (c.next - 1 < (least[i] as number)) least[i] = c.next - 1;
    }
    process.send?.({ ev: 'progress', least: least.map((x) => (x === Infinity ? -1 : x)) });
  } else if (m.cmd === 'received') {
    process.send?.({ ev: 'received', received: conns.reduce((a, c) => a + c.received, 0) });
  } else if (m.cmd === 'close') {
    for (const ws of sockets) ws.destroy();
    process.exit(0);
  }
});
process.send?.({ ev: 'started' });
