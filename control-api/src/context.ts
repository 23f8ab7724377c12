import type { Engine, Logger, Metrics, Publisher, TenantRegistry } from '@switchyard/shared';

/** Live figures of the gateway in the same process, when there is one (dev mode). */
export interface LocalGatewayStats {
  connections(): number;
  channels(): number;
  subscriptions(): number;
}

/** Everything the control-API routes use; passed down whole because every route needs most of it. */
export interface ControlContext {
  readonly tenants: TenantRegistry;
  readonly engine: Engine;
  readonly publisher: Publisher;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Largest accepted request body and message payload, in bytes. */
  readonly maxPayload: number;
  readonly gateway?: LocalGatewayStats;
}
