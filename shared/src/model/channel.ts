import { ErrorCode, ProtocolError } from '../codes.js';
import type { NamespaceOptions, Tenant } from './tenant.js';

/** Longest channel name, in UTF-16 code units. */
export const MAX_CHANNEL_LENGTH = 200;

/**
 * The one channel-name rule, used by every face: 1–200 characters, none of them a control
 * character (U+0000–U+001F, U+007F–U+009F), and no unpaired surrogate. Anything else is allowed — spaces too, as otter's
 * "arbitrarily named channels" need. A prefix before the first `:` that names one of the
 * tenant's namespaces selects that namespace's options.
 */
// eslint-disable-next-line no-control-regex
const CHANNEL_RE = /^[^\u0000-\u001f\u007f-\u009f]{1,200}$/;

export function isValidChannel(name: unknown): name is string {
  // Well-formed: a lone surrogate has no UTF-8 form, so it could not cross NATS and back.
  return typeof name === 'string' && CHANNEL_RE.test(name) && name.isWellFormed();
}

/** A channel resolved against its tenant: what the core and the engines work with. */
export interface ChannelRef {
  readonly tenant: string;
  readonly name: string;
  /** `${tenant}/${name}`: unique across tenants (tenant ids cannot contain `/`). */
  readonly key: string;
  /** The namespace whose options apply; '' is the tenant's default namespace. */
  readonly namespace: string;
  readonly opts: NamespaceOptions;
  /**
   * Set on the internal channel that carries a MonoRail collection's changes: engines feed it
   * from the collection store (cluster: a KV bucket watch) instead of from publishes.
   */
  readonly collection?: CollectionRef;
}

/** A MonoRail collection: items with ids, stored per tenant and resource. */
export interface CollectionRef {
  readonly tenant: string;
  readonly resource: string;
}

export function channelKey(tenant: string, name: string): string {
  return `${tenant}/${name}`;
}

/** Resolves `name` inside `tenant`, or throws `invalid_channel`. */
export function resolveChannel(tenant: Tenant, name: unknown): ChannelRef {
  if (!isValidChannel(name)) {
    throw new ProtocolError(
      ErrorCode.InvalidChannel,
      `invalid channel name: must be 1-${MAX_CHANNEL_LENGTH} characters without control characters`,
    );
  }
  const colon = name.indexOf(':');
  const prefix = colon > 0 ? name.slice(0, colon) : '';
  const ns = prefix !== '' ? tenant.namespaces.get(prefix) : undefined;
  return {
    tenant: tenant.id,
    name,
    key: channelKey(tenant.id, name),
    namespace: ns !== undefined ? prefix : '',
    opts: ns ?? tenant.defaultNamespace,
  };
}
