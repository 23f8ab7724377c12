import { createLogger, createMetrics, EmbeddedEngine, Publisher, type Engine, type Metrics, type TenantRegistry } from '@switchyard/shared';
import { testTenants } from '@switchyard/testkit';
import type { Dialect, DialectContext, UpgradeInfo } from '../src/core/dialect.js';
import { FaceTable } from '../src/core/face.js';
import { Hub } from '../src/core/hub.js';
import { Outbox } from '../src/core/outbox.js';
import { CommandRunner } from '../src/core/runner.js';
import { SendResult, Session, type Conn, type TopicBus } from '../src/core/session.js';
import { createDialects } from '../src/dialects/index.js';

/**
 * uWS pub/sub without uWS, as the core relies on it: a frame published to a topic is queued
 * for the topic's subscribers of that moment; a connection's queue is written before anything
 * sent to it directly, when it reaches 32 frames, and at `drain` (the end of a turn).
 */
export class FakeTopicBus implements TopicBus {
  private readonly topics = new Map<string, Set<FakeConn>>();
  private readonly waiting = new Set<FakeConn>();
  published = 0;

  publish(topic: string, frame: Uint8Array, binary: boolean): void {
    this.published++;
    const subs = this.topics.get(topic);
    if (subs === undefined) return;
    for (const c of subs) {
      c.queued.push({ frame, binary });
      this.waiting.add(c);
      if (c.queued.length === 32) c.drainTopics();
    }
  }

  subscribe(c: FakeConn, topic: string): void {
    let subs = this.topics.get(topic);
    if (subs === undefined) this.topics.set(topic, (subs = new Set()));
    subs.add(c);
  }

  unsubscribe(c: FakeConn, topic: string): void {
    const subs = this.topics.get(topic);
    subs?.delete(c);
    if (subs?.size === 0) this.topics.delete(topic);
  }

  /** The topics `c` is subscribed to. */
  topicsOf(c: FakeConn): string[] {
    return [...this.topics].filter(([, subs]) => subs.has(c)).map(([t]) => t);
  }

  /** What uWS does after each turn: every queued topic frame is written. */
  drain(): void {
    for (const c of this.waiting) c.drainTopics();
    this.waiting.clear();
  }
}

/**
 * A socket as the core sees it, with no socket behind it: frames are recorded, and the send
 * buffer is a number the test sets (to play a slow consumer).
 */
export class FakeConn implements Conn {
  readonly sent: { frame: Uint8Array | string; binary: boolean }[] = [];
  /** Topic frames not yet written (see FakeTopicBus). */
  readonly queued: { frame: Uint8Array | string; binary: boolean }[] = [];
  /** Bytes "buffered": above 0 every send reports backpressure. */
  buffered = 0;
  /** Sends beyond this many bytes buffered are dropped, as uWS does past maxBackpressure. */
  dropAbove = Infinity;
  corks = 0;
  ended: { code: number; reason: string } | undefined;

  constructor(private readonly bus: FakeTopicBus | undefined = undefined) {}

  send(frame: Uint8Array | string, binary: boolean): number {
    if (this.ended !== undefined) return SendResult.Dropped;
    this.drainTopics();
    return this.write(frame, binary);
  }

  private write(frame: Uint8Array | string, binary: boolean): number {
    if (this.buffered > this.dropAbove) return SendResult.Dropped;
    this.sent.push({ frame, binary });
    if (this.buffered === 0) return SendResult.Success;
    this.buffered += typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
    return SendResult.Backpressure;
  }

  /** Writes the queued topic frames (uWS does before a direct send and after each turn). */
  drainTopics(): void {
    for (const q of this.queued.splice(0)) this.write(q.frame, q.binary);
  }

  bufferedAmount(): number {
    return this.buffered;
  }

  cork(fn: () => void): void {
    this.corks++;
    fn();
  }

  subscribe(topic: string): void {
    if (this.ended === undefined) this.bus?.subscribe(this, topic);
  }

  unsubscribe(topic: string): void {
    if (this.ended === undefined) this.bus?.unsubscribe(this, topic);
  }

  /** As uWS: the connection leaves its topics, and topic frames not yet written are never written. */
  end(code: number, reason: string): void {
    if (this.ended !== undefined) return;
    this.queued.length = 0;
    for (const t of this.bus?.topicsOf(this) ?? []) this.bus?.unsubscribe(this, t);
    this.ended = { code, reason };
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
  readonly faces: FaceTable;
  readonly runner: CommandRunner;
  /** Flushed by `Client.take` (and nothing else): a test sees exactly what one flush writes. */
  readonly outbox: Outbox;
  readonly bus: FakeTopicBus;
  /** Ends the turn as production does: the topic frames and the outbox are written, then due sweeps run. */
  endTurn(): void;
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
  /** Ends the turn (`Core.endTurn`), then the frames received since the last call. */
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
  /** Instead of a FakeTopicBus (whose FakeConns then get no topic frames). */
  readonly bus?: TopicBus;
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
  const bus = new FakeTopicBus();
  const topics = o.bus ?? bus;
  const maxBufferedBytes = o.maxBufferedBytes ?? 1 << 20;
  // Sweeps run by the test (`endTurn`), not on the next turn.
  const hub = new Hub(engine, faces, topics, { maxSubscriptions: o.maxSubscriptions ?? 1000, maxBufferedBytes }, metrics.stats, log, () => {});
  const ctx: DialectContext = { nodeId: 'n1', tenants, hub, faces, engine, publisher, log, metrics, publicUrl: () => 'http://control.test' };
  const dialects = new Map(createDialects(ctx, { hookIdleTimeoutSeconds: 60 }).map((d) => [d.name, d]));
  // Flushed by the test (`take`, `settle`), not by a timer: what a client has is then exact.
  const outbox = new Outbox(maxBufferedBytes, hub.markSlow, () => {});
  const endTurn = (): void => {
    bus.drain();
    outbox.flush();
    hub.sweep.runDue();
  };
  const runner = new CommandRunner(hub, publisher, metrics, log, { maxPayload: o.maxPayload ?? 64 * 1024, maxQueued: o.maxQueued ?? 256, authTimeoutMs: 0 });
  return {
    engine,
    hub,
    faces,
    runner,
    outbox,
    bus,
    endTurn,
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
      const conn = new FakeConn(bus);
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
          endTurn();
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

