import { ErrorCode, ProtocolError } from '../codes.js';

/** Options of a channel namespace; see docs/config.md for each key. */
export interface NamespaceOptions {
  /** Messages kept per channel for resume (0 = none). */
  readonly history: number;
  /** Age after which history messages are dropped, in seconds (0 = no age limit). */
  readonly historyTtlSeconds: number;
  /** Whether subscribers are listed in the channel's presence. */
  readonly presence: boolean;
  /** Whether clients (not only backends) may publish to the channel. */
  readonly clientPublish: boolean;
  /**
   * Whether native subscribers may ask for delta compression (each message after the first
   * as a fossil delta against the previous one; docs/protocol.md#delta-compression). Absent: off.
   */
  readonly delta?: boolean;
  /**
   * Whether native subscribers get `join` / `leave` frames when connections enter or leave the
   * channel's presence (docs/protocol.md#join-and-leave). Needs `presence`. Absent: off.
   */
  readonly joinLeave?: boolean;
}

export const DEFAULT_NAMESPACE: NamespaceOptions = Object.freeze({
  history: 100,
  historyTtlSeconds: 0,
  presence: false,
  clientPublish: false,
});

/** One tenant (the seeds' customer / site / app): its secrets, limits and namespaces. */
export interface Tenant {
  readonly id: string;
  /** Signs client credentials: native tokens, site tokens and per-channel auth. */
  readonly secret: string;
  /** Signs site-dialect `POST /post` requests. */
  readonly postSecret: string;
  /** Bearer secret of the tenant's backends on the control API. */
  readonly backendSecret: string;
  /** Whether native clients may subscribe without authenticating. */
  readonly anonymous: boolean;
  readonly namespaces: ReadonlyMap<string, NamespaceOptions>;
  readonly defaultNamespace: NamespaceOptions;
  /** The bartnet dialect's settings (seed 000). */
  readonly bartnet: BartnetOptions;
  /** The otter dialect's settings (seed 004). */
  readonly otter: OtterOptions;
  /** WSaaS webhooks (seed 003); absent = the /hook endpoint refuses this tenant. */
  readonly webhook: WebhookOptions | undefined;
  /** MonoRail resources (seed 001) by name: what `/monorail/<resource>` serves. */
  readonly monorail: ReadonlyMap<string, MonorailResource>;
  /** WebSocket connections the tenant may hold open on one gateway process (0: no limit). */
  readonly maxConnections: number;
  /** Channels with history the tenant may hold on one node of the embedded engine (0: no limit). */
  readonly maxChannels: number;
  /** Origins whose pages may call the tenant's browser-facing routes; undefined: `--cors-origins`. */
  readonly corsOrigins: readonly string[] | undefined;
  /** How long an `Idempotency-Key` of a REST publish is remembered, seconds (docs/control-api.md). */
  readonly idempotencyWindowSeconds: number;
}

/** The default of a tenant's `maxChannels`. */
export const DEFAULT_MAX_CHANNELS = 100_000;

/** The default of a tenant's `idempotencyWindowSeconds`: JetStream's own default duplicate window. */
export const DEFAULT_IDEMPOTENCY_WINDOW_SECONDS = 120;

/** A MonoRail resource: a collection of items with ids, or a channel (topic). */
export type MonorailResource =
  | { readonly type: 'collection'; readonly idField: string }
  | { readonly type: 'topic'; readonly channel: string };

export interface WebhookOptions {
  /** The backend's URL (the seed's API_URI): POST on connect, PUT per frame, DELETE on close. */
  readonly url: string;
  /** How long one webhook call may take, ms. */
  readonly timeoutMs: number;
  /** Whether calls to a connection's ws_uri need `Authorization: Bearer <backendSecret>`. */
  readonly requireBearer: boolean;
  /** Client frames waiting for their PUT before the connection is closed with 4102. */
  readonly maxQueue: number;
  /**
   * The HMAC keys of the `Switchyard-Signature` header, one `v1` each, in order (never empty):
   * `webhook.secret` (a string or a list, for rotation), or else
   * `purposeKey(backendSecret, 'webhook-signature')`.
   */
  readonly signingKeys: readonly string[];
}

export interface BartnetOptions {
  /** The standard topics every customer has; subscribing to another is an error. */
  readonly topics: readonly string[];
  /** Lifetime of a credential from POST /bartnet/authorize, in seconds. */
  readonly credentialTtlSeconds: number;
}

export interface OtterOptions {
  /** Whether clients must `auth` before `sub` and `pub`. */
  readonly requireAuth: boolean;
}

export const DEFAULT_BARTNET: BartnetOptions = Object.freeze({
  topics: Object.freeze(['discovery', 'check_results', 'connected']),
  credentialTtlSeconds: 3600,
});
export const DEFAULT_OTTER: OtterOptions = Object.freeze({ requireAuth: false });

export interface TenantRegistry {
  /** Bearer token for operator endpoints such as `GET /stats`. */
  readonly adminToken: string;
  readonly tenants: ReadonlyMap<string, Tenant>;
}

/** Tenant ids are URL- and NATS-subject-safe by construction. */
export const TENANT_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Stands in for the tenant of a connection whose tenant is not known yet (bartnet names it in
 * the credential of its first `authenticate`); it allows nothing.
 */
export const UNBOUND_TENANT: Tenant = Object.freeze({
  id: '',
  secret: '',
  postSecret: '',
  backendSecret: '',
  anonymous: false,
  namespaces: new Map<string, NamespaceOptions>(),
  defaultNamespace: DEFAULT_NAMESPACE,
  bartnet: Object.freeze({ topics: Object.freeze([] as string[]), credentialTtlSeconds: 1 }),
  otter: DEFAULT_OTTER,
  webhook: undefined,
  monorail: new Map<string, MonorailResource>(),
  maxConnections: 0,
  maxChannels: 0,
  corsOrigins: undefined,
  idempotencyWindowSeconds: DEFAULT_IDEMPOTENCY_WINDOW_SECONDS,
});

/**
 * The tenant named by `id`: `bad_request` (with `missing` as the message) when absent or
 * empty, `unknown_tenant` when no tenant has that id. `what` names the parameter in errors.
 */
export function findTenant(reg: TenantRegistry, id: unknown, what: string, missing = `${what} is required`): Tenant {
  if (typeof id !== 'string' || id === '') throw new ProtocolError(ErrorCode.BadRequest, missing);
  const t = reg.tenants.get(id);
  if (t === undefined) throw new ProtocolError(ErrorCode.UnknownTenant, `unknown ${what} '${id.slice(0, 64)}'`);
  return t;
}
