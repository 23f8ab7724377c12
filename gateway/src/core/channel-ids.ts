/**
 * The channels a connection is subscribed to (or subscribing to), as the node's dense channel
 * ids, in the order they were added. Most connections hold one or a few: the first id is a
 * field and the others a small array made when needed, so a connection's memory follows its
 * own subscriptions. (A bitset over the ids grew with the node's channel count instead: with
 * one channel per user, 90,000 users made each later connection's set 11 KB.) Membership is
 * a scan, which only subscribe and unsubscribe ask for, never the fan-out.
 */
export class ChannelIds {
  /** The first id, or -1 (then `rest` is empty). */
  private first = -1;
  private rest: number[] | undefined = undefined;

  get size(): number {
    return this.first < 0 ? 0 : 1 + (this.rest?.length ?? 0);
  }

  has(id: number): boolean {
    return this.first === id || (this.rest !== undefined && this.rest.includes(id));
  }

  add(id: number): void {
    if (this.has(id)) return;
    if (this.first < 0) this.first = id;
    else (this.rest ??= []).push(id);
  }

  delete(id: number): void {
    const rest = this.rest;
    if (this.first === id) {
      this.first = rest !== undefined && rest.length > 0 ? (rest.shift() as number) : -1;
      return;
    }
    const i = rest === undefined ? -1 : rest.indexOf(id);
    if (i >= 0) (rest as number[]).splice(i, 1);
  }

  /** Calls `fn` for each id, in the order added; `fn` must not change the set. */
  forEach(fn: (id: number) => void): void {
    if (this.first < 0) return;
    fn(this.first);
    const rest = this.rest;
    if (rest !== undefined) for (let i = 0; i < rest.length; i++) fn(rest[i] as number);
  }

  /** Every id, in the order added, and forgets them (a closing connection's). */
  take(): number[] {
    const out: number[] = [];
    this.forEach((id) => out.push(id));
    this.first = -1;
    this.rest = undefined;
    return out;
  }
}
