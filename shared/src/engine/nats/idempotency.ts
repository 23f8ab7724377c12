import { createHash } from 'node:crypto';
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
 * (per-key TTLs need nats-server 2.11): the first `create` of a key wins atomically on every
 * replica; the others read the winner's publish time from it.
 */

/** The `Nats-Msg-Id` of a keyed publish: the channel and key, hashed into one header-safe token. */
export function msgId(ch: ChannelRef, key: string): string {
  return createHash('sha256').update(`${ch.name}\n${key}`).digest('base64url');
}

export class KvIdempotency {
  private readonly buckets = new Map<string, Promise<KV>>();

  constructor(
    private readonly conn: () => NatsConnection,
    private readonly prefix: string,
    private readonly replicas = 1,
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

  /**
   * Claims the key for a publish at `time`: undefined when this call is the first within the
   * window (publish now), else the first claim's time (publish nothing). Throws raw NATS errors.
   */
  async claim(ch: ChannelRef, idem: IdempotencyKey, time: number): Promise<number | undefined> {
    const kv = await this.kv(ch.tenant, idem.windowMs);
    const k = msgId(ch, idem.key);
    try {
      await kv.create(k, String(time));
      return undefined;
    } catch (err) {
      // Lost the race, or the key is still held: the holder's entry says when it published.
      const e = await kv.get(k);
      if (e === null || e.operation !== 'PUT') throw err;
      const first = Number(e.string());
      return Number.isFinite(first) && first > 0 ? first : time;
    }
  }

  /** Gives a claimed key back (its publish failed), so that a retry publishes. Throws raw NATS errors. */
  async release(ch: ChannelRef, idem: IdempotencyKey): Promise<void> {
    const kv = await this.kv(ch.tenant, idem.windowMs);
    await kv.delete(msgId(ch, idem.key));
  }
}
