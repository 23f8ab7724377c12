/**
 * Time in the faults suite: every event is stamped with `Date.now()` and reported in seconds
 * since the harness started.
 */

/**
 * Waits `ms`. Only for what is itself about time (a steady publish rate, a fault held for a
 * while, a backoff); states with an event or a condition are awaited with `eventually`.
 */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** `ms` as seconds with two decimals, e.g. `0.42 s`; `—` when absent. */
export const secs = (ms: number | undefined): string => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);

/** A point in time as seconds since `t0`, e.g. `12.3`. */
export const at = (t: number, t0: number): string => ((t - t0) / 1000).toFixed(1);
