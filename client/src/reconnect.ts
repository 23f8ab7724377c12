/** What a close code means for reconnecting (docs/protocol.md#close-codes). */
export type Policy = 'terminal' | 'now' | 'backoff';

/** The close-code policy of docs/protocol.md#close-codes. */
export function closePolicy(code: number): Policy {
  if (code === 1000 || (code >= 4000 && code <= 4099)) return 'terminal';
  if (code === 1012 || code === 4101) return 'now';
  return 'backoff';
}

export const DEFAULTS = {
  reconnectBaseMs: 500,
  reconnectMaxMs: 20_000,
  restartJitterMs: 1000,
  backoffResetMs: 5000,
  connectTimeoutMs: 10_000,
  commandTimeoutMs: 10_000,
  pingIntervalMs: 25_000,
  pingTimeoutMs: 10_000,
};
export type Settings = typeof DEFAULTS;

/** setTimeout's limit; a token expiry further away is not enforced by the server either. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Token refresh: at two thirds of the remaining life or this long before expiry, whichever is later. */
export const REFRESH_LEAD_MS = 60_000;
/** ...and never sooner than this after the previous auth (a client clock far ahead would otherwise loop). */
export const MIN_REFRESH_MS = 1000;

/**
 * How long to wait before reconnecting after a close of `policy` ('now' or 'backoff'), the
 * `attempt`-th in a row: 'now' (the node is going away, or the token ran out: nothing is
 * overloaded) comes back at once, jittered so that a node's clients do not all arrive
 * together; 'backoff' waits with full jitter, uniform in [0, min(max, base·2^attempt)].
 */
export function reconnectDelay(policy: Exclude<Policy, 'terminal'>, attempt: number, s: Settings, random: () => number = Math.random): number {
  const ceiling = policy === 'now' ? s.restartJitterMs : Math.min(s.reconnectMaxMs, s.reconnectBaseMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}

/**
 * When to re-authenticate a token with `remainingMs` left: at two thirds of its remaining
 * life or REFRESH_LEAD_MS before expiry, whichever is later, never sooner than
 * MIN_REFRESH_MS; undefined when it already expired by our clock (the server's 4101 will
 * tell) or is too far for a timer.
 */
export function refreshDelay(remainingMs: number): number | undefined {
  if (remainingMs <= 0) return undefined;
  const delay = Math.max(MIN_REFRESH_MS, remainingMs - REFRESH_LEAD_MS, (remainingMs * 2) / 3);
  return delay > MAX_TIMER_MS ? undefined : delay;
}
