import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { ChannelRef } from '../../model/channel.js';
import type { IdempotencyKey } from '../engine.js';

/**
 * Idempotency keys in a cluster. A channel with history relies on JetStream itself: the
 * publish carries `Nats-Msg-Id` = `msgId(channel, key)`, and the stream's duplicate window
 * (streams.ts) makes the server store the first and acknowledge every repeat, racing or not,
 * with `duplicate: true` and the first one's seq.
 *
 * A channel without history has no stream, so its keys are claimed in a KV bucket per tenant
 * and window, `<PREFIX>_IDEM_<tenant>_<window seconds>`, whose bucket-level TTL is the window
 * (per-key TTLs need nats-server 2.11). A claim is a value `{"t","id","done"}`:
 *
 * - the first `create` of a key wins atomically on every replica; its holder publishes, then
 *   marks the claim `done` (compare-and-set on its revision);
 * - a request that finds a `done` claim answers it as a duplicate (the holder's time);
 * - one that finds a claim in progress waits for it (racing retries all answer the one
 *   publish), up to `waitMs`, then fails as unavailable;
 * - a claim left in progress for `staleMs` was abandoned (its holder failed before it
 *   published, or died): the next request takes it over (compare-and-set) and publishes.
 *   Without that, a `create` that was stored but whose answer was lost (a timeout while
 *   JetStream elects a leader) would hold the key forever, and every retry would be told
 *   "duplicate" of a message never published.
 */

/** The `Nats-Msg-Id` of a keyed publish: the channel and key, hashed into one header-safe token. */
export function msgId(ch: ChannelRef, key: string): string {
  return createHash('sha256').update(`${ch.name}\n${key}`).digest('base64url');
}

/** A key's claim, as stored. */
interface ClaimValue {
  /** When its holder published (ms). */
  readonly t: number;
  /** The holding request. */
  readonly id: string;
  /** Published: repeats are duplicates. */
  readonly done: boolean;
}

/** What `claim` decided: publish (then `done` or `release`), or a duplicate of the first one's time. */
export type Claim =
  | { readonly first: number }
  | { readonly first?: undefined; done(): Promise<void>; release(): Promise<void> };

export interface ClaimTimings {
  /** A claim still in progress after this long was abandoned, ms. */
  readonly staleMs: number;
  /** How long a request waits for a claim in progress, ms. */
  readonly waitMs: number;
  /** How often it looks while waiting, ms. */
  readonly pollMs: number;
}

export const CLAIM_DEFAULTS: ClaimTimings = Object.freeze({ staleMs: 10_000, waitMs: 5000, pollMs: 25 });

export class KvIdempotency {
  private readonly buckets = new Map<string, Promise<KV>>();

  constructor(
    private readonly conn: () => NatsConnection,
    private readonly prefix: string,
    private readonly replicas = 1,
    private readonly t: ClaimTimings = CLAIM_DEFAULTS,
  ) {}

  bucketName(tenant: string, windowMs: number): string {
    // Tenant ids are stream-name safe; the window ends the name, so a changed window gets a
    // bucket of its own (an existing bucket keeps the TTL it was created with).
    return `${this.prefix.toUpperCase()}_IDEM_${tenant}_${Math.ceil(windowMs / 1000)}`;
  }

  private kv(tenant: string, windowMs: number): Promise<KV> {
    const name = this.bucketName(tenant, windowMs);
    let kv = this.buckets.get(name);
    if (kv === undefined) {
      // create() opens the bucket when it exists already.
      kv = new Kvm(this.conn()).create(name, { history: 1, ttl: Math.ceil(windowMs / 1000) * 1000, replicas: this.replicas });
      kv.catch(() => this.buckets.delete(name));
      this.buckets.set(name, kv);
    }
    return kv;
  }

  /** Claims the key for a publish at `time` (see the class comment). Throws raw NATS errors, or an Error when a claim in progress outlasts the wait. */
  async claim(ch: ChannelRef, idem: IdempotencyKey, time: number): Promise<Claim> {
    const kv = await this.kv(ch.tenant, idem.windowMs);
    const k = msgId(ch, idem.key);
    const id = randomBytes(9).toString('base64url');
    const mine = JSON.stringify({ t: time, id, done: false } satisfies ClaimValue);
    const held = (revision: number): Claim => ({
      done: async () => {
        await kv.update(k, JSON.stringify({ t: time, id, done: true } satisfies ClaimValue), revision);
      },
      release: () => kv.delete(k, { previousSeq: revision }),
    });
    let revision = await kv.create(k, mine).catch(() => undefined);
    const deadline = Date.now() + this.t.waitMs;
    for (;;) {
      if (revision !== undefined) return held(revision);
      const e = await kv.get(k);
      if (e === null || e.operation !== 'PUT') {
        // Released (or expired) meanwhile: claim it again.
        revision = await kv.create(k, mine).catch(() => undefined);
      } else {
        const v = claimValue(e.string());
        if (v.id === id) return held(e.revision); // our create was stored, its answer lost
        if (v.done) return { first: v.t };
        if (Date.now() - e.created.getTime() > this.t.staleMs) {
          revision = await kv.update(k, mine, e.revision).catch(() => undefined); // abandoned: take it over
        }
      }
      if (revision !== undefined) continue;
      if (Date.now() >= deadline) throw new Error('a publish with this key is still in progress');
      await sleep(this.t.pollMs);
    }
  }
}

/** A stored claim; a bare time (written before claims had states) is a finished one. */
function claimValue(raw: string): ClaimValue {
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v === 'number') return { t: v, id: '', done: true };
    const c = v as Partial<ClaimValue>;
    if (typeof c.t === 'number' && typeof c.id === 'string' && typeof c.done === 'boolean') return c as ClaimValue;
  } catch {
    // not ours: treated as finished, below
  }
  return { t: 0, id: '', done: true };
}
