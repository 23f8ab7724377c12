import type { ChannelRef } from '../model/channel.js';
import type { PresenceEntry } from './engine.js';

/** This process's own presence entries, per channel key (both engines keep them the same way). */
export class LocalPresence {
  private readonly members = new Map<string, Map<string, PresenceEntry>>();

  join(ch: ChannelRef, entry: PresenceEntry): Promise<void> {
    let m = this.members.get(ch.key);
    if (m === undefined) this.members.set(ch.key, (m = new Map()));
    m.set(entry.conn, entry);
    return Promise.resolve();
  }

  leave(ch: ChannelRef, conn: string): Promise<void> {
    const m = this.members.get(ch.key);
    if (m !== undefined && m.delete(conn) && m.size === 0) this.members.delete(ch.key);
    return Promise.resolve();
  }

  entry(key: string, conn: string): PresenceEntry | undefined {
    return this.members.get(key)?.get(conn);
  }

  entries(key: string): PresenceEntry[] {
    return [...(this.members.get(key)?.values() ?? [])];
  }
}
