import { ErrorCode, ProtocolError, type Tenant } from '@switchyard/shared';

/**
 * Open connections per key (a peer address, a tenant), each key against a limit given when a
 * connection is taken (0: none, and nothing is counted). One per gateway process and kind of
 * key, shared by every dialect's endpoint; taken when an upgrade is accepted, given back when
 * the socket closes.
 */
export class OpenCounts {
  private readonly open = new Map<string, number>();

  /** Counts one more connection for `key`: true when counted, false at the limit, undefined when there is no limit (nothing to give back). */
  take(key: string, max: number): boolean | undefined {
    if (max === 0) return undefined;
    const n = this.open.get(key) ?? 0;
    if (n >= max) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const n = (this.open.get(key) ?? 1) - 1;
    if (n <= 0) this.open.delete(key);
    else this.open.set(key, n);
  }
}

/** The per-address and per-tenant connection limits of a gateway, shared by every endpoint. */
export interface OpenLimits {
  readonly perAddress: OpenCounts;
  readonly perTenant: OpenCounts;
  /** `--max-connections-per-ip` (0: no limit). */
  readonly maxPerAddress: number;
}

/** What a connection holds under the limits, given back when it closes. */
export interface HeldSlots {
  readonly address: string | undefined;
  readonly tenant: string | undefined;
}

/** Counts a new connection from `address` for `tenant`: what it holds, or the refusal (`limit_exceeded`) with nothing held. */
export function takeSlots(l: OpenLimits, address: string, tenant: Tenant): HeldSlots | ProtocolError {
  const byAddress = l.perAddress.take(address, l.maxPerAddress);
  if (byAddress === false) return new ProtocolError(ErrorCode.LimitExceeded, `at most ${l.maxPerAddress} connections from one address`);
  const byTenant = l.perTenant.take(tenant.id, tenant.maxConnections);
  if (byTenant === false) {
    if (byAddress === true) l.perAddress.release(address);
    return new ProtocolError(ErrorCode.LimitExceeded, `tenant ${tenant.id} is at its limit of ${tenant.maxConnections} connections on this node`);
  }
  return { address: byAddress === true ? address : undefined, tenant: byTenant === true ? tenant.id : undefined };
}

/** Gives back what `takeSlots` counted. */
export function releaseSlots(l: OpenLimits, held: HeldSlots): void {
  if (held.address !== undefined) l.perAddress.release(held.address);
  if (held.tenant !== undefined) l.perTenant.release(held.tenant);
}
