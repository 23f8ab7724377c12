import { createLogger, createMetrics, EmbeddedEngine, Publisher, type Engine, type Metrics, type TenantRegistry } from '@switchyard/shared';
import { testTenants } from '@switchyard/testkit';
import type { Dialect, DialectContext, UpgradeInfo } from '../src/core/dialect.js';
import { FaceTable } from '../src/core/face.js';
import { Hub } from '../src/core/hub.js';
import { Outbox } from '../src/core/outbox.js';
import { CommandRunner } from '../src/core/runner.js';
import { SendResult, Session, type Conn } from '../src/core/session.js';
import { createDialects } from '../src/dialects/index.js';

/**
 * A socket as the core sees it, with no socket behind it: frames are recorded, and the send
 * buffer is a number the test sets (to play a slow consumer).
 */
export class FakeConn implements Conn {
  readonly sent: { frame: Uint8Array | string; binary: boolean }[] = [];
  /** Bytes "buffered": above 0 every send reports backpressure. */
  buffered = 0;
  /** Sends beyond this many bytes buffered are dropped, as uWS does past maxBackpressure. */
  dropAbove = Infinity;
  corks = 0;
  ended: { code: number; reason: string } | undefined;

  send(frame: Uint8Array | string, binary: boolean): number {
    if (this.ended !== undefined) return SendResult.Dropped;
    if (this.buffered > this.dropAbove) return SendResult.Dropped;
    this.sent.push({ frame, binary });
    if (this.buffered === 0) return SendResult.Success;
    this.buffered += typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
    return SendResult.Backpressure;
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  cork(fn: () => void): void {
    this.corks++;
    fn();
  }

  end(code: number, reason: string): void {
    this.ended ??= { code, reason };
  }

  /** Text frames as strings, binary ones as bytes; then forgets them. */
  take(): (string | Uint8Array)[] {
    const out = this.sent.map((f) => (typeof f.frame === 'string' ? f.frame : f.binary ? f.frame : Buffer.from(f.frame).toString('utf8')));
    this.sent.length = 0;
    return out;
  }
}

export interface Core {
  readonly engine: Engine;
  readonly hub: Hub;
  readonly runner: CommandRunner;
  /** Flushed by `Client.take` (and nothing else): a test sees exactly what one flush writes. */
  readonly outbox: Outbox;
  readonly metrics: Metrics;
  readonly tenants: TenantRegistry;
  readonly dialects: ReadonlyMap<string, Dialect>;
  /** Admits and opens a connection of `dialect` at `path` (query included), as the transport would. */
  connect(dialect: string, path: string, o?: { protocols?: string[]; authorization?: string; conn?: Conn }): Promise<Client>;
}

export interface Client {
  readonly s: Session;
  readonly conn: FakeConn;
  /** Sends a frame (an object is sent as JSON text) and waits until the core is done with it. */
  send(frame: unknown, binary?: boolean): Promise<void>;
  /** Flushes the outbox, then the frames received since the last call. */
  take(): (string | Uint8Array)[];
  close(): void;
}

export interface CoreOptions {
  readonly engine?: Engine;
  readonly tenants?: TenantRegistry;
  readonly maxSubscriptions?: number;
  readonly maxBufferedBytes?: number;
  readonly maxPayload?: number;
  readonly maxQueued?: number;
}

/** Lets every pending promise callback and timer of this turn run. */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The gateway core (hub, runner, every dialect) on an embedded engine, without uWS. */
export function startCore(o: CoreOptions = {}): Core {
  const engine = o.engine ?? new EmbeddedEngine();
  const tenants = o.tenants ?? testTenants();
  const metrics = createMetrics('test', { processMetrics: false });
  const log = createLogger('silent');
  const publisher = new Publisher(engine, metrics, o.maxPayload ?? 64 * 1024);
  const faces = new FaceTable();
  const hub = new Hub(engine, faces, { maxSubscriptions: o.maxSubscriptions ?? 1000 }, metrics.stats, log);
  const ctx: DialectContext = { nodeId: 'n1', tenants, hub, faces, engine, publisher, log, publicUrl: () => 'http://control.test' };
  const dialects = new Map(createDialects(ctx, { hookIdleTimeoutSeconds: 60 }).map((d) => [d.name, d]));
  // Flushed by the test (`take`, `settle`), not by a timer: what a client has is then exact.
  const outbox = new Outbox(o.maxBufferedBytes ?? 1 << 20, hub.markSlow, () => {});
  const runner = new CommandRunner(hub, publisher, metrics, log, { maxPayload: o.maxPayload ?? 64 * 1024, maxQueued: o.maxQueued ?? 256 });
  return {
    engine,
    hub,
    runner,
    outbox,
    metrics,
    tenants,
    dialects,
    async connect(name, path, co = {}) {
      const d = dialects.get(name);
      if (d === undefined) throw new Error(`no dialect ${name}`);
      const q = path.indexOf('?');
      const u: UpgradeInfo = {
        path,
        query: new URLSearchParams(q < 0 ? '' : path.slice(q + 1)),
        protocols: co.protocols ?? [],
        authorization: co.authorization ?? '',
      };
      const a = await d.admit(u);
      const conn = new FakeConn();
      const s = new Session('n1', co.conn ?? conn, a.tenant, d, a.face, outbox, a.connId, a.state);
      runner.open(s);
      await settle();
      return {
        s,
        conn,
        async send(frame, binary = false) {
          const bytes = typeof frame === 'string' ? Buffer.from(frame) : frame instanceof Uint8Array ? frame : Buffer.from(JSON.stringify(frame));
          const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
          runner.frame(s, ab, binary);
          await settle();
        },
        take() {
          outbox.flush();
          return conn.take();
        },
        close() {
          conn.end(1000, '');
          runner.closed(s);
        },
      };
    },
  };
}

