/**
 * The publishing worker: one connection, publishing round-robin over the channels, each
 * payload `{"n": per-channel counter, "t": send time, "pad": …}`. Driven over IPC. At a fixed
 * rate, or closed loop (`window`): as fast as the subscribers take the messages, with at most
 * `window` of them not yet received by every subscriber.
 */
import WebSocket from 'ws';
import { faces, now, type Kind } from './protocol.js';

process.on('message', (m: { cmd: string; [k: string]: unknown }) => {
  if (m.cmd !== 'publish') {
    if (m.cmd === 'close') close();
    return;
  }
  const face = faces[m.kind as Kind];
  const channels = m.channels as string[];
  const rate = m.rate as number;
  const durationMs = m.durationMs as number;
  const pad = 'x'.repeat(Math.max(0, (m.payloadBytes as number) - 40));
  const counts: Record<string, number> = Object.fromEntries(channels.map((c) => [c, 0]));
  // Through the control API's REST face (cluster mode), or over a WebSocket.
  const rest = m.restPort as number | undefined;
  const ws = rest === undefined ? new WebSocket(face.url(m.port as number), { perMessageDeflate: false }) : undefined;
  // The payload (with its send time) is made when the message really leaves.
  const send = (ch: string, payload: () => string): void => {
    if (ws !== undefined) {
      ws.send(face.publish(ch, payload()));
      return;
    }
    if (m.window !== undefined) {
      batched(ch, payload);
      return;
    }
    // One request at a time per channel: concurrent requests could be stored out of order.
    const prev = chains.get(ch) ?? Promise.resolve();
    const next = prev.then(() =>
      fetch(`http://127.0.0.1:${rest}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench-backend-secret' },
        body: `{"tenant":"bench","channel":${JSON.stringify(ch)},"data":${payload()}}`,
      }).then((r) => {
        void r.arrayBuffer();
      }),
    );
    chains.set(ch, next);
    pending = next;
  };
  const chains = new Map<string, Promise<void>>();
  let pending: Promise<void> = Promise.resolve();
  // Closed loop through REST: what the window allows goes in batches (POST /v1/publish with
  // `messages`, up to 100), one request at a time so the order holds; each request takes
  // whatever queued while the previous one was out, as a backend publishing at a high rate would.
  const queued: { ch: string; payload: () => string }[] = [];
  let inFlight = false;
  const batched = (ch: string, payload: () => string): void => {
    queued.push({ ch, payload });
    if (!inFlight) pending = nextBatch();
  };
  const nextBatch = async (): Promise<void> => {
    inFlight = true;
    while (queued.length > 0) {
      const batch = queued.splice(0, 100);
      const messages = batch.map((q) => `{"channel":${JSON.stringify(q.ch)},"data":${q.payload()}}`).join(',');
      const r = await fetch(`http://127.0.0.1:${rest}/v1/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer bench-backend-secret' },
        body: `{"tenant":"bench","messages":[${messages}]}`,
      });
      if (r.status !== 200) process.send?.({ ev: 'error', message: `publish answered ${r.status}: ${await r.text()}` });
      else await r.arrayBuffer();
    }
    inFlight = false;
  };
  const start_ = (fn: () => void): void => {
    if (ws !== undefined) ws.once('open', fn);
    else fn();
  };
  const payload = (n: number) => () => `{"n":${n},"t":${now().toFixed(3)},"pad":"${pad}"}`;
  const publishNext = (sent: number): void => {
    const ch = channels[sent % channels.length] as string;
    send(ch, payload(++counts[ch]!));
  };
  const finish = (sent: number): void => {
    // Report once every publish was answered (REST) or handed to the kernel (WebSocket), so
    // the counts are final and nothing is still in this process when it is told to close.
    void Promise.all([...chains.values(), pending, flushed()]).then(() => process.send?.({ ev: 'done', published: counts, sent }));
  };
  const flushed = async (): Promise<void> => {
    while (ws !== undefined && ws.bufferedAmount > 0) await new Promise((r) => setTimeout(r, 1));
  };
  socket = ws;
  const window = m.window as number | undefined;
  start_(() => {
    const start = now();
    let sent = 0;
    if (window !== undefined) {
      // Closed loop: at most `window` messages in flight, "in flight" meaning not yet received
      // by every subscriber of its channel (the coordinator relays that, as `acked`).
      let acked = 0;
      let over = false;
      const pump = (): void => {
        if (over) return;
        if (now() - start >= durationMs) {
          over = true;
          process.off('message', onAck);
          finish(sent);
          return;
        }
        while (sent - acked < window) publishNext(sent++);
      };
      const onAck = (a: { cmd: string; acked?: number }): void => {
        if (a.cmd !== 'acked') return;
        acked = a.acked as number;
        pump();
      };
      process.on('message', onAck);
      pump();
      return;
    }
    // Fixed rate: ticks of 10 ms, each catching up to where the rate says we should be.
    const timer = setInterval(() => {
      const due = Math.min(Math.floor(((now() - start) / 1000) * rate), Math.floor((durationMs / 1000) * rate));
      while (sent < due) publishNext(sent++);
      if (now() - start >= durationMs) {
        clearInterval(timer);
        finish(sent);
      }
    }, 10);
  });
  ws?.once('error', (err) => process.send?.({ ev: 'error', message: err.message }));
});
/** The publishing socket, closed with a handshake: exiting at once could cut frames still in flight. */
let socket: WebSocket | undefined;
function close(): void {
  const ws = socket;
  if (ws === undefined || ws.readyState !== WebSocket.OPEN) process.exit(0);
  setTimeout(() => process.exit(0), 2000).unref();
  ws.once('close', () => process.exit(0));
  ws.close();
}
process.send?.({ ev: 'started' });
