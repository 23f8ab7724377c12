/**
 * The subscriber worker of the scale scenario (`scale.ts`): holds up to ~15,000 lean
 * connections from one source address, spread round robin over the gateways, all
 * subscribed to one channel, and records for every connection when each broadcast arrived
 * and how many times. Driven over IPC:
 *   connect {ports, count, offset, channel, localAddress, broadcasts, lanes}
 *       → ready {perPort, subscribed, failed, firstError}
 *   stats   → stats {closes, pings, open}   (counts since the start)
 *   report  {b} → report {b, latencies, missing, duplicated}
 *   close   → exits
 * Unprompted, it sends complete {b} once every subscribed connection here has broadcast b.
 * Broadcast payloads are `{"n": b, "t": send time, …}`, b from 1.
 */
import { faces, now } from './protocol.js';
import { LeanSocket, numberIn } from './lean-ws.js';

const N = Buffer.from('"n":');
const T = Buffer.from('"t":');
const MESSAGE = Buffer.from(faces.switchyard.messagePrefix);
/** The answer to subscribe id 1 that succeeded (an error answer carries "error" instead). */
const SUBSCRIBED = '{"type":"reply","id":1,"result"';
const OPEN_TIMEOUT_MS = 30_000;

const sockets: LeanSocket[] = [];
let closes = 0;
let pings = 0;
let subscribed = 0;
let conns = 0;
let broadcasts = 0;
/** Per (broadcast, connection), at (b − 1) × conns + i: deliveries seen, and ms from send to the first. */
let hits = new Uint8Array(0);
let latency = new Float64Array(0);
/** Per broadcast: connections that have it. */
let have: number[] = [];

function onMessage(i: number, buf: Buffer, start: number, end: number): void {
  const b = numberIn(buf, start, end, N);
  if (!(b >= 1 && b <= broadcasts)) return;
  const k = (b - 1) * conns + i;
  if (hits[k]!++ !== 0) return;
  latency[k] = now() - numberIn(buf, start, end, T);
  if (++have[b]! === subscribed) process.send?.({ ev: 'complete', b });
}

/**
 * Local ports are named (see `LeanSocket.open`: the kernel's own pick slows down as ports
 * fill), from below the ephemeral range 32768–60999 so that no other socket takes them.
 */
const FIRST_LOCAL_PORT = 10_000;
const LAST_LOCAL_PORT = 32_767;
let nextLocalPort = FIRST_LOCAL_PORT;
/** Errors that mean "this local port is taken" (a listener, or a 4-tuple still in TIME_WAIT): another port is tried. */
const PORT_TAKEN = /EADDRINUSE|EADDRNOTAVAIL/;

type Opened = { ok: true } | { ok: false; why: string };

/** Opens connection i to `port`; resolves once subscribed, or with why it failed. */
function open(i: number, port: number, channel: string, localAddress: string): Promise<Opened> {
  if (nextLocalPort > LAST_LOCAL_PORT) return Promise.resolve({ ok: false, why: 'out of local ports' });
  const local = { address: localAddress, port: nextLocalPort++ };
  return new Promise((resolve) => {
    let state: 'opening' | 'subscribed' | 'failed' = 'opening';
    let socket: LeanSocket | undefined;
    const fail = (why: string): void => {
      if (state !== 'opening') return;
      state = 'failed';
      clearTimeout(timer);
      socket?.destroy(); // a late subscribe must not make it a receiver after all
      resolve({ ok: false, why });
    };
    const timer = setTimeout(() => fail('no subscribe answer within 30 s'), OPEN_TIMEOUT_MS);
    LeanSocket.open(
      '127.0.0.1',
      port,
      faces.switchyard.path,
      {
        frame(buf, start, end) {
          if (end - start >= MESSAGE.length && buf.compare(MESSAGE, 0, MESSAGE.length, start, start + MESSAGE.length) === 0) {
            if (state === 'subscribed') onMessage(i, buf, start, end);
          } else if (state === 'opening' && buf.toString('latin1', start, end).startsWith(SUBSCRIBED)) {
            state = 'subscribed';
            clearTimeout(timer);
            resolve({ ok: true });
          }
        },
        close() {
          if (state === 'subscribed') closes++;
          else fail('closed before subscribing');
        },
        ping() {
          pings++;
        },
      },
      local,
    ).then(
      (ws) => {
        socket = ws;
        sockets.push(ws);
        if (state === 'failed') ws.destroy();
        else ws.send(`{"type":"subscribe","id":1,"channel":${JSON.stringify(channel)}}`);
      },
      (err: Error) => fail(err.message),
    );
  });
}

interface ConnectCmd {
  readonly ports: number[];
  readonly count: number;
  /** Index of this worker's first connection over all workers: spreads every worker's share evenly over the gateways. */
  readonly offset: number;
  readonly channel: string;
  readonly localAddress: string;
  readonly broadcasts: number;
  /** Connections being opened at once. */
  readonly lanes: number;
}

async function connect(m: ConnectCmd): Promise<object> {
  conns = m.count;
  broadcasts = m.broadcasts;
  hits = new Uint8Array(conns * broadcasts);
  latency = new Float64Array(conns * broadcasts);
  have = new Array<number>(broadcasts + 1).fill(0);
  const perPort = new Array<number>(m.ports.length).fill(0);
  let failed = 0;
  let firstError: string | undefined;
  const lane = async (first: number): Promise<void> => {
    for (let i = first; i < m.count; i += m.lanes) {
      const g = (m.offset + i) % m.ports.length;
      let r = await open(i, m.ports[g]!, m.channel, m.localAddress);
      for (let tries = 1; !r.ok && PORT_TAKEN.test(r.why) && tries < 10; tries++) r = await open(i, m.ports[g]!, m.channel, m.localAddress);
      if (r.ok) {
        perPort[g]!++;
        subscribed++;
      } else {
        failed++;
        firstError ??= r.why;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(m.lanes, m.count) }, (_, k) => lane(k)));
  return { ev: 'ready', perPort, subscribed, failed, firstError };
}

function report(b: number): object {
  const latencies: number[] = [];
  let missing = 0;
  let duplicated = 0;
  for (let i = 0; i < conns; i++) {
    const k = (b - 1) * conns + i;
    const n = hits[k]!;
    if (n === 0) missing++;
    else {
      latencies.push(latency[k]!);
      duplicated += n - 1;
    }
  }
  // Connections that never subscribed cannot receive: they are counted as failed, not missing.
  return { ev: 'report', b, latencies, missing: missing - (conns - subscribed), duplicated };
}

process.on('message', (m: { cmd: string; [k: string]: unknown }) => {
  if (m.cmd === 'connect') {
    connect(m as unknown as ConnectCmd).then(
      (r) => process.send?.(r),
      (err: Error) => process.send?.({ ev: 'error', message: err.message }),
    );
  } else if (m.cmd === 'stats') process.send?.({ ev: 'stats', closes, pings, open: subscribed - closes });
  else if (m.cmd === 'report') process.send?.(report(m.b as number));
  else if (m.cmd === 'close') {
    for (const ws of sockets) ws.destroy();
    process.exit(0);
  }
});
// Orphaned (the coordinator died): do not hold 15,000 sockets open.
process.on('disconnect', () => process.exit(0));
process.send?.({ ev: 'started' });
