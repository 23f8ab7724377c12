import WebSocket from 'ws';
import { unpack } from 'msgpackr';

/** How a wait for a frame ended. */
export type Wait = { kind: 'match'; frame: unknown } | { kind: 'closed' } | { kind: 'timeout' };

/** The close of a connection: by the server (with its code) or by the fuzzer. */
export interface Close {
  readonly code: number;
  readonly reason: string;
  readonly byServer: boolean;
}

/**
 * Frames kept for `waitFor`: answers to fuzz frames pile up between windows, and only the newest
 * matter. Far above what one window can bring in one tick (a few history replays of 100 messages).
 */
const QUEUE_LIMIT = 4096;

/**
 * One fuzz WebSocket connection. Incoming text frames are read as JSON (or kept as text),
 * binary ones as msgpack (or kept as bytes); a frame the server sends that the client library
 * itself refuses (invalid UTF-8 in a text frame, a bad header) is recorded in `protocolErrors`.
 */
export class FuzzConn {
  closed: Close | undefined;
  readonly protocolErrors: string[] = [];
  private readonly queue: unknown[] = [];
  private wake: (() => void) | undefined;
  private closing = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary) => {
      this.queue.push(decode(data, isBinary));
      if (this.queue.length > QUEUE_LIMIT) this.queue.shift();
      this.wake?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString(), byServer: !this.closing };
      this.wake?.();
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code?.startsWith('WS_ERR_') === true) this.protocolErrors.push(`${err.code}: ${err.message}`);
    });
  }

  /** Opens a connection; rejects with the HTTP status and body of a refused upgrade, or the handshake's error. */
  static open(url: string, protocols: string[] = [], headers: Record<string, string> = {}): Promise<FuzzConn> {
    const ws = new WebSocket(url, protocols, { handshakeTimeout: 10_000, headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new FuzzConn(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          req.destroy();
          reject(new UpgradeRefused(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
        });
      });
    });
  }

  get isOpen(): boolean {
    return this.closed === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  send(data: string | Uint8Array, binary: boolean): void {
    // After a close from the server, ws drops the frame (the callback hears why; nothing to do).
    this.ws.send(data, { binary }, () => {});
  }

  /** The first queued or future frame matching `pred` (earlier ones are dropped), the close, or a timeout. */
  async waitFor(pred: (f: unknown) => boolean, ms: number): Promise<Wait> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.queue.length > 0) {
        const f = this.queue.shift();
        if (pred(f)) return { kind: 'match', frame: f };
      }
      if (this.closed !== undefined) return { kind: 'closed' };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout' };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
      });
    }
  }

  /** Closes from the client side, waiting at most `ms` for the close to complete. */
  async close(ms = 2000): Promise<void> {
    if (this.closed !== undefined) return;
    this.closing = true;
    this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), ms);
    await new Promise<void>((r) => this.ws.once('close', () => r()));
    clearTimeout(timer);
  }
}

/** A refused upgrade: the HTTP status and body the server answered instead of 101. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused with HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = 'UpgradeRefused';
  }
}

function decode(data: Buffer, binary: boolean): unknown {
  try {
    return binary ? unpack(data) : JSON.parse(data.toString('utf8'));
  } catch {
    return binary ? data : data.toString('utf8');
  }
}
