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
