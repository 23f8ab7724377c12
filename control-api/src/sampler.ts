import type { Logger, NodeSnapshot, StatsQuery } from '@switchyard/shared';

/**
 * The admin page's live figures: every `everyMs` the sampler gathers every node's snapshot
 * (one scatter-gather over NATS in a cluster, a function call on one node), keeps the
 * cluster's message rates in a ring, and remembers each node and the busiest channels of the
 * last gather. The page reads what the sampler holds, so any number of open pages cost one
 * gather per interval, and a page shows the last minutes at once when it opens.
 */

/** One chart point: the interval that ended at `t`, summed over the nodes that answered. */
export interface Sample {
  /** ms since the epoch (this process's clock). */
  readonly t: number;
  /** Messages published per second (REST, site /post and client publishes: `messages.in`). */
  readonly in: number;
  /** Message frames delivered to subscribers per second (`messages.out`). */
  readonly out: number;
  readonly connections: number;
  readonly subscriptions: number;
}

export type NodeStatus = 'ready' | 'not ready' | 'draining' | 'missing' | 'unknown';

/** A node as the page lists it. */
export interface NodeView {
  readonly node: string;
  readonly role: string;
  /** `missing`: it answered an earlier gather within `forgetMs` but not the last one. `unknown`: an older node that does not say. */
  readonly status: NodeStatus;
  /** When it last answered, ms since the epoch. */
  readonly lastSeen: number;
  /** Seconds since it started (undefined from an older node). */
  readonly uptime: number | undefined;
  readonly rss: number | undefined;
  readonly heapUsed: number | undefined;
  readonly pid: number | undefined;
  readonly host: string | undefined;
  readonly connections: number;
  readonly subscriptions: number;
  readonly channels: number;
  readonly dialects: Readonly<Record<string, number>>;
  /** Subscriptions by dialect. */
  readonly dialectSubscriptions: Readonly<Record<string, number>>;
  /** Its own rates over its last two answers (null when there is no recent earlier answer). */
  readonly inRate: number | null;
  readonly outRate: number | null;
  readonly messagesIn: number;
  readonly messagesOut: number;
}

/** A channel's load merged over the nodes that have subscribers on it. */
export interface ChannelView {
  readonly tenant: string;
  readonly channel: string;
  /** Subscribers on every node, summed. */
  readonly subscribers: number;
  /**
   * Messages per second the channel carries: every node with subscribers receives each of the
   * channel's messages, so this is the largest node rate, not their sum.
   */
  readonly rate: number;
  /** Deliveries per second: each node's rate times its subscribers, summed. */
  readonly deliveries: number;
  /** Nodes with subscribers on it. */
  readonly nodes: number;
}

export interface BusiestView {
  /** The longest rate window of the nodes merged, ms. */
  readonly windowMs: number;
  readonly channels: readonly ChannelView[];
}

export interface SamplerOptions {
  /** Interval between samples, ms. */
  readonly everyMs: number;
  /** Samples kept (the charts' span is `keep × everyMs`). */
  readonly keep: number;
  /** Sampling stops this long after the last admin request (unless `alwaysOn`), ms. */
  readonly idleMs: number;
  /** A node that has not answered for this long leaves the list, ms. */
  readonly forgetMs: number;
  /** Busiest channels asked of each node and kept. */
  readonly top: number;
  /**
   * Sample from the start, without any admin request, for as long as this returns true (one
   * node, where a sample is a function call: until the engine closes). Undefined: only while
   * the page is in use (`idleMs`).
   */
  readonly alwaysOn?: () => boolean;
}

/** 2 s for 10 minutes; stop 10 minutes after the page was last used; forget a node after a minute. */
export const SAMPLER_DEFAULTS: SamplerOptions = Object.freeze({ everyMs: 2000, keep: 300, idleMs: 600_000, forgetMs: 60_000, top: 20 });

/** An interval longer than this many sample periods is a gap: no point is drawn across it. */
const GAP_PERIODS = 3;

interface Seen {
  snap: NodeSnapshot;
  at: number;
  inRate: number | null;
  outRate: number | null;
}

export class StatsSampler {
  private readonly ring: (Sample | undefined)[];
  private head = 0;
  private count = 0;
  private readonly seen = new Map<string, Seen>();
  private last: { at: number; nodes: NodeSnapshot[]; busiest: BusiestView } | undefined;
  private lastError: string | undefined;
  private lastUsed = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly gather: (q: StatsQuery) => Promise<NodeSnapshot[]>,
    private readonly log: Logger,
    readonly o: SamplerOptions = SAMPLER_DEFAULTS,
  ) {
    this.ring = new Array<Sample | undefined>(o.keep).fill(undefined);
    if (o.alwaysOn !== undefined) this.start();
  }

  /** Whether samples are being taken now. */
  get sampling(): boolean {
    return this.timer !== undefined;
  }

  /**
   * An admin request came: keep sampling for `idleMs` more. Resolves once there is a gather
   * to show (at once, unless sampling had stopped or never ran).
   */
  async use(): Promise<void> {
    this.lastUsed = Date.now();
    if (this.timer === undefined) this.start();
    if (this.last === undefined) await this.sampleNow();
  }

  private start(): void {
    this.timer = setInterval(() => this.tick(), this.o.everyMs);
    // Never what keeps a process alive.
    this.timer.unref();
    void this.sampleNow();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const on = this.o.alwaysOn;
    const wanted = on !== undefined ? on() : Date.now() - this.lastUsed < this.o.idleMs;
    if (!wanted) {
      this.stop();
      return;
    }
    if (this.inFlight === undefined) void this.sampleNow();
  }

  /** Takes one sample (or joins the one in flight). Never rejects: a failed gather is kept as `error`. */
  sampleNow(): Promise<void> {
    this.inFlight ??= this.sample().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async sample(): Promise<void> {
    let nodes: NodeSnapshot[];
    try {
      nodes = await this.gather({ top: this.o.top });
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      // Once per outage, not every interval.
      if (this.lastError === undefined) this.log.warn({ err: why }, 'admin stats sample failed');
      this.lastError = why;
      return;
    }
    const at = Date.now();
    if (this.lastError !== undefined) this.log.info('admin stats samples work again');
    this.lastError = undefined;
    const prevAt = this.last?.at;
    const recent = (t: number): boolean => at - t <= GAP_PERIODS * this.o.everyMs;
    let inRate = 0;
    let outRate = 0;
    for (const snap of nodes) {
      const before = this.seen.get(snap.node);
      let rates: { inRate: number | null; outRate: number | null } = { inRate: null, outRate: null };
      if (before !== undefined && recent(before.at) && at > before.at) {
        // A node restarted under the same id counts from 0 again.
        const restarted = snap.startedAt !== before.snap.startedAt || snap.messagesOut < before.snap.messagesOut || snap.messagesIn < before.snap.messagesIn;
        const s = (at - before.at) / 1000;
        rates = {
          inRate: (snap.messagesIn - (restarted ? 0 : before.snap.messagesIn)) / s,
          outRate: (snap.messagesOut - (restarted ? 0 : before.snap.messagesOut)) / s,
        };
        inRate += rates.inRate as number;
        outRate += rates.outRate as number;
      }
      this.seen.set(snap.node, { snap, at, ...rates });
    }
    for (const [node, s] of this.seen) if (at - s.at > this.o.forgetMs) this.seen.delete(node);
    this.last = { at, nodes, busiest: mergeBusiest(nodes, this.o.top) };
    // The first sample after a gap only sets the baselines: a rate over the gap is not "now".
    if (prevAt !== undefined && recent(prevAt)) {
      this.push({
        t: at,
        in: round(inRate),
        out: round(outRate),
        connections: sum(nodes, (n) => n.connections),
        subscriptions: sum(nodes, (n) => n.subscriptions),
      });
    }
  }

  private push(s: Sample): void {
    this.ring[(this.head + this.count) % this.o.keep] = s;
    if (this.count < this.o.keep) this.count++;
    else this.head = (this.head + 1) % this.o.keep;
  }

  /** The samples taken after `since` (ms since the epoch), oldest first. */
  samples(since = 0): Sample[] {
    const out: Sample[] = [];
    for (let i = 0; i < this.count; i++) {
      const s = this.ring[(this.head + i) % this.o.keep] as Sample;
      if (s.t > since) out.push(s);
    }
    return out;
  }

  /** The last gather's time, snapshots and busiest channels (undefined before the first). */
  get latest(): { readonly at: number; readonly nodes: readonly NodeSnapshot[]; readonly busiest: BusiestView } | undefined {
    return this.last;
  }

  /** Why the last gather failed (undefined when it did not). */
  get error(): string | undefined {
    return this.lastError;
  }

  /** Every node seen within `forgetMs`: those of the last gather, and the ones missing from it. */
  nodes(): NodeView[] {
    const lastAt = this.last?.at ?? 0;
    const out: NodeView[] = [];
    for (const { snap: n, at, inRate, outRate } of this.seen.values()) {
      const status: NodeStatus =
        at < lastAt ? 'missing' : n.draining === true ? 'draining' : n.ready === undefined ? 'unknown' : n.ready ? 'ready' : 'not ready';
      out.push({
        node: n.node,
        role: n.role,
        status,
        lastSeen: at,
        uptime: n.startedAt === undefined ? undefined : Math.max(0, Math.floor(((n.at ?? at) - n.startedAt) / 1000)),
        rss: n.rss,
        heapUsed: n.heapUsed,
        pid: n.pid,
        host: n.host,
        connections: n.connections,
        subscriptions: n.subscriptions,
        channels: n.channels,
        dialects: n.dialects ?? {},
        dialectSubscriptions: n.dialectSubscriptions ?? {},
        inRate: inRate === null ? null : round(inRate),
        outRate: outRate === null ? null : round(outRate),
        messagesIn: n.messagesIn,
        messagesOut: n.messagesOut,
      });
    }
    return out.sort((a, b) => (a.role === b.role ? (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) : a.role < b.role ? -1 : 1));
  }
}

/**
 * The busiest channels over the nodes' answers: per tenant and channel, subscribers summed,
 * messages/s the largest node rate (each node receives every message of a channel it has
 * subscribers on), deliveries/s summed; most messages/s first, then most subscribers.
 */
export function mergeBusiest(nodes: readonly NodeSnapshot[], limit: number): BusiestView {
  const merged = new Map<string, { tenant: string; channel: string; subscribers: number; rate: number; deliveries: number; nodes: number }>();
  let windowMs = 0;
  for (const n of nodes) {
    const b = n.busiest;
    if (b === undefined) continue;
    windowMs = Math.max(windowMs, b.windowMs);
    const perSecond = b.windowMs > 0 ? 1000 / b.windowMs : 0;
    for (const c of b.channels) {
      const key = `${c.tenant}\n${c.channel}`;
      const rate = c.messages * perSecond;
      const m = merged.get(key);
      if (m === undefined) {
        merged.set(key, { tenant: c.tenant, channel: c.channel, subscribers: c.subscribers, rate, deliveries: rate * c.subscribers, nodes: 1 });
      } else {
        m.subscribers += c.subscribers;
        m.rate = Math.max(m.rate, rate);
        m.deliveries += rate * c.subscribers;
        m.nodes++;
      }
    }
  }
  const channels = [...merged.values()]
    .sort((a, b) => b.rate - a.rate || b.subscribers - a.subscribers || (a.tenant + a.channel < b.tenant + b.channel ? -1 : 1))
    .slice(0, limit)
    .map((c) => ({ ...c, rate: round(c.rate), deliveries: round(c.deliveries) }));
  return { windowMs, channels };
}

const sum = (nodes: readonly NodeSnapshot[], f: (n: NodeSnapshot) => number): number => nodes.reduce((acc, n) => acc + f(n), 0);

/** Two decimals: rates are shown, not computed with. */
const round = (x: number): number => Math.round(x * 100) / 100;
