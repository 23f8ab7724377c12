import type { Logger } from '../../log.js';
import type { TenantRegistry } from '../../model/tenant.js';

/**
 * Every wait and timeout of the NATS engine, in one place. Each can be overridden per engine
 * (tests shorten some); `NATS_ENGINE_DEFAULTS` holds the values production runs with.
 */
export interface NatsTimings {
  /**
   * Pause between attempts of the engine's own retry loops, ms: the first connection, stream
   * preparation and gap fills. Default 250.
   */
  readonly retryEveryMs: number;
  /** Pause between the client's reconnect attempts once it has connected, ms. Default 250. */
  readonly reconnectWaitMs: number;
  /**
   * Client ping interval, ms. With `maxPingsOut` unanswered pings the client declares the
   * server gone, so a silently dead server is noticed within 10–15 s by default. Default 5000.
   */
  readonly pingIntervalMs: number;
  /** Unanswered pings before the client drops the connection. Default 2. */
  readonly maxPingsOut: number;
  /** Timeout of each JetStream API call and JetStream publish, ms. Default 5000. */
  readonly jetStreamTimeoutMs: number;
  /** How long `subscribe` waits for the engine to become ready before it rejects, ms. Default 5000. */
  readonly readyWaitMs: number;
  /**
   * Scatter-gather (presence lists, cluster stats): how long to wait for more replies once
   * they stop coming, ms. Default 30.
   */
  readonly presenceStallMs: number;
  /** Scatter-gather: the longest a gather waits in all, however replies trickle in, ms. Default 2000. */
  readonly gatherMaxWaitMs: number;
  /** How long a per-connection command (push, close, info) waits for the owning node, ms. Default 3000. */
  readonly commandTimeoutMs: number;
  /** Reading stored messages: how long one fetch waits for messages that are not there, ms. Default 2000. */
  readonly fetchExpiresMs: number;
  /**
   * How often the engine makes a round trip to NATS (PING/PONG) while connected, ms. One that
   * takes longer than `probeTimeoutMs` makes the engine not ready (`/readyz` 503) until one
   * completes: a server that stopped answering, or a client whose reader no longer reads,
   * is noticed in seconds instead of the client's 10–15 s ping verdict. Default 1000.
   */
  readonly probeEveryMs: number;
  /** The longest a probe round trip may take before the engine is not ready, ms. Default 3000. */
  readonly probeTimeoutMs: number;
  /** How often a gateway with members in `joinLeave` channels says it is alive (`P.jla.<node>`), ms. Default 5000. */
  readonly aliveEveryMs: number;
  /**
   * A gateway not heard from for this long is dead: the others announce `leave` for its
   * members of `joinLeave` channels, ms. Default 15000 (three missed heartbeats).
   */
  readonly deadAfterMs: number;
  /** How often a gateway looks for dead ones, ms. Default 1000. */
  readonly deadCheckEveryMs: number;
  /**
   * The join/leave relay's presence lists wait this long for more answers after each one,
   * ms: longer than `presenceStallMs`, since nobody waits for them and a late answer costs
   * a list again. Default 250.
   */
  readonly joinLeaveStallMs: number;
}

export const NATS_ENGINE_DEFAULTS: NatsTimings = Object.freeze({
  retryEveryMs: 250,
  reconnectWaitMs: 250,
  pingIntervalMs: 5000,
  maxPingsOut: 2,
  jetStreamTimeoutMs: 5000,
  readyWaitMs: 5000,
  presenceStallMs: 30,
  gatherMaxWaitMs: 2000,
  commandTimeoutMs: 3000,
  fetchExpiresMs: 2000,
  probeEveryMs: 1000,
  probeTimeoutMs: 3000,
  aliveEveryMs: 5000,
  deadAfterMs: 15000,
  deadCheckEveryMs: 1000,
  joinLeaveStallMs: 250,
});

/** Where the engine connects, and as whom. */
export interface NatsConnectOptions {
  readonly servers: readonly string[];
  /** Client name shown by the NATS server (the node id). Default `switchyard`. */
  readonly name?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** PEM file of the CA that signed the NATS servers' certificates (turns TLS on). */
  readonly tlsCaFile?: string;
}

export interface NatsEngineOptions extends NatsConnectOptions, Partial<NatsTimings> {
  readonly tenants: TenantRegistry;
  readonly log: Logger;
  /** Subject prefix and stream-name prefix (default `sy`); separate deployments sharing NATS use different ones. */
  readonly prefix?: string;
  /** Create or update the streams (the control API does; gateways wait for them). */
  readonly manageStreams: boolean;
  /** Answer presence requests from this node's local entries (gateways do). */
  readonly servePresence: boolean;
  /** This node's id (the prefix of its connection ids); gateways give it, for join / leave events. */
  readonly node?: string;
  /** JetStream replicas of each stream (1 for a single NATS server). Default 1. */
  readonly replicas?: number;
}

/** The timings of `o`, each one given or its default. */
export function timingsOf(o: Partial<NatsTimings>): NatsTimings {
  const out: Record<string, number> = { ...NATS_ENGINE_DEFAULTS };
  for (const k of Object.keys(NATS_ENGINE_DEFAULTS) as (keyof NatsTimings)[]) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return Object.freeze(out as unknown as NatsTimings);
}
