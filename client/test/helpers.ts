import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TENANTS, withDeadline } from '@switchyard/testkit';
import { listeningPort, run, type Run } from '../../cli/test/cli-process.js';
export { freePort, tenantsFile } from '../../cli/test/cli-process.js';
export { Balancer } from '../../cli/test/tcp-balancer.js';
import { delay } from '../../cli/test/faults/clock.js';
import { SteadyPublisher as FaultsPublisher } from '../../cli/test/faults/publisher.js';
import type { Message, SubscribedInfo, Subscription, SwitchyardError } from '@switchyard/client';

export { delay };

export const BACKEND = { authorization: 'Bearer demo-backend-secret', 'content-type': 'application/json' };

/** A `switchyard dev` process (the built dist, as users run it), on loopback. */
export interface Dev {
  readonly run: Run;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `ws://127.0.0.1:<port>/v1/ws?tenant=<tenant>` */
  ws(tenant?: string): string;
}

/** Starts `switchyard dev --port <port> --tenants <file> …` (port 0: any free one) and waits until it listens. */
export async function startDev(t: TestContext, file: string, port = 0, extra: readonly string[] = []): Promise<Dev> {
  const r = run(t, ['dev', '--host', '127.0.0.1', '--port', String(port), '--tenants', file, ...extra]);
  const actual = await listeningPort(r);
  const url = `http://127.0.0.1:${actual}`;
  return { run: r, port: actual, url, ws: (tenant = 'demo') => `ws://127.0.0.1:${actual}/v1/ws?tenant=${tenant}` };
}

/** SIGKILLs a process and waits for its exit. */
export async function kill(r: Run): Promise<void> {
  r.child.kill('SIGKILL');
  await withDeadline(r.exit, 10_000, 'no exit after SIGKILL');
}

/** Mints a native token through `POST /v1/tokens` as the demo tenant's backend does. */
export async function mintToken(base: string, body: { user?: string; ttl?: number; channels?: string[]; info?: unknown } = {}): Promise<string> {
  const res = await fetch(`${base}/v1/tokens`, { method: 'POST', headers: BACKEND, body: JSON.stringify({ tenant: 'demo', ...body }) });
  const json = (await res.json()) as { token?: string };
  if (res.status !== 200 || typeof json.token !== 'string') throw new Error(`POST /v1/tokens: ${res.status} ${JSON.stringify(json)}`);
  return json.token;
}

/** Publishes through `POST /v1/publish` as the demo backend; resolves with the seq. */
export async function restPublish(base: string, channel: string, data: unknown): Promise<number> {
  const res = await fetch(`${base}/v1/publish`, { method: 'POST', headers: BACKEND, body: JSON.stringify({ tenant: 'demo', channel, data }) });
  const json = (await res.json()) as { seq?: number };
  if (res.status !== 200 || typeof json.seq !== 'number') throw new Error(`POST /v1/publish: ${res.status} ${JSON.stringify(json)}`);
  return json.seq;
}

/** Everything one subscription reported, for assertions. */
export class Recorder<T = unknown> {
  readonly messages: Message<T>[] = [];
  readonly subscribed: SubscribedInfo[] = [];
  readonly errors: SwitchyardError[] = [];
  /** How many messages had arrived at each `subscribed` event: `messages.slice(at[i])` came after the i-th (re)subscribe. */
  readonly at: number[] = [];

  constructor(sub: Subscription<T>) {
    sub.on('message', (m) => this.messages.push(m));
    sub.on('subscribed', (i) => {
      this.subscribed.push(i);
      this.at.push(this.messages.length);
    });
    sub.on('error', (e) => this.errors.push(e));
  }

  get seqs(): number[] {
    return this.messages.map((m) => m.seq);
  }
}

/** A publish the steady publisher got an answer to. */
export interface Ack {
  readonly n: number;
  readonly seq: number;
  /**
   * When it was sent. Split a kill by this, not by the answer's time: a publish sent before a
   * server is killed and answered 200 was stored by that server, even when its answer is
   * read after the kill.
   */
  readonly at: number;
}

/**
 * A backend publishing `{ n }` (n = 1, 2, 3, … one per attempt, never reused) to one channel
 * through the control API at `base()`, one request at a time at `perSecond`, going on through
 * failures: the faults suite's publisher, seen as the acknowledged publishes in order.
 */
export class SteadyPublisher {
  private readonly inner: FaultsPublisher;

  constructor(base: () => string, channel: string, perSecond: number) {
    this.inner = new FaultsPublisher(() => ({ name: 'control', url: base() }), channel, perSecond);
  }

  start(): this {
    this.inner.start();
    return this;
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  /** The publishes answered 200, in order, with the time each was sent. */
  get acked(): Ack[] {
    return [...this.inner.acked.values()].map((a) => ({ n: a.n, seq: a.seq as number, at: a.sentAt }));
  }

  /** Publishes attempted. */
  get attempts(): number {
    return this.inner.attempts.length;
  }
}

/**
 * Judges what a client received (messages with `data.n`) against acknowledged publishes:
 * every acknowledged counter exactly once and with the seq it was acknowledged with, no
 * counter twice, counters in increasing order. Returns the problems (empty: clean).
 */
export function deliveryProblems(received: readonly Message<{ n: number }>[], acked: readonly Ack[]): string[] {
  const problems: string[] = [];
  const seen = new Map<number, number>();
  let prevN = 0;
  for (const m of received) {
    const n = m.data.n;
    if (seen.has(n)) problems.push(`counter ${n} delivered twice`);
    else if (n <= prevN) problems.push(`counter ${n} after ${prevN}`);
    seen.set(n, m.seq);
    prevN = Math.max(prevN, n);
  }
  for (const a of acked) {
    const seq = seen.get(a.n);
    if (seq === undefined) problems.push(`acknowledged counter ${a.n} (seq ${a.seq}) never delivered`);
    else if (seq !== a.seq) problems.push(`counter ${a.n} delivered with seq ${seq}, acknowledged with ${a.seq}`);
  }
  return problems.slice(0, 10);
}

