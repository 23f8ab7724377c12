import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import { nodeOf, type PresenceChange, type PresenceChangeHandler, type PresenceEntry, type PresenceEvents } from '../engine.js';
import type { BrokerConnection } from './connection.js';
import { errorText, guardedCallback } from './errors.js';
import type { NatsTimings } from './options.js';
import type { PresenceAnswers } from './presence.js';
import { channelFromToken, type Subjects } from './subjects.js';

/** A `P.jl.*` event: the change, plus the boot id of the gateway process that sent it. */
interface Wire {
  readonly type: 'join' | 'leave';
  readonly conn: string;
  readonly user?: string;
  readonly info?: unknown;
  readonly boot?: string;
  /** Which announcement of the connection's membership this is (see `announcements`); leaves repeat their join's. */
  readonly ann?: number;
}

/** A remote connection this node knows is in a watched channel. */
interface Member {
  readonly entry: PresenceEntry;
  readonly node: string;
  /** The boot id of its gateway when we learned of it (undefined: from a presence list). */
  readonly boot: string | undefined;
  /** Its gateway's latest announcement number, as far as we know. */
  ann: number | undefined;
}

interface Watched {
  readonly ref: ChannelRef;
  readonly members: Map<string, Member>;
  sub: Subscription | undefined;
  /** While the seeding presence list is out: connections that left meanwhile (the list may still name them). */
  seeding: Set<string> | undefined;
  /** While a resync list is out: connections with events meanwhile (the events are newer than the list). */
  touched: Set<string> | undefined;
  /** How many resync lists are out (they share `touched`). */
  resyncs: number;
  /**
   * The nodes whose members this node learned from a list (undefined until the seeding list
   * answered). A node missing from it (its answer came too late) is listed again when heard
   * from, and its leaves of members this node never knew are handed on.
   */
  answered: Set<string> | undefined;
}

interface NodeSeen {
  /** When we last heard from it (a heartbeat or an event), ms. */
  at: number;
  boot: string | undefined;
}

/**
 * Join / leave events across nodes (docs/architecture.md#join-and-leave-across-nodes).
 *
 * Sending: the gateway holding a connection publishes its join and leave of a `joinLeave`
 * channel on `P.jl.<tenant>.<channel>` (core NATS, at most once), and while it has such
 * members a heartbeat on `P.jla.<node>` every `aliveEveryMs`.
 *
 * Receiving: a gateway with subscribers of a `joinLeave` channel subscribes to its subject
 * (`watch`), learns the members of other nodes from a presence list and then from the events,
 * and hands each change on at most once per connection: a join only for a connection it did
 * not know, a leave only for one it knew (then forgets it). A node not heard from for
 * `deadAfterMs` is dead: its known members leave. A node whose boot id changed (restarted
 * with the same node id) lost its old members: they leave at once. Events of this node's own
 * connections are ignored: the hub announces those itself.
 *
 * A node cut off from NATS blames itself too: its dead-node check waits until it is back,
 * and then lists each watched channel again (`resync`), trusting only the nodes that answered.
 *
 * A gateway that was paused (SIGSTOP, a long GC, a frozen VM) notices the gap in its own
 * timers: as a sender it announces its members again (`join`: the others may have declared
 * it dead meanwhile; those that did not ignore the repeat), and as a receiver it gives every
 * other node a fresh deadline instead of condemning them for its own silence.
 */
export class JoinLeaveRelay implements PresenceEvents {
  /** This process's run: tells a restarted gateway with the same node id from the old one. */
  readonly boot = randomBytes(6).toString('hex');
  private handler: PresenceChangeHandler = () => {};
  private readonly watched = new Map<string, Watched>();
  private readonly nodes = new Map<string, NodeSeen>();
  /** This node's own members of `joinLeave` channels, per channel key. */
  private readonly own = new Map<string, { readonly ref: ChannelRef; readonly entries: Map<string, { entry: PresenceEntry; ann: number }> }>();
  /**
   * Numbers each announcement of a membership (a join, or a join announced again after a
   * pause or a reconnect), so that the change feed can tell a repeated event from a new one
   * of the same connection and channel.
   */
  private announcements = 0;
  private aliveSub: Subscription | undefined;
  /** `watchAll`'s subscription. */
  private allSub: Subscription | undefined;
  private lastBeat = 0;
  private lastCheck = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  /**
   * Nodes that did not answer the list after this node's reconnect (gone, or not back yet):
   * their members were kept, and are checked against a new list when the node is next heard.
   */
  private readonly unconfirmed = new Set<string>();

  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly t: NatsTimings,
    private readonly log: Logger,
    /** This node's id; undefined for processes that hold no connections (the control API). */
    private readonly node: string | undefined,
    private readonly list: (ch: ChannelRef) => Promise<PresenceAnswers>,
    private readonly now: () => number = Date.now,
  ) {
    conn.stop.addEventListener('abort', () => {
      for (const t of this.timers) clearInterval(t);
    }, { once: true });
  }

  /** Starts the heartbeat and the dead-node check (gateways, once connected). */
  start(): void {
    if (this.node === undefined || this.lastBeat > 0) return;
    this.lastBeat = this.now();
    this.timers.push(setInterval(() => this.beat(), this.t.aliveEveryMs).unref());
    this.startChecks();
    // One heartbeat now, members or not: if this node id ran before (a restarted container),
    // its new boot id tells the others at once that the old run's members are gone.
    this.publishAlive();
  }

  private startChecks(): void {
    if (this.lastCheck > 0) return;
    this.lastCheck = this.now();
    this.timers.push(setInterval(() => this.check(), this.t.deadCheckEveryMs).unref());
  }

  /**
   * Watches every `joinLeave` channel, with one subscription to `P.jl.>`: the change feed's
   * writer (the control API) does, so that a dead gateway's leaves are written even where no
   * other gateway has subscribers. A channel is watched from its first event on (seeded
   * with a presence list then), and forgotten while it has no known member.
   */
  watchAll(nc: NatsConnection, resolve: (tenant: string, name: string) => ChannelRef | undefined): void {
    if (this.allSub !== undefined) return;
    this.aliveSub ??= this.subscribeAlive(nc);
    this.allSub = nc.subscribe(this.subjects.joinLeaveAll, {
      callback: guardedCallback<Msg>(this.log, 'join/leave event', (m) => {
        const parts = m.subject.split('.');
        const tenant = parts[parts.length - 2] as string;
        let name: string;
        try {
          name = channelFromToken(parts[parts.length - 1] as string);
        } catch {
          return; // not a subject we make
        }
        let w = this.watched.get(`${tenant}/${name}`);
        if (w === undefined) {
          const ref = resolve(tenant, name);
          if (ref === undefined || ref.opts.joinLeave !== true) return;
          w = { ref, members: new Map(), sub: undefined, seeding: new Set(), touched: undefined, resyncs: 0, answered: undefined };
          this.watched.set(ref.key, w);
          void this.seed(w);
        }
        this.onEvent(w, m);
      }),
    });
    this.startChecks();
  }

  setHandler(handler: PresenceChangeHandler): void {
    this.handler = handler;
  }

  // ---- sending -------------------------------------------------------------------------

  /** This node's connection joined a `joinLeave` channel. */
  joined(ch: ChannelRef, entry: PresenceEntry): void {
    let o = this.own.get(ch.key);
    if (o === undefined) this.own.set(ch.key, (o = { ref: ch, entries: new Map() }));
    const own = { entry, ann: ++this.announcements };
    o.entries.set(entry.conn, own);
    if (this.own.size === 1 && o.entries.size === 1) this.publishAlive(); // the others learn of this node at once
    this.send(ch, 'join', entry, own.ann);
  }

  /** It left (only a connection that joined is announced). */
  left(ch: ChannelRef, conn: string): void {
    const o = this.own.get(ch.key);
    const own = o?.entries.get(conn);
    if (o === undefined || own === undefined) return;
    o.entries.delete(conn);
    if (o.entries.size === 0) this.own.delete(ch.key);
    this.send(ch, 'leave', own.entry, own.ann);
  }

  /** The announcement number of this node's connection in a channel (presence answers carry it). */
  annOf(key: string, conn: string): number | undefined {
    return this.own.get(key)?.entries.get(conn)?.ann;
  }

  /** Announces every member of this node again, each with a new number. */
  private announceAgain(): void {
    for (const o of this.own.values()) {
      for (const own of o.entries.values()) {
        own.ann = ++this.announcements;
        this.send(o.ref, 'join', own.entry, own.ann);
      }
    }
  }

  private send(ch: ChannelRef, type: 'join' | 'leave', e: PresenceEntry, ann: number): void {
    // `current`, not `nc`: while reconnecting the client buffers publishes rather than drop them.
    const nc = this.conn.current();
    if (nc === undefined) return;
    const wire: Wire = { type, conn: e.conn, ...(e.user !== undefined ? { user: e.user } : {}), ...(type === 'join' && e.info !== undefined ? { info: e.info } : {}), boot: this.boot, ann };
    try {
      nc.publish(this.subjects.joinLeave(ch), JSON.stringify(wire));
    } catch (err) {
      this.log.warn({ err: errorText(err), channel: ch.key }, 'join/leave publish failed');
    }
  }

  /**
   * Back after a NATS disconnect: what was missed meanwhile is made good. This node's members
   * are announced again (others may have declared it dead: those that did not ignore the
   * repeats), and each watched channel is listed again: a known member the list lacks left
   * while we were away (its leave is announced now), an unknown one joined (its join is).
   */
  reconnected(): void {
    // The silence while we were away was ours: every node gets a fresh deadline.
    const now = this.now();
    for (const n of this.nodes.values()) n.at = now;
    this.announceAgain();
    for (const w of this.watched.values()) void this.resync(w);
  }

  /**
   * Reconciles a watched channel with a new list. A known member the list lacks left while
   * this node could not hear it, if its node answered; a node that did not answer (gone, or
   * not reconnected yet: its leave may be lost) is listed again when next heard from
   * (`recheck`: then an absent member of that node leaves), or its deadline passes.
   */
  private async resync(w: Watched, recheck?: string, silent = false): Promise<void> {
    let answers: PresenceAnswers;
    const touched = (w.touched ??= new Set());
    w.resyncs++;
    try {
      answers = await this.list(w.ref);
    } catch (err) {
      this.log.warn({ err: errorText(err), channel: w.ref.key }, 'join/leave: presence list failed after a reconnect');
      return;
    } finally {
      if (--w.resyncs === 0) w.touched = undefined;
    }
    if (this.watched.get(w.ref.key) !== w) return;
    const listed = new Map<string, PresenceEntry>();
    const answered = answeredBy(answers);
    for (const n of answered) w.answered?.add(n);
    for (const e of answers.entries) {
      const node = nodeOf(e.conn);
      if (node !== this.node && !touched.has(e.conn) && (!silent || node === recheck)) listed.set(e.conn, e);
    }
    for (const [conn, m] of w.members) {
      if (listed.has(conn) || touched.has(conn)) continue;
      if (recheck !== undefined && m.node !== recheck) continue;
      if (recheck === undefined && !answered.has(m.node)) {
        this.unconfirmed.add(m.node);
        continue;
      }
      w.members.delete(conn);
      this.emit(w.ref, { type: 'leave', entry: m.entry, ...annField(m.ann) });
    }
    for (const [conn, e] of listed) {
      if (w.members.has(conn)) continue;
      const node = nodeOf(conn);
      this.heard(node, undefined);
      const m: Member = { entry: entryOf(e), node, boot: this.nodes.get(node)?.boot, ann: annOf(e) };
      w.members.set(conn, m);
      // Silent: a member the seeding list missed joined before this node's subscribers.
      if (!silent) this.emit(w.ref, { type: 'join', entry: m.entry, ...annField(m.ann) });
    }
  }

  private beat(): void {
    const now = this.now();
    const gapMs = now - this.lastBeat;
    const paused = gapMs > this.t.deadAfterMs;
    this.lastBeat = now;
    if (this.own.size === 0) return;
    this.publishAlive();
    if (!paused) return;
    // The others may have declared this node dead: announce its members again (a node that
    // did not ignores the repeats, it still knows them).
    this.log.warn({ gapMs }, 'paused past the dead-node deadline; announcing members again');
    this.announceAgain();
  }

  private publishAlive(): void {
    const nc = this.conn.current();
    if (nc === undefined || this.node === undefined) return;
    try {
      nc.publish(this.subjects.alive(this.node), this.boot);
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'heartbeat publish failed');
    }
  }

  // ---- receiving -----------------------------------------------------------------------

  watch(ref: ChannelRef): void {
    if (this.watched.has(ref.key)) return;
    const w: Watched = { ref, members: new Map(), sub: undefined, seeding: new Set(), touched: undefined, resyncs: 0, answered: undefined };
    this.watched.set(ref.key, w);
    const nc = this.conn.current();
    if (nc === undefined) {
      // Not connected yet: the broker's subscribe of the same channel fails too, and with it
      // the hub's subscribe, which unwatches.
      w.seeding = undefined;
      return;
    }
    this.aliveSub ??= this.subscribeAlive(nc);
    w.sub = nc.subscribe(this.subjects.joinLeave(ref), { callback: guardedCallback<Msg>(this.log, 'join/leave event', (m) => this.onEvent(w, m)) });
    void this.seed(w);
  }

  unwatch(ref: ChannelRef): void {
    const w = this.watched.get(ref.key);
    if (w === undefined) return;
    this.watched.delete(ref.key);
    w.sub?.unsubscribe();
    if (this.watched.size === 0 && this.allSub === undefined) {
      this.aliveSub?.unsubscribe();
      this.aliveSub = undefined;
      this.nodes.clear();
      this.unconfirmed.clear();
    }
  }

  private subscribeAlive(nc: NatsConnection): Subscription {
    return nc.subscribe(this.subjects.aliveAll, {
      callback: guardedCallback<Msg>(this.log, 'heartbeat', (m) => {
        const node = m.subject.slice(m.subject.lastIndexOf('.') + 1);
        if (node === this.node) return;
        this.heard(node, m.data.length > 0 ? m.string() : undefined);
        for (const w of this.watched.values()) this.seedMissed(w, node);
      }),
    });
  }

  /** The members that joined before this node watched: known, not announced (they joined before its subscribers). */
  private async seed(w: Watched): Promise<void> {
    let answers: PresenceAnswers;
    try {
      answers = await this.list(w.ref);
    } catch (err) {
      // Their later leaves will be dropped as unknown: logged, the subscribers list presence themselves.
      this.log.warn({ err: errorText(err), channel: w.ref.key }, 'join/leave: presence list failed');
      w.seeding = undefined;
      return;
    }
    if (this.watched.get(w.ref.key) !== w) return;
    for (const e of answers.entries) {
      const node = nodeOf(e.conn);
      if (node === this.node || w.members.has(e.conn) || w.seeding?.has(e.conn) === true) continue;
      this.heard(node, undefined);
      w.members.set(e.conn, { entry: entryOf(e), node, boot: this.nodes.get(node)?.boot, ann: annOf(e) });
    }
    w.seeding = undefined;
    w.answered = answeredBy(answers);
  }

  /** `node` did not answer the channel's seeding list (too late, under load): its members are listed again, silently. */
  private seedMissed(w: Watched, node: string): void {
    if (w.answered === undefined || w.answered.has(node)) return;
    w.answered.add(node);
    void this.resync(w, node, true);
  }

  private onEvent(w: Watched, m: Msg): void {
    const ev = JSON.parse(m.string()) as Wire;
    if (typeof ev.conn !== 'string' || (ev.type !== 'join' && ev.type !== 'leave')) return;
    const node = nodeOf(ev.conn);
    if (node === this.node || ev.boot === this.boot) return;
    this.heard(node, ev.boot);
    w.touched?.add(ev.conn);
    const missed = w.answered !== undefined && !w.answered.has(node);
    this.seedMissed(w, node);
    const ann = typeof ev.ann === 'number' ? ev.ann : undefined;
    if (ev.type === 'join') {
      const known = w.members.get(ev.conn);
      if (known !== undefined) {
        if (ann !== undefined) known.ann = ann; // announced again: later leaves carry this number
        return;
      }
      const entry: PresenceEntry = { conn: ev.conn, ...(ev.user !== undefined ? { user: ev.user } : {}), ...(ev.info !== undefined ? { info: ev.info } : {}) };
      w.members.set(ev.conn, { entry, node, boot: ev.boot, ann });
      this.emit(w.ref, { type: 'join', entry, ...annField(ann) });
      return;
    }
    const known = w.members.get(ev.conn);
    if (known === undefined) {
      w.seeding?.add(ev.conn);
      if (missed) {
        // A member from before this node watched, which the seeding list missed: its leave was never announced.
        const entry: PresenceEntry = { conn: ev.conn, ...(ev.user !== undefined ? { user: ev.user } : {}) };
        this.emit(w.ref, { type: 'leave', entry, ...annField(ann) });
      }
      return; // never known, or already announced gone (its node was declared dead)
    }
    w.members.delete(ev.conn);
    this.emit(w.ref, { type: 'leave', entry: known.entry, ...annField(ann ?? known.ann) });
  }

  /** Node `node` is alive now; a new boot id means its previous run's members are gone. */
  private heard(node: string, boot: string | undefined): void {
    if (this.unconfirmed.delete(node)) for (const w of this.watched.values()) void this.resync(w, node);
    const n = this.nodes.get(node);
    if (n === undefined) {
      this.nodes.set(node, { at: this.now(), boot });
      return;
    }
    n.at = this.now();
    if (boot === undefined) return;
    if (n.boot !== undefined && n.boot !== boot) this.expire(node, (m) => m.boot !== boot);
    n.boot = boot;
  }

  private check(): void {
    const now = this.now();
    const late = now - this.lastCheck > 3 * this.t.deadCheckEveryMs;
    this.lastCheck = now;
    if (late || !this.conn.ready()) {
      // This process was paused, or cut off from NATS: the silence was ours. Every node gets
      // a fresh deadline (a node that died meanwhile is found dead a deadline after we are back).
      for (const n of this.nodes.values()) n.at = now;
      return;
    }
    for (const [node, n] of this.nodes) {
      if (now - n.at <= this.t.deadAfterMs) continue;
      this.nodes.delete(node);
      this.expire(node, () => true);
    }
    if (this.allSub !== undefined) {
      for (const [key, w] of this.watched) if (w.members.size === 0 && w.seeding === undefined && w.touched === undefined) this.watched.delete(key);
    }
  }

  /** Announces `leave` for the known members of `node` that `which` picks, and forgets them. */
  private expire(node: string, which: (m: Member) => boolean): void {
    for (const w of this.watched.values()) {
      for (const [conn, m] of w.members) {
        if (m.node !== node || !which(m)) continue;
        w.members.delete(conn);
        this.emit(w.ref, { type: 'leave', entry: m.entry, ...annField(m.ann) });
      }
    }
  }

  private emit(ref: ChannelRef, change: PresenceChange): void {
    try {
      this.handler(ref, change);
    } catch (err) {
      this.log.error({ err, channel: ref.key }, 'join/leave handler failed');
    }
  }
}

/** The nodes that answered a list; a node of an older version names itself in no header, but its entries show it answered. */
function answeredBy(answers: PresenceAnswers): Set<string> {
  const nodes = new Set(answers.nodes);
  for (const e of answers.entries) nodes.add(nodeOf(e.conn));
  return nodes;
}

/** A presence answer's entry: the entry, and the announcement number the gateway adds to it. */
const annOf = (e: PresenceEntry): number | undefined => {
  const ann = (e as { ann?: unknown }).ann;
  return typeof ann === 'number' ? ann : undefined;
};
const entryOf = (e: PresenceEntry): PresenceEntry => ({ conn: e.conn, ...(e.user !== undefined ? { user: e.user } : {}), ...(e.info !== undefined ? { info: e.info } : {}) });
const annField = (ann: number | undefined): { ann?: number } => (ann === undefined ? {} : { ann });
