import { delay } from './clock.js';
import type { Proc } from './cluster.js';
import { PROBE_EVERY_MS, PROBE_TIMEOUT_MS } from './settings.js';

/**
 * What one `GET /readyz` got: the HTTP status, or why there was none — `timeout` (no answer
 * in PROBE_TIMEOUT_MS: a stopped process), `refused` (nothing listens), `error` (any other
 * failure, e.g. a connection reset by a dying process).
 */
export type Outcome = number | 'timeout' | 'refused' | 'error';

export interface Probe {
  readonly proc: string;
  /** When the request was sent and when its outcome was known. */
  readonly start: number;
  readonly end: number;
  readonly outcome: Outcome;
}

export const isReady = (p: Probe): boolean => p.outcome === 200;

/**
 * Asks every process of the cluster for `/readyz` every PROBE_EVERY_MS, one request at a time
 * per process, from its start until it exits, and keeps every answer: the timeline the
 * suite judges `/readyz` by.
 */
export class ReadyzProber {
  readonly probes: Probe[] = [];
  private readonly latestOf = new Map<string, Probe>();
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  watch(p: Proc): void {
    let exited = false;
    void p.run.exit.then(() => (exited = true));
    this.loops.push(
      (async () => {
        while (!this.stopped && !exited) {
          const start = Date.now();
          const outcome = await probe(p.url);
          const pr: Probe = { proc: p.name, start, end: Date.now(), outcome };
          this.probes.push(pr);
          this.latestOf.set(p.name, pr);
          await delay(start + PROBE_EVERY_MS - Date.now());
        }
      })(),
    );
  }

  /** The last probe of `proc` that started at or after `since`. */
  latest(proc: string, since = 0): Probe | undefined {
    const p = this.latestOf.get(proc);
    return p !== undefined && p.start >= since ? p : undefined;
  }

  /** The probes of `proc` that started in [from, to). */
  of(proc: string, from = 0, to = Infinity): Probe[] {
    return this.probes.filter((p) => p.proc === proc && p.start >= from && p.start < to);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

async function probe(url: string): Promise<Outcome> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout';
    const code = (err as { cause?: { code?: string } }).cause?.code;
    return code === 'ECONNREFUSED' ? 'refused' : 'error';
  }
}
