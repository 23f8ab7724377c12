/**
 * A lean WebSocket client for the load generator's subscribers: a plain TCP socket, the
 * upgrade by hand, and a frame parser that hands each text frame to the caller as a view
 * into the received chunk (no string, no copy, no event per frame). The `ws` client spends
 * several times the server's CPU per frame; with it, two subscriber processes saturate a
 * 2-core machine long before the server does. Not a general client: no extensions, no
 * fragmentation (neither server fragments small frames), frames it sends are masked with a
 * zero key (valid, and the servers under test do not care).
 */
import { connect as tcp, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface LeanHandlers {
  /** A text or binary frame: `buf[start, end)` is its payload, valid only during the call. */
  frame(buf: Buffer, start: number, end: number): void;
  close(): void;
  /** A ping arrived (it is answered before this is called). */
  ping?(): void;
}

export class LeanSocket {
  private pending: Buffer | undefined;
  private upgraded = false;

  private constructor(
    private readonly socket: Socket,
    private readonly on: LeanHandlers,
  ) {}

  /**
   * Connects to ws://host:port<path>; resolves once the server switched protocols.
   * `local` binds the client end (e.g. 127.0.0.2): one source address has only ~28,000
   * ephemeral ports, so tens of thousands of sockets need several. Name its port too when
   * opening thousands: the kernel's search for a free port to bind grows with the ports
   * already bound (measured here: 0.03 ms of system time per connect at 3,000 sockets,
   * 2.3 ms at 15,000); a named port costs nothing.
   */
  static open(host: string, port: number, path: string, on: LeanHandlers, local?: { address: string; port?: number }): Promise<LeanSocket> {
    return new Promise((resolve, reject) => {
      const socket = tcp({ host, port, noDelay: true, ...(local === undefined ? {} : { localAddress: local.address, localPort: local.port }) });
      const s = new LeanSocket(socket, on);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('data', (chunk: Buffer) => {
        if (s.upgraded) return s.read(chunk);
        const all = s.pending === undefined ? chunk : Buffer.concat([s.pending, chunk]);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          s.pending = all;
          return;
        }
        s.pending = undefined;
        if (!all.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
          reject(new Error(`upgrade refused: ${all.subarray(0, all.indexOf('\r\n')).toString('latin1')}`));
          socket.destroy();
          return;
        }
        s.upgraded = true;
        socket.off('error', reject);
        socket.on('error', () => {});
        resolve(s);
        if (all.length > end + 4) s.read(all.subarray(end + 4));
      });
      socket.once('close', () => on.close());
    });
  }

  /** Sends one text frame. */
  send(text: string): void {
    const payload = Buffer.from(text);
    const n = payload.length;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const out = Buffer.alloc(head + 4 + n); // the mask key: 4 zero bytes
    out[0] = 0x81;
    if (n < 126) out[1] = 0x80 | n;
    else if (n < 65536) {
      out[1] = 0x80 | 126;
      out.writeUInt16BE(n, 2);
    } else {
      out[1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(n), 2);
    }
    payload.copy(out, head + 4);
    this.socket.write(out);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let i = 0;
    while (i + 2 <= buf.length) {
      const opcode = (buf[i] as number) & 0x0f;
      let len = (buf[i + 1] as number) & 0x7f;
      let at = i + 2;
      if (len === 126) {
        if (at + 2 > buf.length) break;
        len = buf.readUInt16BE(at);
        at += 2;
      } else if (len === 127) {
        if (at + 8 > buf.length) break;
        len = Number(buf.readBigUInt64BE(at));
        at += 8;
      }
      if (at + len > buf.length) break;
      if (opcode === 1 || opcode === 2) this.on.frame(buf, at, at + len);
      else if (opcode === 9) {
        this.pong(buf.subarray(at, at + len));
        this.on.ping?.();
      } else if (opcode === 8) this.socket.end();
      i = at + len;
    }
    if (i < buf.length) this.pending = buf.subarray(i);
  }

  private pong(payload: Buffer): void {
    const out = Buffer.alloc(6 + payload.length);
    out[0] = 0x8a;
    out[1] = 0x80 | payload.length;
    payload.copy(out, 6);
    this.socket.write(out);
  }
}

/** The integer or decimal number after `"name":` inside `buf[start, end)`, NaN when absent. */
export function numberIn(buf: Buffer, start: number, end: number, key: Buffer): number {
  const i = buf.indexOf(key, start);
  if (i < 0 || i >= end) return NaN;
  let j = i + key.length;
  let v = 0;
  let neg = false;
  if (buf[j] === 0x2d) {
    neg = true;
    j++;
  }
  for (; j < end; j++) {
    const c = buf[j] as number;
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
  }
  if (buf[j] === 0x2e) {
    let scale = 0.1;
    for (j++; j < end; j++) {
      const c = buf[j] as number;
      if (c < 0x30 || c > 0x39) break;
      v += (c - 0x30) * scale;
      scale /= 10;
    }
  }
  return neg ? -v : v;
}
