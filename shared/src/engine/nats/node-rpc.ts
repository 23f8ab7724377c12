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
export async function gather(nc: NatsConnection, subject: string, stallMs: number, maxWaitMs: number): Promise<Msg[]> {
  const out: Msg[] = [];
  try {
    const replies = await nc.requestMany(subject, '', { strategy: 'stall', stall: stallMs, maxWait: maxWaitMs });
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

/** Cluster stats: every node with a snapshot answers `P.stats`. */
export class NatsNodeDirectory implements NodeDirectory {
  private snapshot: (() => NodeSnapshot) | undefined;

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
        if (this.snapshot !== undefined) m.respond(JSON.stringify(this.snapshot()));
      }),
    });
  }

  serveStats(snapshot: () => NodeSnapshot): void {
    this.snapshot = snapshot;
  }

  async gatherStats(): Promise<NodeSnapshot[]> {
    const nc = this.conn.nc();
    let replies: Msg[];
    try {
      replies = await gather(nc, this.subjects.stats, this.t.presenceStallMs, this.t.gatherMaxWaitMs);
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
