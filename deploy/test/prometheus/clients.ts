import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { signClientToken } from '@switchyard/shared';
import { withDeadline } from '@switchyard/testkit';

/** The answer to a native `subscribe`. */
export interface Subscribed {
  channel: string;
  last: number;
  recovered: boolean;
  epoch: string;
}

const TIMEOUT_MS = 5000;

/**
 * A native-protocol client (JSON, docs/protocol.md) of the `demo` tenant, authenticated as
 * `user`: commands with ids, answered in order; channel messages counted.
 */
export class NativeClient {
  /** Channel messages received. */
  messages = 0;
  /** The close code, once closed. */
  closeCode: number | undefined;
  readonly closed: Promise<number>;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code) => {
        this.closeCode = code;
        for (const p of this.pending.values()) p.reject(new Error(`connection closed (${code})`));
        this.pending.clear();
        resolve(code);
      });
    });
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw)) as { type: string; id?: number; result?: unknown; error?: { name: string } };
      if (f.type === 'message') this.messages++;
      else if (f.type === 'reply' && typeof f.id === 'number') {
        const p = this.pending.get(f.id);
        this.pending.delete(f.id);
        if (f.error !== undefined) p?.reject(new Error(`${f.error.name}`));
        else p?.resolve(f.result);
      }
    });
    ws.on('error', () => {
      // A failed connection also emits close, which is what callers wait on.
    });
  }

  /** Connects to `gatewayUrl` (http://…), waits for `hello` and authenticates. */
  static async open(gatewayUrl: string, user: string): Promise<NativeClient> {
    const ws = new WebSocket(`${gatewayUrl.replace(/^http/, 'ws')}/v1/ws?tenant=demo`);
    const hello = new Promise<void>((resolve, reject) => {
      ws.once('message', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    await withDeadline(hello, TIMEOUT_MS, 'no hello');
    const c = new NativeClient(ws);
    await c.command({ type: 'auth', token: signClientToken('demo-client-secret', { user }) });
    return c;
  }

  /** Sends a command and resolves with its result (rejects with the error name). */
  command<T = unknown>(cmd: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.ws.send(JSON.stringify({ ...cmd, id }));
    return withDeadline(answer, TIMEOUT_MS, `no answer to ${String(cmd.type)}`);
  }

  subscribe(channel: string, resume?: { after: number; epoch: string }): Promise<Subscribed> {
    return this.command<Subscribed>({ type: 'subscribe', channel, ...resume });
  }

  /** Sends a raw frame that expects no answer (e.g. one the server refuses). */
  sendRaw(frame: string): void {
    this.ws.send(frame);
  }

  /** Stops reading from the socket: the kernel's buffers fill, then the server's. */
  pause(): void {
    (this.ws as unknown as { _socket: Socket })._socket.pause();
  }

  resume(): void {
    (this.ws as unknown as { _socket: Socket })._socket.resume();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }
}

/** A WSaaS client (docs/dialects/wsaas.md): the gateway POSTs to the backend to admit it. */
export async function openHookClient(gatewayUrl: string, tenant: string): Promise<WebSocket> {
  const ws = new WebSocket(`${gatewayUrl.replace(/^http/, 'ws')}/hook/metrics-test?tenant=${tenant}`);
  ws.on('error', () => {
    // reported through the open promise below, or ends in close
  });
  await withDeadline(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('close', (code) => reject(new Error(`closed (${code}) before opening`)));
    }),
    TIMEOUT_MS,
    'WSaaS client did not open',
  );
  return ws;
}
