import { createHash } from 'node:crypto';
import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import type { TenantRegistry } from '../../model/tenant.js';
import type { PresenceChange, PresenceFeed, PresenceFeedEvent, PresenceFeedPage } from '../engine.js';
import type { BrokerConnection } from './connection.js';
import { errorText, unavailable } from './errors.js';
import type { StreamPlan } from './streams.js';
import type { Subjects } from './subjects.js';

/** How long the feed keeps a change, and how many it keeps at most (all tenants). */
export const PRESENCE_FEED_MAX_AGE_S = 24 * 3600;
export const PRESENCE_FEED_MAX_MSGS = 1_000_000;
/** The stream's duplicate window: control APIs storing the same change within it store it once. */
export const PRESENCE_FEED_DUPLICATE_WINDOW_S = 120;

/** The feed's stream, when some tenant has a `joinLeave` namespace (the control API creates it). */
export function planPresenceStream(tenants: TenantRegistry, subjects: Subjects, replicas: number): StreamPlan | undefined {
  const any = [...tenants.tenants.values()].some((t) => t.defaultNamespace.joinLeave === true || [...t.namespaces.values()].some((o) => o.joinLeave === true));
  if (!any) return undefined;
  const name = subjects.presenceStream;
  return {
    name,
    config: {
      name,
      subjects: [`${subjects.prefix}.pf.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      max_msgs: PRESENCE_FEED_MAX_MSGS,
      max_age: PRESENCE_FEED_MAX_AGE_S * 1_000_000_000,
      duplicate_window: PRESENCE_FEED_DUPLICATE_WINDOW_S * 1_000_000_000,
    },
  };
}

/**
 * The presence change feed in a cluster: the stream `P_PRESENCE`, subjects
 * `P.pf.<tenant>.<channel token>`, each message `{"type","channel","conn","user"?,"info"?}`.
 * Written by the control API processes (each one that sees a change stores it, with a
 * `Nats-Msg-Id` naming the change, so JetStream keeps it once), read by a filtered ordered
 * consumer per request.
 */
export class NatsPresenceFeed implements PresenceFeed {
  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly log: Logger,
  ) {}

  /** Stores one change; failures are logged (the feed is at most once when NATS fails). */
  write(ch: ChannelRef, c: PresenceChange): void {
    const e = c.entry;
    const body = JSON.stringify({ type: c.type, channel: ch.name, conn: e.conn, ...(e.user !== undefined ? { user: e.user } : {}), ...(c.type === 'join' && e.info !== undefined ? { info: e.info } : {}) });
    // The same change from several control APIs (or a dead node's leave from each) gets the same id.
    const msgID = createHash('sha256').update(`${ch.key}\n${e.conn}\n${c.type}\n${c.ann ?? 0}`).digest('base64url');
    try {
      this.conn
        .js()
        .publish(this.subjects.presenceFeed(ch), body, { msgID })
        .catch((err: unknown) => this.log.warn({ err: errorText(err), channel: ch.key }, 'presence feed write failed'));
    } catch (err) {
      this.log.warn({ err: errorText(err), channel: ch.key }, 'presence feed write failed');
    }
  }

  async read(tenant: string, after: number, waitMs: number, limit: number): Promise<PresenceFeedPage> {
    const events: PresenceFeedEvent[] = [];
    try {
      const consumer = await this.conn.js().consumers.get(this.subjects.presenceStream, {
        filter_subjects: this.subjects.presenceFeedOf(tenant),
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, after + 1),
      });
      try {
        // nats.js wants expires ≥ 1 s: a read with nothing to return takes at least that.
        let m: JsMsg | null = await consumer.next({ expires: Math.max(1000, waitMs) });
        while (m !== null) {
          const ev = feedEvent(m);
          if (ev !== undefined) events.push(ev);
          if (events.length >= limit || m.info.pending === 0) break;
          m = await consumer.next({ expires: 1000 });
        }
      } finally {
        await consumer.delete().catch(() => {
          // an ordered consumer is ephemeral: the server removes it when inactive anyway
        });
      }
    } catch (err) {
      throw unavailable(this.log, err, 'presence feed read failed', { tenant });
    }
    return { events, last: events.length > 0 ? (events[events.length - 1] as PresenceFeedEvent).seq : Math.max(0, after) };
  }
}

function feedEvent(m: JsMsg): PresenceFeedEvent | undefined {
  try {
    const b = m.json<{ type: 'join' | 'leave'; channel: string; conn: string; user?: string; info?: unknown }>();
    return {
      seq: m.seq,
      time: Math.floor(m.info.timestampNanos / 1_000_000),
      type: b.type,
      channel: b.channel,
      conn: b.conn,
      ...(b.user !== undefined ? { user: b.user } : {}),
      ...(b.info !== undefined ? { info: b.info } : {}),
    };
  } catch {
    return undefined; // not one of ours (a backend publishing on the feed's subjects)
  }
}
