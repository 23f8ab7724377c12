import { rssKb } from './server.js';

/** How long one `/healthz` may take before it counts as not answering, ms (generous: the box has 2 cores and the fuzzer runs on them too). */
const HEALTH_DEADLINE_MS = 5000;

/**
 * Polls `GET /healthz` every `everyMs` (one request at a time) and samples the server's RSS,
 * until stopped. Every answer must be 200 within HEALTH_DEADLINE_MS.
 */
export class Monitor {
  polls = 0;
  readonly failures: string[] = [];
  slowestMs = 0;
  peakRssKb = 0;
  /** RSS samples, kB, one per poll. */
  readonly rssSamples: number[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly base: string,
    private readonly pid: number,
    private readonly everyMs = 100,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const t0 = Date.now();
      try {
        const res = await fetch(`${this.base}/healthz`, { signal: AbortSignal.timeout(HEALTH_DEADLINE_MS) });
        const text = await res.text();
        if (res.status !== 200) this.failures.push(`healthz answered ${res.status} ${text.slice(0, 200)} at ${new Date(t0).toISOString()}`);
      } catch (err) {
        this.failures.push(`healthz did not answer within ${HEALTH_DEADLINE_MS} ms at ${new Date(t0).toISOString()}: ${(err as Error).message}`);
      }
      this.polls++;
      this.slowestMs = Math.max(this.slowestMs, Date.now() - t0);
      try {
        const kb = rssKb(this.pid);
        this.rssSamples.push(kb);
        this.peakRssKb = Math.max(this.peakRssKb, kb);
      } catch {
        // The process is gone: the exit check of the test reports it.
      }
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }

  /** `n` RSS samples evenly spread over the run, MB: how memory went (a plateau, or a climb). */
  rssTrendMb(n = 10): string[] {
    const xs = this.rssSamples;
    if (xs.length === 0) return [];
    return Array.from({ length: n }, (_, i) => (xs[Math.round((i * (xs.length - 1)) / (n - 1))]! / 1024).toFixed(0));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** The server's `/metrics` text. */
export async function readMetrics(base: string): Promise<string> {
  return (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(HEALTH_DEADLINE_MS) })).text();
}

/** The `code` label → value of a counter (e.g. switchyard_errors_total), nonzero ones only. */
export function countersByCode(metrics: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of metrics.matchAll(new RegExp(`^${name}\\{[^}]*code="([^"]+)"[^}]*\\} (\\d+)$`, 'gm'))) {
    if (Number(m[2]) > 0) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The value of an unlabelled series (but for `role`), NaN when absent. */
export function gauge(metrics: string, name: string): number {
  const m = new RegExp(`^${name}\\{role="[^"]*"\\} (\\S+)$`, 'm').exec(metrics);
  return m === null ? NaN : Number(m[1]);
}
