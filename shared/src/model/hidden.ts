import { channelKey, type ChannelRef } from './channel.js';
import type { NamespaceOptions } from './tenant.js';

/**
 * Hidden channels carry the dialects' internal traffic (otter's client→backend messages,
 * MonoRail broadcasts). Their names start with a control character, which no public channel
 * name may contain: no client can name, subscribe to or collide with them. They keep no history.
 */
const HIDDEN_OPTS: NamespaceOptions = Object.freeze({ history: 0, historyTtlSeconds: 0, presence: false, clientPublish: true });

export function hiddenChannel(tenant: string, name: string): ChannelRef {
  return { tenant, name, key: channelKey(tenant, name), namespace: '', opts: HIDDEN_OPTS };
}

/** Reaches every MonoRail connection of a resource (the server broadcast). */
export const monorailBroadcastChannel = (tenant: string, resource: string): ChannelRef => hiddenChannel(tenant, `\u0003monorail:${resource}`);
