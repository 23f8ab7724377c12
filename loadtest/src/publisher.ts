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
  const ws = new WebSocket(face.url(m.port as number), { perMessageDeflate: false });
  const counts: Record<string, number> = Object.fromEntries(channels.map((c) => [c, 0]));
  ws.once('open', () => {
    const start = now();
    let sent = 0;
    // Ticks of 10 ms, each catching up to where the rate says we should be.
    const timer = setInterval(() => {
      const due = Math.min(Math.floor(((now() - start) / 1000) * rate), Math.floor((durationMs / 1000) * rate));
      while (sent < due) {
        const ch = channels[sent % channels.length] as string;
        const n = ++counts[ch]!;
        ws.send(face.publish(ch, `{"n":${n},"t":${now().toFixed(3)},"pad":"${pad}"}`));
        sent++;
      }
      if (now() - start >= durationMs) {
        clearInterval(timer);
        process.send?.({ ev: 'done', published: counts, sent });
      }
    }, 10);
  });
  ws.once('error', (err) => process.send?.({ ev: 'error', message: err.message }));
});
process.send?.({ ev: 'started' });
