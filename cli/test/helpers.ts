import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { unpack } from 'msgpackr';
import { createLogger, type TenantRegistry } from '@switchyard/shared';
import { testTenants, withDeadline } from '@switchyard/testkit';
import { startServer, type RunningServer, type ServerOptions } from '../src/server.js';

export { TENANTS, withDeadline } from '@switchyard/testkit';
export const tenants = (): TenantRegistry => testTenants();

/** Starts a dev-role server on a free port, closed when the test ends. */
export async function startDev(t: TestContext, over: Partial<ServerOptions> = {}): Promise<RunningServer> {
  const server = await startServer({
    role: 'dev',
    host: '127.0.0.1',
    port: 0,
    nodeId: 'test',
    tenants: tenants(),
    log: createLogger('silent'),
    limits: { maxPayload: 64 * 1024, maxBufferedBytes: 1024 * 1024, maxSubscriptions: 1000, idleTimeoutSeconds: 120 },
    ...over,
  });
  t.after(() => server.close());
  return server;
}

export const wsUrl = (s: RunningServer, path: string): string => s.url.replace(/^http/, 'ws') + path;

export interface Closed {
  code: number;
  reason: string;
}

/**
 * A `ws` client that queues every frame it receives (JSON-parsed, or msgpack-decoded for
 * binary frames) so tests can await them in order, each wait with a deadline.
 */
export class Client {
  readonly ws: WebSocket;
  readonly frames: unknown[] = [];
  private waiters: (() => void)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<Closed>;

  constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    this.ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      this.frames.push(isBinary ? unpack(buf) : parseOrText(buf.toString('utf8')));
      this.wake();
    });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
    this.closed.catch(() => {});
    this.opened.catch(() => {});
  }

  static async open(url: string, protocols?: string | string[]): Promise<Client> {
    const c = new Client(url, protocols);
    await c.opened;
    return c;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame, waiting at most `ms`. */
  async next<T = any>(ms = 2000): Promise<T> {
    return this.nextWhere<T>(() => true, ms);
  }

  /** The first queued-or-future frame matching `pred` (earlier non-matching ones are dropped). */
  async nextWhere<T = any>(pred: (f: any) => boolean, ms = 2000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      while (this.frames.length > 0) {
        const f = this.frames.shift();
        if (pred(f)) return f as T;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('connection closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Collects `n` frames matching `pred`. */
  async take<T = any>(n: number, pred: (f: any) => boolean = () => true, ms = 5000): Promise<T[]> {
    const out: T[] = [];
    const deadline = Date.now() + ms;
    while (out.length < n) out.push(await this.nextWhere<T>(pred, Math.max(1, deadline - Date.now())));
    return out;
  }

  /** Resolves with the close code, or rejects after `ms`. */
  async closedWithin(ms = 2000): Promise<Closed> {
    return withDeadline(this.closed, ms, 'connection did not close');
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}


/** Opens a client and closes it when the test ends. */
export async function connect(t: TestContext, url: string, protocols?: string | string[]): Promise<Client> {
  const c = await Client.open(url, protocols);
  t.after(() => c.close());
  return c;
}

export async function http(
  s: RunningServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(s.url + path, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

export const backend = { authorization: 'Bearer demo-backend-secret' };

/** Publishes through the control API as the demo tenant's backend. */
export async function publish(s: RunningServer, channel: string, data: unknown, tenant = 'demo'): Promise<number> {
  const r = await http(s, 'POST', '/v1/publish', { tenant, channel, data }, tenant === 'demo' ? backend : { authorization: 'Bearer other-backend-secret' });
  if (r.status !== 200) throw new Error(`publish failed: ${r.status} ${r.text}`);
  return r.body.seq as number;
}

/** A text frame as JSON, or as the string itself when it is not JSON (WSaaS pushes any text). */
function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
