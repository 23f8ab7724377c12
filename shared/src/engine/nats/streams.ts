import { RetentionPolicy, StorageType, DiscardPolicy, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import type { NamespaceOptions, TenantRegistry } from '../../model/tenant.js';
import type { Subjects } from './subjects.js';
import { idempotencyWindowMs } from '../idempotency.js';

/** One stream per tenant namespace that keeps history. */
export interface StreamPlan {
  readonly name: string;
  readonly config: Partial<StreamConfig> & { name: string };
}

export function planStreams(tenants: TenantRegistry, subjects: Subjects, replicas: number): StreamPlan[] {
  const plans: StreamPlan[] = [];
  for (const t of tenants.tenants.values()) {
    const namespaces: [string, NamespaceOptions][] = [['', t.defaultNamespace], ...t.namespaces];
    for (const [ns, opts] of namespaces) {
      if (opts.history === 0) continue;
      const s = subjects.streamSubjects(t.id, ns);
      const name = subjects.stream(t.id, ns);
      const maxAge = opts.historyTtlSeconds * 1_000_000_000;
      plans.push({
        name,
        config: {
          name,
          subjects: [s.history],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          discard: DiscardPolicy.Old,
          num_replicas: replicas,
          max_msgs_per_subject: opts.history,
          max_age: maxAge,
          // How long a publish's Nats-Msg-Id (its idempotency key) is remembered: the tenant's
          // window, at most max_age (the server refuses a longer one).
          duplicate_window: idempotencyWindowMs(t.idempotencyWindowSeconds, opts) * 1_000_000,
          // The server itself relays each stored message, with its sequence and the previous
          // sequence of the same subject, to the live subject gateways listen on.
          republish: { src: s.history, dest: s.live },
        },
      });
    }
  }
  return plans;
}

/** Creates missing streams and updates changed ones. Idempotent; run by the control API. */
export async function ensureStreams(jsm: JetStreamManager, plans: readonly StreamPlan[], log: Logger): Promise<void> {
  for (const p of plans) {
    const existing = await jsm.streams.info(p.name).catch(() => undefined);
    if (existing === undefined) {
      await jsm.streams.add(p.config);
      log.info({ stream: p.name }, 'stream created');
      continue;
    }
    const c = existing.config;
    const want = p.config;
    if (
      c.max_msgs_per_subject !== want.max_msgs_per_subject ||
      c.max_age !== want.max_age ||
      c.duplicate_window !== want.duplicate_window ||
      c.republish?.dest !== want.republish?.dest ||
      c.subjects.join() !== (want.subjects ?? []).join()
    ) {
      await jsm.streams.update(p.name, { ...c, ...want } as StreamConfig);
      log.info({ stream: p.name }, 'stream updated');
    }
  }
}

/**
 * The streams of one engine: their plan, and each one's epoch once `prepare` has run. An
 * epoch names one run of a stream's sequence space (`<name>@<created>`): a stream deleted and
 * created again starts its seqs afresh under a new epoch, which tells clients resuming by seq.
 */
export class Streams {
  private readonly epochs = new Map<string, string>();

  constructor(
    private readonly plans: readonly StreamPlan[],
    private readonly subjects: Subjects,
    /** Create or update the streams (the control API), rather than only wait for them (gateways). */
    private readonly manage: boolean,
    private readonly log: Logger,
  ) {}

  get count(): number {
    return this.plans.length;
  }

  /** Creates or checks every stream, and learns each one's epoch. Throws while any is missing. */
  async prepare(jsm: JetStreamManager): Promise<void> {
    if (this.manage) await ensureStreams(jsm, this.plans, this.log);
    for (const p of this.plans) {
      const info = await jsm.streams.info(p.name);
      this.epochs.set(p.name, `${p.name}@${info.created}`);
    }
  }

  /** The stream holding the channel's history. */
  of(ch: ChannelRef): string {
    return this.subjects.stream(ch.tenant, ch.namespace);
  }

  /** The epoch of the channel's stream ('' before `prepare` has learned it). */
  epochOf(ch: ChannelRef): string {
    return this.epochs.get(this.of(ch)) ?? '';
  }
}
