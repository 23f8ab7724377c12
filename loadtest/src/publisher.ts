/**
 * The publishing worker: one connection, publishing round-robin over the channels at a fixed
 * rate, each payload `{"n": per-channel counter, "t": send time, "pad": …}`. Driven over IPC.
 */
import WebSocket from 'ws';
import { faces, now, type Kind } from './protocol.js';

process.on('message', (m: { cmd: string; [k: string]: unknown }) => {
  if (m.cmd !== 'publish') {
    if (m.cmd === 'close') process.exit(0);
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
  const start_ = (fn: () => void): void => {
    if (ws !== undefined) ws.once('open', fn);
    else fn();
  };
  start_(() => {
    const start = now();
    let sent = 0;
    // Ticks of 10 ms, each catching up to where the rate says we should be.
    const timer = setInterval(() => {
      const due = Math.min(Math.floor(((now() - start) / 1000) * rate), Math.floor((durationMs / 1000) * rate));
      while (sent < due) {
        const ch = channels[sent % channels.length] as string;
        const n = ++counts[ch]!;
        send(ch, () => `{"n":${n},"t":${now().toFixed(3)},"pad":"${pad}"}`);
        sent++;
      }
      if (now() - start >= durationMs) {
        clearInterval(timer);
        // Report once every publish was answered (REST), so the counts are final.
        void Promise.all([...chains.values(), pending]).then(() => process.send?.({ ev: 'done', published: counts, sent }));
      }
    }, 10);
  });
  ws?.once('error', (err) => process.send?.({ ev: 'error', message: err.message }));
});
process.send?.({ ev: 'started' });
