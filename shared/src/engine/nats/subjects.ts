import type { ChannelRef } from '../../model/channel.js';

/**
 * How channels map onto NATS subjects and JetStream streams. With prefix P (default `sy`):
 *
 *   P.h.<tenant>.<ns>.<channel>     stored history (JetStream); publish here to store + relay
 *   P.live.<tenant>.<ns>.<channel>  live relay (RePublish of P.h, or core NATS without history)
 *   P.up.<tenant>.<channel>         client publishes, for backends to subscribe to
 *   P.presence.<tenant>.<channel>   presence scatter-gather requests to gateways
 *   P.stats                         node stats scatter-gather (GET /stats of the control API)
 *   P.node.<node id>                per-connection commands (push, close, info) to the owning gateway
 *   P.jl.<tenant>.<channel>         join / leave events of a `joinLeave` channel, from the gateway holding the connection
 *   P.jla.<node id>                 heartbeats of gateways with members in `joinLeave` channels
 *   P.pf.<tenant>.<channel>         the presence change feed (stream P_PRESENCE, written by the control API)
 *
 * `<ns>` is the channel's namespace, or `~` for the tenant's default namespace (no namespace
 * name can be `~`). `<channel>` is the whole channel name as one subject token: bytes outside
 * [A-Za-z0-9_-:@=+,!/] are written %XX (UTF-8, upper-case hex), so the mapping is reversible
 * and never yields `.`, `*`, `>` or white space.
 */
const KEEP = /^[A-Za-z0-9_\-:@=+,!/]$/;
const HEX = '0123456789ABCDEF';

export function channelToken(name: string): string {
  let out = '';
  for (const ch of name) {
    if (KEEP.test(ch)) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** Inverse of `channelToken`; throws on a token it could not have produced. */
export function channelFromToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const c = token[i] as string;
    if (c === '%') {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new Error(`bad escape in channel token: ${token}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (KEEP.test(c)) {
      bytes.push(c.charCodeAt(0));
    } else {
      throw new Error(`bad character in channel token: ${token}`);
    }
  }
  const s = Buffer.from(bytes).toString('utf8');
  if (Buffer.from(s, 'utf8').length !== bytes.length) throw new Error(`token is not UTF-8: ${token}`);
  return s;
}

export const DEFAULT_NS_TOKEN = '~';
export const namespaceToken = (ns: string): string => (ns === '' ? DEFAULT_NS_TOKEN : ns);

export class Subjects {
  constructor(readonly prefix: string) {}

  history(ch: ChannelRef): string {
    return `${this.prefix}.h.${ch.tenant}.${namespaceToken(ch.namespace)}.${channelToken(ch.name)}`;
  }

  live(ch: ChannelRef): string {
    return `${this.prefix}.live.${ch.tenant}.${namespaceToken(ch.namespace)}.${channelToken(ch.name)}`;
  }

  up(ch: ChannelRef): string {
    return `${this.prefix}.up.${ch.tenant}.${channelToken(ch.name)}`;
  }

  presence(ch: ChannelRef): string {
    return `${this.prefix}.presence.${ch.tenant}.${channelToken(ch.name)}`;
  }

  /** Join / leave events of one `joinLeave` channel. */
  joinLeave(ch: ChannelRef): string {
    return `${this.prefix}.jl.${ch.tenant}.${channelToken(ch.name)}`;
  }

  /** Every channel's join / leave events (the change feed's writer). */
  get joinLeaveAll(): string {
    return `${this.prefix}.jl.>`;
  }

  /** The change feed: stored join / leave of one tenant's channel (the presence stream). */
  presenceFeed(ch: ChannelRef): string {
    return `${this.prefix}.pf.${ch.tenant}.${channelToken(ch.name)}`;
  }

  presenceFeedOf(tenant: string): string {
    return `${this.prefix}.pf.${tenant}.>`;
  }

  /** The stream of the change feed (every tenant's). */
  get presenceStream(): string {
    return `${this.prefix.toUpperCase()}_PRESENCE`;
  }

  /** A gateway's join / leave heartbeat (`jla`, not `jl.alive`: a tenant may be called `alive`). */
  alive(nodeId: string): string {
    return `${this.prefix}.jla.${nodeId}`;
  }

  get aliveAll(): string {
    return `${this.prefix}.jla.*`;
  }

  /** Commands for the connections of one node (push, close, info). */
  node(nodeId: string): string {
    return `${this.prefix}.node.${nodeId}`;
  }

  /** Stats requests; every node with a snapshot answers. */
  get stats(): string {
    return `${this.prefix}.stats`;
  }

  /** Every presence request, for gateways to answer. */
  get presenceAll(): string {
    return `${this.prefix}.presence.>`;
  }

  /** The stream holding one namespace's history; the tenant's length keeps names unambiguous. */
  stream(tenant: string, ns: string): string {
    return `${this.prefix.toUpperCase()}_${tenant.length}_${tenant}_${namespaceToken(ns)}`;
  }

  streamSubjects(tenant: string, ns: string): { history: string; live: string } {
    return {
      history: `${this.prefix}.h.${tenant}.${namespaceToken(ns)}.>`,
      live: `${this.prefix}.live.${tenant}.${namespaceToken(ns)}.>`,
    };
  }
}

/** Headers Switchyard sets on messages it publishes (backends publishing directly may omit them). */
export const Header = {
  /** Publish time, ms since the epoch. */
  Time: 'Sy-Time',
  /** JSON `{conn, user?, info?}` of the publishing client. */
  From: 'Sy-From',
  /** On P.up messages: the tenant and channel name (the subject holds the escaped form). */
  Tenant: 'Sy-Tenant',
  Channel: 'Sy-Channel',
} as const;
