import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../../log.js';
import {
  NODE_ID_RE,
  nodeOf,
  type ConnectionCommand,
  type ConnectionReply,
  type ConnectionRouter,
  type NodeDirectory,
  type NodeSnapshot,
  type StatsQuery,
} from '../engine.js';
import type { BrokerConnection } from './connection.js';
import { errorText, guardedCallback, isNoResponders, unavailable } from './errors.js';
import type { NatsTimings } from './options.js';
import type { Subjects } from './subjects.js';

/**
 * Questions from one node to the others over core NATS request/reply: a scatter-gather to
 * every node (presence, stats), and a command to the one node that holds a connection.
 */

/**
 * Asks every node subscribed to `subject` and collects the replies: it waits `stallMs` for
 * more after each one, `maxWaitMs` at most in all. No subscriber at all is an empty answer,
 * not an error: a node that is gone simply does not answer. Throws raw NATS errors otherwise.
 */
export async function gather(nc: NatsConnection, subject: string, stallMs: number, maxWaitMs: number, payload = ''): Promise<Msg[]> {
  const out: Msg[] = [];
  try {
    const replies = await nc.requestMany(subject, payload, { strategy: 'stall', stall: stallMs, maxWait: maxWaitMs });
    for await (const r of replies) out.push(r);
  } catch (err) {
    if (!isNoResponders(err)) throw err;
  }
  return out;
}


/**
 * Per-connection commands: `P.node.<node id>` reaches the node that holds the connection
 * (its id is the connection id's prefix), which answers with a ConnectionReply.
 */
export class NatsConnectionRouter implements ConnectionRouter {
  private readonly served = new Map<string, (cmd: ConnectionCommand) => ConnectionReply>();
  private nc: NatsConnection | undefined;

  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly t: NatsTimings,
    private readonly log: Logger,
  ) {}

  /** Subscribes the nodes served so far, and from now on each one at once. */
  attach(nc: NatsConnection): void {
    this.nc = nc;
    for (const [nodeId, handler] of this.served) this.listen(nc, nodeId, handler);
  }

  serve(nodeId: string, handler: (cmd: ConnectionCommand) => ConnectionReply): void {
    this.served.set(nodeId, handler);
    if (this.nc !== undefined) this.listen(this.nc, nodeId, handler);
  }

  private listen(nc: NatsConnection, nodeId: string, handler: (cmd: ConnectionCommand) => ConnectionReply): void {
    nc.subscribe(this.subjects.node(nodeId), {
      callback: guardedCallback<Msg>(this.log, 'connection command', (m) => {
        let reply: ConnectionReply;
        try {
          reply = handler(m.json<ConnectionCommand>());
        } catch (e) {
          this.log.warn({ err: errorText(e) }, 'bad connection command');
          reply = { status: 'gone' };
        }
        m.respond(JSON.stringify(reply));
      }),
    });
  }

  async send(cmd: ConnectionCommand): Promise<ConnectionReply> {
    const nc = this.conn.nc();
    const node = nodeOf(cmd.conn);
    if (!NODE_ID_RE.test(node)) return { status: 'gone' };
    try {
      const r = await nc.request(this.subjects.node(node), JSON.stringify(cmd), { timeout: this.t.commandTimeoutMs });
      return r.json<ConnectionReply>();
    } catch (err) {
      // No gateway with that id is alive: the connection is gone with it.
      if (isNoResponders(err)) return { status: 'gone' };
      throw unavailable(this.log, err, 'connection command failed', { op: cmd.op, node });
    }
  }
}

/** The largest `top` one stats request may ask of each node. */
export const MAX_STATS_TOP = 1000;

/**
 * A stats request's body as a query: empty (older control APIs, `GET /stats`) or malformed
 * asks for nothing more; `top` is clamped to 0..MAX_STATS_TOP.
 */
export function parseStatsQuery(text: string): StatsQuery {
  if (text === '') return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof raw !== 'object' || raw === null) return {};
  const { top, tenant } = raw as Record<string, unknown>;
  const n = typeof top === 'number' && Number.isFinite(top) ? Math.min(MAX_STATS_TOP, Math.max(0, Math.floor(top))) : 0;
  return { ...(n > 0 ? { top: n } : {}), ...(typeof tenant === 'string' ? { tenant } : {}) };
}

/** Cluster stats: every node with a snapshot answers `P.stats`; the request's body is a StatsQuery. */
export class NatsNodeDirectory implements NodeDirectory {
  private snapshot: ((q: StatsQuery) => NodeSnapshot) | undefined;

  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly t: NatsTimings,
    private readonly log: Logger,
  ) {}

  /** Answers stats requests from now on (with nothing until `serveStats` is called). */
  attach(nc: NatsConnection): void {
    nc.subscribe(this.subjects.stats, {
      callback: guardedCallback<Msg>(this.log, 'stats request', (m) => {
        if (this.snapshot !== undefined) m.respond(JSON.stringify(this.snapshot(parseStatsQuery(m.string()))));
      }),
    });
  }

  serveStats(snapshot: (q: StatsQuery) => NodeSnapshot): void {
    this.snapshot = snapshot;
  }

  async gatherStats(q: StatsQuery = {}): Promise<NodeSnapshot[]> {
    const nc = this.conn.nc();
    const payload = q.top !== undefined && q.top > 0 ? JSON.stringify(q) : '';
    let replies: Msg[];
    try {
      replies = await gather(nc, this.subjects.stats, this.t.presenceStallMs, this.t.gatherMaxWaitMs, payload);
    } catch (err) {
      throw unavailable(this.log, err, 'stats gather failed');
    }
    const out: NodeSnapshot[] = [];
    for (const r of replies) {
      try {
        out.push(JSON.parse(r.string()) as NodeSnapshot);
      } catch {
        this.log.warn('malformed stats reply'); // one bad node must not hide the others
      }
    }
    return out;
  }
}
