import { ErrorCode, ProtocolError } from '../codes.js';
import type { Message } from '../model/message.js';
import type { NamespaceOptions } from '../model/tenant.js';
import type { Published } from './engine.js';

/**
 * Idempotent publishes (docs/control-api.md#idempotent-publishes): the key rule, the window
 * both engines apply, and the single-node memory of keys. The cluster engine leaves the
 * memory to JetStream (`Nats-Msg-Id` and the stream's duplicate window).
 */

/** Keys: 1-128 characters that are safe in headers, logs and NATS ids (UUIDs, ULIDs, base64). */
export const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9_.:=+/-]{1,128}$/;

/** The key, or `bad_request` naming `what` (the header or the field) when it breaks the rule. */
export function checkIdempotencyKey(key: unknown, what: string): string {
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_RE.test(key)) {
    throw new ProtocolError(ErrorCode.BadRequest, `${what} must be 1-128 characters of A-Z a-z 0-9 _ . : = + / -`);
  }
  return key;
}

/**
 * The window of a channel's keys, ms: the tenant's `idempotencyWindowSeconds`, shortened to
 * the namespace's `historyTtlSeconds` where that keeps history and is shorter (JetStream
 * refuses a duplicate window longer than the stream's max age). Both engines use it.
 */
export function idempotencyWindowMs(windowSeconds: number, ns: NamespaceOptions): number {
  const ttl = ns.history > 0 ? ns.historyTtlSeconds : 0;
  return (ttl > 0 ? Math.min(windowSeconds, ttl) : windowSeconds) * 1000;
}

/** The default bound of `IdempotencyMap`: keys remembered by one node at once. */
export const DEFAULT_MAX_IDEMPOTENCY_KEYS = 100_000;

/** What is kept of a first publish: its seq and time, never its payload (up to `--max-payload`). */
interface Remembered {
  readonly expires: number;
  readonly result: Promise<{ readonly seq: number; readonly time: number }>;
}

/**
 * Keys of one node's publishes → the promise of the first publish's seq and time. A repeat,
 * or a race with the first, gets them, with its own data, marked `duplicate`. A first
 * publish that fails is forgotten, so a retry publishes.
 *
 * Bounded by count (`max`): at the bound the oldest key is forgotten before its window ends
 * (counted in `evicted`), so a flood of distinct keys costs at most `max` entries. Expired
 * keys go as new ones arrive (from the oldest while they are expired) and on `sweep`.
 */
export class IdempotencyMap {
  private readonly entries = new Map<string, Remembered>();
  /** Keys forgotten before their window ended, because the map was full. */
  evicted = 0;

  constructor(
    private readonly max: number = DEFAULT_MAX_IDEMPOTENCY_KEYS,
    private readonly now: () => number = Date.now,
  ) {
    if (!(max >= 1)) throw new RangeError('max must be at least 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `publish` unless `scope` (channel and key) was seen within its window; a duplicate
   * answers with `data` (the repeat's own). Never throws.
   */
  run(scope: string, windowMs: number, data: string, publish: () => Promise<Message>): Promise<Published> {
    const now = this.now();
    const seen = this.entries.get(scope);
    if (seen !== undefined) {
      if (seen.expires > now) return seen.result.then(({ seq, time }) => ({ seq, time, data, duplicate: true }));
      this.entries.delete(scope);
    }
    this.prune(now);
    while (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evicted++;
    }
    let result: Promise<Message>;
    try {
      result = publish();
    } catch (err) {
      return Promise.reject(err);
    }
    const entry: Remembered = { expires: now + windowMs, result: result.then((m) => ({ seq: m.seq, time: m.time })) };
    this.entries.set(scope, entry);
    entry.result.catch(() => {
      // The caller gets the rejection from `result` itself; here the key is only released.
      if (this.entries.get(scope) === entry) this.entries.delete(scope);
    });
    return result;
  }

  /** Drops expired keys from the oldest on, stopping at the first live one (amortized O(1)). */
  private prune(now: number): void {
    for (const [scope, e] of this.entries) {
      if (e.expires > now) return;
      this.entries.delete(scope);
    }
  }

  /** Drops every expired key (windows differ by tenant, so insertion order is not expiry order). */
  sweep(now = this.now()): void {
    for (const [scope, e] of this.entries) if (e.expires <= now) this.entries.delete(scope);
  }
}
