/**
 * The ceiling: a minimal uWebSockets.js pub/sub server with a tiny JSON envelope and nothing
 * else (no auth, no sequence numbers, no history). Frames:
 *   {"s":"<channel>"}            subscribe
 *   {"p":"<channel>","d":<json>} publish → every subscriber gets {"c":"<channel>","d":<json>}
 *   {"e":<any>}                  echo (lets a client know its earlier frames were handled)
 * Prints `PORT <n>` once listening. Run: node --import tsx loadtest/src/baseline.ts [port]
 */
import { App, us_socket_local_port } from 'uWebSockets.js';

const app = App().ws('/*', {
  compression: 0,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 120,
  message: (ws, data) => {
    const text = Buffer.from(data).toString('utf8');
    const f = JSON.parse(text) as { s?: string; p?: string; d?: unknown; e?: unknown };
    if (f.s !== undefined) ws.subscribe(f.s);
    else if (f.p !== undefined) app.publish(f.p, `{"c":${JSON.stringify(f.p)},"d":${JSON.stringify(f.d)}}`, false);
    else if (f.e !== undefined) ws.send(text, false);
  },
});
app.listen('127.0.0.1', Number(process.argv[2] ?? 0), (ls) => {
  if (!ls) {
    console.error('cannot listen');
    process.exit(1);
  }
  console.log(`PORT ${us_socket_local_port(ls)}`);
});
