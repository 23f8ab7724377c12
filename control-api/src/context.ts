import type { Engine, Logger, Metrics, NodeSnapshot, Origins, Publisher, StatsQuery, TenantRegistry } from '@switchyard/shared';

/** Everything the control-API routes use; passed down whole because every route needs most of it. */
export interface ControlContext {
  readonly tenants: TenantRegistry;
  readonly engine: Engine;
  readonly publisher: Publisher;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Largest accepted request body and message payload, in bytes. */
  readonly maxPayload: number;
  /** Origins whose pages may call the browser-facing routes (`--cors-origins`; a tenant's `corsOrigins` overrides it). */
  readonly corsOrigins: Origins;
  /** This process's own figures, with its busiest channels when asked (a cluster engine gathers every node's instead). */
  readonly snapshot: (q?: StatsQuery) => NodeSnapshot;
}
