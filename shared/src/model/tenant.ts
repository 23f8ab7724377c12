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
}

export interface TenantRegistry {
  /** Bearer token for operator endpoints such as `GET /stats`. */
  readonly adminToken: string;
  readonly tenants: ReadonlyMap<string, Tenant>;
}

/** Tenant ids are URL- and NATS-subject-safe by construction. */
export const TENANT_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
