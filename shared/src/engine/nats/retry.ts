import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Pause between attempts, ms. */
  readonly everyMs: number;
  /** Ends the loop: no attempt starts once it is aborted, and a pending pause ends at once. */
  readonly stop: AbortSignal;
  /**
   * Hears of failures: the first, then every `reportEvery`th (so a loop retrying 4×/s for
   * minutes logs a line every 5 s rather than four).
   */
  readonly onFailure?: (err: unknown, attempt: number) => void;
  /** Default 20. */
  readonly reportEvery?: number;
}

/**
 * Runs `fn` until it resolves, pausing `everyMs` after each failure. Resolves with its value,
 * or with `undefined` once `stop` is aborted (before an attempt, or during a pause). Never
 * rejects: the engine's retry loops all wait for something that comes back (a server, a
 * stream, a stored message), and stop only when the engine or the channel goes away.
 */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T | undefined> {
  const every = o.reportEvery ?? 20;
  for (let attempt = 0; ; attempt++) {
    if (o.stop.aborted) return undefined;
    try {
      return await fn();
    } catch (err) {
      if (o.stop.aborted) return undefined;
      if (attempt % every === 0) o.onFailure?.(err, attempt);
    }
    try {
      await sleep(o.everyMs, undefined, { signal: o.stop });
    } catch {
      // aborted during the pause: the check at the top of the loop ends it
    }
  }
}
