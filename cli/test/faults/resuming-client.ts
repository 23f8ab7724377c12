import WebSocket from 'ws';
import { Client, withDeadline } from '../helpers.js';
import { delay } from './clock.js';
import { other, type FaultCluster, type Slot } from './cluster.js';
import type { Delivered, ResumeProtocol } from './protocols.js';
import { BACKOFF_MS, DEAD_AFTER_MS, OPEN_TIMEOUT_MS, PING_EVERY_MS } from './settings.js';

/** A channel message as one client received it. */
export interface Received extends Delivered {
  readonly at: number;
  /** The gateway process that delivered it. */
  readonly proc: string;
}

/** One connection attempt: to which gateway, when it was subscribed (if it got that far), how it ended. */
export interface Session {
  readonly proc: string;
  readonly slot: Slot;
  readonly openedAt: number;
  /** The seq it resumed after. */
  after: number;
  subscribedAt?: number;
  endedAt?: number;
  why?: string;
}

/** Something the client saw that must not happen (a duplicate, a reorder, an unrecovered resume). */
export interface Violation {
  readonly at: number;
  readonly what: string;
}

/**
 * A client that stays subscribed to one channel through any fault: it connects to its home
 * gateway first; when a connection ends or cannot be made it waits (100 ms, doubling to
 * 500 ms while attempts fail) and tries the other gateway, resuming after the last seq it
 * received. It notices a silent (stopped) gateway by WebSocket pings: no pong nor frame for
 * DEAD_AFTER_MS and it drops the connection. It records every message and every session,
 * and notes violations as they happen; the suite judges them afterwards.
 */
export class ResumingClient {
  readonly received: Received[] = [];
  readonly sessions: Session[] = [];
  readonly violations: Violation[] = [];
  /** The highest seq received: where the next subscribe resumes. */
  lastSeq = 0;
  /** The highest counter received. */
  maxN = 0;
  /** Counter → when it first arrived. */
  private readonly firstAt = new Map<number, number>();
  private live: { readonly c: Client; readonly s: Session } | undefined;
  private goHome = false;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly home: Slot,
    private readonly proto: ResumeProtocol,
    private readonly cluster: FaultCluster,
  ) {}

  get kind(): ResumeProtocol['kind'] {
    return this.proto.kind;
  }

  /** The session that is subscribed now, if any. */
  get current(): Session | undefined {
    const s = this.live?.s;
    return s?.subscribedAt !== undefined && s.endedAt === undefined ? s : undefined;
  }

  /** When counter `n` arrived first. */
  arrival(n: number): number | undefined {
    return this.firstAt.get(n);
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.live?.c.ws.terminate();
    await this.loop;
  }

  /** Moves back to the home gateway (a normal close and a resume there), if elsewhere now. */
  rehome(): void {
    const cur = this.live;
    if (cur === undefined || cur.s.slot === this.home) return;
    this.goHome = true;
    cur.s.why = 'moved home';
    cur.c.ws.close(1000, 'moving home');
  }

  private async run(): Promise<void> {
    let slot = this.home;
    let wait: number = BACKOFF_MS[0];
    while (!this.stopped) {
      const proc = this.cluster.gateways[slot];
      const subscribed = proc !== undefined && (await this.session(proc.name, proc.port, slot));
      if (this.stopped) return;
      if (subscribed) wait = BACKOFF_MS[0];
      slot = this.goHome ? this.home : other(slot);
      this.goHome = false;
      // Jittered, so clients that lost one gateway together do not arrive at the other in step.
      await delay(wait * (0.75 + Math.random() / 2));
      if (!subscribed) wait = Math.min(wait * 2, BACKOFF_MS[1]);
    }
  }

  /** One connection: resolves when it ends, with whether it got subscribed. */
  private async session(proc: string, port: number, slot: Slot): Promise<boolean> {
    const s: Session = { proc, slot, openedAt: Date.now(), after: this.lastSeq };
    this.sessions.push(s);
    const c = new Client(`ws://127.0.0.1:${port}${this.proto.path}`);
    this.live = { c, s };
    c.ws.on('error', () => {
      // every failure also ends in 'close', where the session records why
    });
    c.ws.on('close', (code, reason) => (s.why ??= `closed ${code}${reason.length > 0 ? ` ${reason.toString()}` : ''}`));
    let alive = Date.now();
    c.ws.on('pong', () => (alive = Date.now()));
    let tick = Date.now();
    const beat = setInterval(() => {
      const now = Date.now();
      // Our own event loop stalled (a busy box): that is no verdict on the server.
      if (now - tick > PING_EVERY_MS + 250) alive = now;
      tick = now;
      if (c.ws.readyState !== WebSocket.OPEN) return;
      if (now - alive > DEAD_AFTER_MS) {
        s.why ??= `no pong for ${DEAD_AFTER_MS} ms`;
        c.ws.terminate();
      } else c.ws.ping();
    }, PING_EVERY_MS);
    try {
      await withDeadline(c.opened, OPEN_TIMEOUT_MS, 'no WebSocket handshake');
      alive = Date.now();
      const problems = await this.proto.subscribe(c, s.after);
      s.subscribedAt = Date.now();
      for (const what of problems) this.violate(what);
      for (;;) {
        const f = await c.nextWhere(() => true, 3_600_000);
        alive = Date.now();
        const m = this.proto.message(f);
        if (m !== undefined) this.receive(m, proc);
        else this.violate(`unexpected frame from ${proc}: ${JSON.stringify(f).slice(0, 200)}`);
      }
    } catch (err) {
      s.why ??= err instanceof Error ? err.message : String(err);
    } finally {
      clearInterval(beat);
      if (c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
      s.endedAt = Date.now();
      this.live = undefined;
    }
    return s.subscribedAt !== undefined;
  }

  private receive(m: Delivered, proc: string): void {
    const at = Date.now();
    if (!Number.isInteger(m.seq) || !Number.isInteger(m.n)) this.violate(`malformed message ${JSON.stringify(m)} from ${proc}`);
    else {
      if (m.seq <= this.lastSeq) this.violate(`seq ${m.seq} (counter ${m.n}) after seq ${this.lastSeq}, from ${proc}`);
      if (this.firstAt.has(m.n)) this.violate(`counter ${m.n} a second time (seq ${m.seq}), from ${proc}`);
      else this.firstAt.set(m.n, at);
      this.lastSeq = Math.max(this.lastSeq, m.seq);
      this.maxN = Math.max(this.maxN, m.n);
    }
    this.received.push({ ...m, at, proc });
  }

  private violate(what: string): void {
    this.violations.push({ at: Date.now(), what: `${this.name}: ${what}` });
  }
}
