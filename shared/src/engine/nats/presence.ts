import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import type { Presence, PresenceEntry } from '../engine.js';
import { LocalPresence } from '../local-presence.js';
import type { BrokerConnection } from './connection.js';
import { guardedCallback, unavailable } from './errors.js';
import { gather } from './node-rpc.js';
import type { NatsTimings } from './options.js';
import type { JoinLeaveRelay } from './join-leave.js';
import { channelFromToken, type Subjects } from './subjects.js';

/** The header in which a gateway's presence answer names the node. */
const NODE_HEADER = 'Sy-Node';

/** A presence list across nodes, and which nodes answered it. */
export interface PresenceAnswers {
  readonly entries: PresenceEntry[];
  readonly nodes: ReadonlySet<string>;
}

/**
 * Presence across nodes without shared state: each gateway keeps its own connections'
 * entries, and a list asks every gateway (`P.presence.<tenant>.<channel token>`) and merges
 * the answers. A gateway that is gone simply does not answer, so its entries vanish at once
 * (measured against a KV bucket in loadtest/presence-choice.ts).
 */
export class NatsPresence implements Presence {
  private readonly local = new LocalPresence();

  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly t: NatsTimings,
    private readonly log: Logger,
    /** This node's id, named in its answers (gateways). */
    private readonly node: string | undefined,
    /** Announces joins and leaves of `joinLeave` channels to the other nodes. */
    private readonly events?: JoinLeaveRelay,
  ) {}

  join(ch: ChannelRef, entry: PresenceEntry): Promise<void> {
    if (ch.opts.joinLeave === true) this.events?.joined(ch, entry);
    return this.local.join(ch, entry);
  }

  leave(ch: ChannelRef, conn: string): Promise<void> {
    if (ch.opts.joinLeave === true) this.events?.left(ch, conn);
    return this.local.leave(ch, conn);
  }

  /**
   * Every node's entries (gateways add `ann` to those of `joinLeave` channels: for the
   * join/leave relay), and the nodes that answered: a node with no entry is told from one
   * that did not answer (gone, or not reconnected yet) by the header it names itself in.
   */
  async gather(ch: ChannelRef, stallMs = this.t.presenceStallMs): Promise<PresenceAnswers> {
    const nc = this.conn.nc();
    let replies: Msg[];
    try {
      replies = await gather(nc, this.subjects.presence(ch), stallMs, this.t.gatherMaxWaitMs);
    } catch (err) {
      throw unavailable(this.log, err, 'presence gather failed', { channel: ch.key });
    }
    const entries: PresenceEntry[] = [];
    const nodes = new Set<string>();
    for (const r of replies) {
      const node = r.headers?.get(NODE_HEADER);
      if (node !== undefined && node !== '') nodes.add(node);
      if (r.data.length === 0) continue;
      try {
        entries.push(...(JSON.parse(r.string()) as PresenceEntry[]));
      } catch {
        this.log.warn({ subject: r.subject }, 'malformed presence reply'); // one bad node must not hide the others
      }
    }
    return { entries, nodes };
  }

  async list(ch: ChannelRef): Promise<PresenceEntry[]> {
    const { entries } = await this.gather(ch);
    return entries.map((e) => ({ conn: e.conn, ...(e.user !== undefined ? { user: e.user } : {}), ...(e.info !== undefined ? { info: e.info } : {}) }));
  }

  /** Answers every presence request with this node's local entries (gateways do). */
  attach(nc: NatsConnection): void {
    nc.subscribe(this.subjects.presenceAll, { callback: guardedCallback<Msg>(this.log, 'presence request', (m) => this.answer(m)) });
  }

  private answer(m: Msg): void {
    // P.presence.<tenant>.<channel token>
    const parts = m.subject.split('.');
    const tenant = parts[parts.length - 2];
    const token = parts[parts.length - 1];
    if (tenant === undefined || token === undefined) return;
    let name: string;
    try {
      name = channelFromToken(token);
    } catch {
      return; // not a token we make: not a channel anyone can be present in
    }
    const key = `${tenant}/${name}`;
    const entries = this.local.entries(key);
    // Entries of `joinLeave` channels carry their announcement number, for the relays that
    // seed from this answer (`list` leaves it out for everyone else).
    const withAnn = (e: PresenceEntry): PresenceEntry => {
      const ann = this.events?.annOf(key, e.conn);
      return ann === undefined ? e : { ...e, ann } as PresenceEntry;
    };
    const h = headers();
    if (this.node !== undefined) h.set(NODE_HEADER, this.node);
    m.respond(JSON.stringify(entries.map(withAnn)), { headers: h });
  }
}
