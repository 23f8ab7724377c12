/** How long `eventually` and `withDeadline` wait by default, ms. */
export const DEFAULT_DEADLINE_MS = 5000;

/**
 * Polls `check` until it returns a value other than `undefined`/`false` (or stops throwing),
 * at most `timeoutMs`; then fails with `what` and the last error. For states that have no
 * event to wait on (a metric, a presence list on another node); anything that has an event
 * should await the event instead.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  what: string,
  { timeoutMs = DEFAULT_DEADLINE_MS, everyMs = 20 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`not true within ${timeoutMs} ms: ${what}${why}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `p`, or a rejection naming `what` after `ms`. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
