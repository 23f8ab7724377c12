/**
 * Open connections per remote address, against a limit (0: none). One per gateway process,
 * shared by every dialect's endpoint; taken when an upgrade is accepted, given back when the
 * socket closes.
 */
export class PerAddressLimit {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Counts one more connection from `address`; false (nothing counted) at the limit. */
  take(address: string): boolean {
    if (this.max === 0) return true;
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    if (this.max === 0) return;
    const n = (this.open.get(address) ?? 1) - 1;
    if (n <= 0) this.open.delete(address);
    else this.open.set(address, n);
  }

  /** Addresses with open connections (for tests and stats). */
  get addresses(): number {
    return this.open.size;
  }
}
