import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.js';
import { closeCode, errorName } from './codes.js';

/**
 * Close codes counted under their own label; any other (a client may send any code from 1000
 * to 4999) is counted as `other`, so no client can make series without bound.
 */
const COUNTED_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 1005, 1006, ...Object.values(closeCode)]);

/** The WSaaS webhook's methods, and what became of a call. */
export const WEBHOOK_METHODS = ['POST', 'PUT', 'DELETE'] as const;
export const WEBHOOK_OUTCOMES = ['ok', 'http_error', 'timeout', 'unreachable'] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** The `code` label of a close: the code, or `other`. */
export const closeLabel = (code: number): string => (COUNTED_CLOSE_CODES.has(code) ? String(code) : 'other');

/**
 * Plain counters that the hot path bumps (a number add, no label lookup), exported to
 * Prometheus on scrape and read directly by `GET /stats`. One per process.
 */
export class NodeStats {
  readonly startedAt = Date.now();
  messagesIn = 0;
  /** Of messagesIn, those a client published over its WebSocket connection (the rest came from backends: REST, /post). */
  messagesInFromClients = 0;
  bytesIn = 0;
  messagesOut = 0;
  bytesOut = 0;
  slowConsumerCloses = 0;
  /** History reads of subscribes (resumes, and live-only ones on a channel new to the node). */
  historyReads = 0;
  /** Resuming subscribes answered "could not recover" (the point was gone or from another epoch). */
  unrecovered = 0;
}

/** What the gateway reports about its live state, read on scrape. */
export interface GatewayGauges {
  connectionsByDialect(): ReadonlyMap<string, number>;
  subscriptions(): number;
  channels(): number;
}

export interface Metrics {
  readonly registry: Registry;
  readonly stats: NodeStats;
  readonly publishSeconds: BucketHistogram;
  readonly errors: Counter<'code'>;
  /** WebSocket connections closed, by close code (`closeLabel`), whoever closed them. */
  readonly closes: Counter<'code'>;
  /** WSaaS webhook calls (seed 003) by method and outcome (`WEBHOOK_OUTCOMES`), with their duration. */
  readonly webhookSeconds: Histogram<'method' | 'outcome'>;
  /** Connects the gateway's live figures (only processes that hold sockets have them). */
  attachGateway(g: GatewayGauges): void;
  /** Exports a counter kept elsewhere as a plain number, read on scrape. */
  counter(name: string, help: string, read: () => number): void;
  /** Exports a gauge read on scrape. */
  gauge(name: string, help: string, read: () => number): void;
}

/** One exposition of several registries' `getMetricsAsJSON()`: counters, gauges and histograms summed (threads of one process). */
export function aggregateMetrics(parts: readonly object[][]): Promise<string> {
  return AggregatorRegistry.aggregate(parts as object[][] as never).metrics();
}

/** The default Node.js metrics (CPU, memory, event loop, handles), `switchyard_`-prefixed. */
export function processRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });
  // Gauges named like counters, which `promtool check metrics` refuses; each is the sum of
  // the per-type gauge without the suffix (sum(switchyard_nodejs_active_handles)).
  for (const what of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`switchyard_nodejs_active_${what}_total`);
  return registry;
}

export interface MetricsOptions {
  /**
   * Include the default Node.js metrics (default true). The threads of a multi-threaded
   * process leave them out: the process's main thread reports them once for the process.
   */
  readonly processMetrics?: boolean;
}

/** Builds a registry of Switchyard's metrics, with the default Node metrics unless told otherwise. */
export function createMetrics(role: string, opts: MetricsOptions = {}): Metrics {
  const registry = opts.processMetrics === false ? new Registry() : processRegistry(role);
  registry.setDefaultLabels({ role });
  const stats = new NodeStats();
  let gateway: GatewayGauges | undefined;

  const mirror = (name: string, help: string, read: () => number): void => {
    let exported = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        if (now > exported) this.inc(now - exported);
        exported = now;
      },
    });
  };
  // By source: `client` (a WebSocket connection's publish) or `backend` (REST, site /post, and
  // the events the server publishes itself). Both exist from the start.
  const inBySource = { client: 0, backend: 0 };
  new Counter({
    name: 'switchyard_messages_in_total',
    help: 'Messages published into channels through this process, by source: client (a WebSocket connection) or backend (REST, site /post, server events).',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      const now = { client: stats.messagesInFromClients, backend: stats.messagesIn - stats.messagesInFromClients };
      for (const source of ['client', 'backend'] as const) {
        this.inc({ source }, Math.max(0, now[source] - inBySource[source]));
        inBySource[source] = now[source];
      }
    },
  });
  mirror('switchyard_bytes_in_total', 'Payload bytes of messages_in.', () => stats.bytesIn);
  mirror('switchyard_messages_out_total', 'Frames delivered to subscribed connections.', () => stats.messagesOut);
  mirror('switchyard_bytes_out_total', 'Bytes of messages_out.', () => stats.bytesOut);
  mirror(
    'switchyard_slow_consumer_closes_total',
    'Connections closed because their send buffer passed --max-buffered-bytes.',
    () => stats.slowConsumerCloses,
  );

  mirror('switchyard_history_reads_total', 'History reads made for subscribes (resumes, and the first live-only subscribe of a channel on this node).', () => stats.historyReads);
  mirror('switchyard_unrecovered_subscribes_total', 'Resuming subscribes answered with recovered: false (the resume point was no longer held, or from another epoch).', () => stats.unrecovered);

  new Gauge({
    name: 'switchyard_connections',
    help: 'Open WebSocket connections, by dialect.',
    labelNames: ['dialect'],
    registers: [registry],
    collect() {
      this.reset();
      if (gateway) for (const [dialect, n] of gateway.connectionsByDialect()) this.set({ dialect }, n);
    },
  });
  new Gauge({
    name: 'switchyard_subscriptions',
    help: 'Channel subscriptions of open connections.',
    registers: [registry],
    collect() {
      this.set(gateway ? gateway.subscriptions() : 0);
    },
  });
  new Gauge({
    name: 'switchyard_channels',
    help: 'Channels with at least one local subscriber.',
    registers: [registry],
    collect() {
      this.set(gateway ? gateway.channels() : 0);
    },
  });
  const publishSeconds = new BucketHistogram(
    'switchyard_publish_duration_seconds',
    'Time from accepting a publish to the engine confirming it.',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registry,
  );
  const errors = new Counter({
    name: 'switchyard_errors_total',
    help: 'Errors answered to clients and REST callers, by error code name.',
    labelNames: ['code'],
    registers: [registry],
  });
  const closes = new Counter({
    name: 'switchyard_closes_total',
    help: 'WebSocket connections closed, by close code (1006: cut without a close frame; other: a code not listed).',
    labelNames: ['code'],
    registers: [registry],
  });
  // Every known label from the start: a sum over a series that never happened is 0, not empty.
  for (const code of Object.values(errorName)) errors.inc({ code }, 0);
  for (const code of [...COUNTED_CLOSE_CODES, 'other']) closes.inc({ code: String(code) }, 0);
  const webhookSeconds = new Histogram({
    name: 'switchyard_webhook_duration_seconds',
    help: 'WSaaS webhook calls (POST on connect, PUT per frame, DELETE on close) by method and outcome (ok, http_error: a non-2xx answer, timeout, unreachable), with how long each took; _count counts the calls.',
    labelNames: ['method', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  for (const method of WEBHOOK_METHODS) for (const outcome of WEBHOOK_OUTCOMES) webhookSeconds.zero({ method, outcome });
  return {
    registry,
    stats,
    publishSeconds,
    errors,
    closes,
    webhookSeconds,
    attachGateway(g) {
      gateway = g;
    },
    counter: mirror,
    gauge(name, help, read) {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    },
  };
}
