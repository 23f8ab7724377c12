import type { TestContext } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { withDeadline } from '@switchyard/testkit';

// A fake SERVER speaking just enough of the native protocol (hello, auth, subscribe, publish,
// ping replies) for the client's close-code policy and delivery rule: it closes with any code
// on cue and sends whatever frames a test scripts, which a real server never would
// (duplicates, a changed epoch mid-connection). Everything else is tested against real
// `switchyard` processes.

type Frame = Record<string, any>;

export interface FakeBehavior {
  /** The hello's `auth`. Default `required`. */
  auth: 'required' | 'optional';
  /** The auth reply: a result, or `{ error }`. Default `{ conn, user: 'u' }`. */
  onAuth(token: string, c: FakeConn): Frame;
  /** The subscribe reply. Default `{ channel, last: 0, recovered: true, epoch: 'e1' }`. */
  onSubscribe(f: Frame, c: FakeConn): Frame;
  /** Whether publish gets an answer `{ seq, time }`. Default true. */
  answerPublish: boolean;
  /** Whether `ping` gets an answer. Default true. */
  answerPing: boolean;
  /** Called after an accepted auth (e.g. to close at once). */
  afterAuth(c: FakeConn): void;
  /** Whether the connection gets a hello. Default true. */
  sayHello(c: FakeConn): boolean;
}

/** One accepted connection: the frames it sent, and controls. */
export class FakeConn {
  readonly frames: Frame[] = [];
  readonly openedAt = Date.now();
  closedAt: number | undefined;
  private waiters: (() => void)[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly index: number,
  ) {
    ws.on('close', () => {
      this.closedAt = Date.now();
      this.wake();
    });
  }

  get conn(): string {
    return `fake:${this.index}`;
  }

  received(f: Frame): void {
    this.frames.push(f);
    this.wake();
  }

  send(f: Frame): void {
    this.ws.send(JSON.stringify(f));
  }

  reply(f: Frame, result: Frame): void {
    this.send(result.error !== undefined ? { type: 'reply', id: f.id, error: result.error } : { type: 'reply', id: f.id, result });
  }

  close(code: number, reason = ''): void {
    this.ws.close(code, reason);
  }

  /** The first frame (received so far or later) matching `pred`. */
  async next(pred: (f: Frame) => boolean, ms = 3000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.frames.find(pred);
      if (f !== undefined) return f;
      if (Date.now() > deadline) throw new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(this.frames).slice(0, 300)}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export class FakeServer {
  readonly conns: FakeConn[] = [];
  readonly url: string;
  private waiters: (() => void)[] = [];
  private seq = 0;

  private constructor(
    private readonly wss: WebSocketServer,
    readonly b: FakeBehavior,
  ) {
    const port = (wss.address() as { port: number }).port;
    this.url = `ws://127.0.0.1:${port}/v1/ws?tenant=demo`;
    wss.on('connection', (ws) => this.accept(ws));
  }

  static async start(t: TestContext, behavior: Partial<FakeBehavior> = {}): Promise<FakeServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (protocols) => [...protocols][0] ?? false });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const s = new FakeServer(wss, {
      auth: 'required',
      onAuth: (_token, c) => ({ conn: c.conn, user: 'u' }),
      onSubscribe: (f) => ({ channel: f.channel, last: 0, recovered: true, epoch: 'e1' }),
      answerPublish: true,
      answerPing: true,
      afterAuth: () => {},
      sayHello: () => true,
      ...behavior,
    });
    t.after(() => s.close());
    return s;
  }

  /** Connection number `i` (0-based), waiting for it to arrive. */
  async conn(i: number, ms = 5000): Promise<FakeConn> {
    const deadline = Date.now() + ms;
    while (this.conns[i] === undefined) {
      if (Date.now() > deadline) throw new Error(`connection #${i} did not arrive within ${ms} ms (${this.conns.length} so far)`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    return this.conns[i]!;
  }

  private accept(ws: WebSocket): void {
    const c = new FakeConn(ws, this.conns.length);
    this.conns.push(c);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    if (this.b.sayHello(c)) ws.send(JSON.stringify({ type: 'hello', version: 1, conn: c.conn, node: 'fake', auth: this.b.auth }));
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      c.received(f);
      switch (f.type) {
        case 'auth': {
          const r = this.b.onAuth(f.token, c);
          c.reply(f, r);
          if (r.error === undefined) this.b.afterAuth(c);
          break;
        }
        case 'subscribe':
          c.reply(f, this.b.onSubscribe(f, c));
          break;
        case 'unsubscribe':
          c.reply(f, {});
          break;
        case 'publish':
          if (this.b.answerPublish) c.reply(f, { seq: ++this.seq, time: Date.now() });
          break;
        case 'ping':
          if (this.b.answerPing) c.reply(f, {});
          break;
      }
    });
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await withDeadline(new Promise<void>((r) => this.wss.close(() => r())), 5000, 'fake server did not close');
  }
}
