import type { ChannelRef } from '../model/channel.js';
import type { PresenceChange, PresenceFeed, PresenceFeedEvent, PresenceFeedPage } from './engine.js';

/**
 * The presence change feed of one process (the embedded engine): the newest `size` changes of
 * every tenant, in memory, numbered from 1 in the order they happened.
 */
export class PresenceRing implements PresenceFeed {
  private readonly events: ({ readonly tenant: string; readonly event: PresenceFeedEvent } | undefined)[];
  private seq = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly size = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    this.events = new Array(size);
  }

  append(ch: ChannelRef, c: PresenceChange): void {
    const e = c.entry;
    const event: PresenceFeedEvent = {
      seq: ++this.seq,
      time: this.now(),
      type: c.type,
      channel: ch.name,
      conn: e.conn,
      ...(e.user !== undefined ? { user: e.user } : {}),
      ...(c.type === 'join' && e.info !== undefined ? { info: e.info } : {}),
    };
    this.events[this.seq % this.size] = { tenant: ch.tenant, event };
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  async read(tenant: string, after: number, waitMs: number, limit: number): Promise<PresenceFeedPage> {
    let page = this.page(tenant, after, limit);
    // Waits by the real clock (`now` may be a test's fixed one).
    const deadline = Date.now() + waitMs;
    while (page.events.length === 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
        const waiters = this.waiters;
        function done(): void {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
      page = this.page(tenant, after, limit);
    }
    return page;
  }

  private page(tenant: string, after: number, limit: number): PresenceFeedPage {
    const out: PresenceFeedEvent[] = [];
    const from = Math.max(after + 1, this.seq - this.size + 1, 1);
    for (let s = from; s <= this.seq && out.length < limit; s++) {
      const slot = this.events[s % this.size];
      if (slot !== undefined && slot.tenant === tenant) out.push(slot.event);
    }
    return { events: out, last: out.length > 0 ? (out[out.length - 1] as PresenceFeedEvent).seq : Math.max(0, after) };
  }
}
