import { delay } from './clock.js';
import type { Proc } from './cluster.js';

/** One `POST /v1/publish`: its counter, when it was sent and answered, and what it got. */
export interface Attempt {
  /** The payload's counter: unique per attempt (a retry is a new attempt with the next counter). */
  readonly n: number;
  /** The control-API process it was sent to. */
  readonly proc: string;
  readonly sentAt: number;
  readonly doneAt: number;
  /** The HTTP status, or why there was none. */
  readonly status: number | 'timeout' | 'error';
  /** The seq a 200 reported. */
  readonly seq?: number;
}

const REQUEST_TIMEOUT_MS = 6000;

/**
 * A backend publishing `{n, sentAt}` to one channel through the control API at a fixed rate,
 * one request at a time (so the 200s it gets are in the order the messages were stored), and
 * "retrying" by going on: every attempt carries a new counter. That keeps the check exact
 * for a backend that sends no idempotency key (cli/test/nats-cluster.test.ts retries with
 * one): a publish that failed may still have been stored (a timeout, nats-server dying
 * after it stored the message), so a counter that was not acknowledged may arrive, once; an
 * acknowledged counter must arrive exactly once; no counter may arrive twice.
 */
export class SteadyPublisher {
  readonly attempts: Attempt[] = [];
  /** Counter → its attempt, for the acknowledged ones. */
  readonly acked = new Map<number, Attempt>();
  /** The highest acknowledged counter (0 before the first). */
  lastAcked = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    /** Where each publish goes (a control-API process; only its name and URL are used). */
    private readonly target: () => Pick<Proc, 'name' | 'url'>,
    private readonly channel: string,
    private readonly perSecond: number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** When the last acknowledged attempt was answered. */
  get lastAckAt(): number {
    return this.acked.get(this.lastAcked)?.doneAt ?? 0;
  }

  private async run(): Promise<void> {
    const every = 1000 / this.perSecond;
    let next = Date.now();
    for (let n = 1; !this.stopped; n++) {
      await delay(next - Date.now());
      // A slow answer delays what follows; it is not made up for with a burst.
      next = Math.max(next + every, Date.now());
      const a = await this.publish(n, this.target());
      this.attempts.push(a);
      if (a.status === 200) {
        this.acked.set(n, a);
        this.lastAcked = n;
      }
    }
  }

  private async publish(n: number, proc: Pick<Proc, 'name' | 'url'>): Promise<Attempt> {
    const sentAt = Date.now();
    const base = { n, proc: proc.name, sentAt };
    try {
      const res = await fetch(`${proc.url}/v1/publish`, {
        method: 'POST',
        headers: { authorization: 'Bearer demo-backend-secret', 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: 'demo', channel: this.channel, data: { n, sentAt } }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const body = (await res.json().catch(() => undefined)) as { seq?: unknown } | undefined;
      const done = { ...base, doneAt: Date.now(), status: res.status };
      // A 200 without a seq is still acknowledged; the delivery check then reports the seq as wrong.
      return typeof body?.seq === 'number' ? { ...done, seq: body.seq } : done;
    } catch (err) {
      const timeout = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      return { ...base, doneAt: Date.now(), status: timeout ? 'timeout' : 'error' };
    }
  }
}
