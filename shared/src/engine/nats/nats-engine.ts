import type { Metrics } from '../../metrics.js';
import type { Engine } from '../engine.js';
import { NatsBroker } from './broker.js';
import { BrokerConnection } from './connection.js';
import { NatsHistory } from './history.js';
import { KvCollections } from './kv-collections.js';
import { LiveRelay } from './live-relay.js';
import { NatsConnectionRouter, NatsNodeDirectory } from './node-rpc.js';
import { timingsOf, type NatsEngineOptions } from './options.js';
import { JoinLeaveRelay } from './join-leave.js';
import { NatsPresence } from './presence.js';
import { NatsPresenceFeed, planPresenceStream } from './presence-feed.js';
import { resolveChannel } from '../../model/channel.js';
import { Streams, planStreams } from './streams.js';
import { Subjects } from './subjects.js';

/**
 * The cluster engine: history in JetStream (one stream per namespace, RePublish to live
 * subjects), live fan-out over core NATS by interest, gaps filled from the stream, presence
 * and stats by scatter-gather to the gateways, per-connection commands to the owning node,
 * collections in KV. Connects in the background: `ready()` says when publishes and
 * subscribes can succeed. Failures reach callers as the fixed `unavailable` error; the NATS
 * client's own text is logged, never returned.
 */
export class NatsEngine implements Engine {
  readonly kind = 'nats';
  /** Times the NATS connection came back after a loss. */
  reconnects = 0;
  readonly broker: NatsBroker;
  readonly history: NatsHistory;
  readonly presence: NatsPresence;
  readonly presenceEvents: JoinLeaveRelay;
  readonly presenceFeed: NatsPresenceFeed;
  /** The control API's: every `joinLeave` channel's changes into the feed. */
  private readonly feedWriter: JoinLeaveRelay | undefined;
  readonly nodes: NatsNodeDirectory;
  readonly connections: NatsConnectionRouter;
  readonly collections: KvCollections;
  private readonly conn: BrokerConnection;
  private readonly relay: LiveRelay;
  private readonly started: Promise<void>;

  constructor(o: NatsEngineOptions) {
    const log = o.log;
    const t = timingsOf(o);
    const prefix = o.prefix ?? 'sy';
    const subjects = new Subjects(prefix);
    const presenceStream = planPresenceStream(o.tenants, subjects, o.replicas ?? 1);
    const plans = planStreams(o.tenants, subjects, o.replicas ?? 1);
    const streams = new Streams(presenceStream === undefined ? plans : [...plans, presenceStream], subjects, o.manageStreams, log);
    const conn = (this.conn = new BrokerConnection(o, t, log));
    this.collections = new KvCollections(() => conn.nc(), prefix, log, o.replicas ?? 1);
    this.history = new NatsHistory(conn, subjects, streams, t, log);
    this.relay = new LiveRelay(conn, subjects, this.history, this.collections, t, log);
    this.broker = new NatsBroker(conn, subjects, this.relay, log, o.replicas ?? 1);
    this.presenceEvents = new JoinLeaveRelay(conn, subjects, t, log, o.servePresence ? o.node : undefined, (ch) => this.presence.gather(ch, t.joinLeaveStallMs));
    this.presence = new NatsPresence(conn, subjects, t, log, o.servePresence ? o.node : undefined, this.presenceEvents);
    const feed = (this.presenceFeed = new NatsPresenceFeed(conn, subjects, log));
    if (o.manageStreams && presenceStream !== undefined) {
      this.feedWriter = new JoinLeaveRelay(conn, subjects, t, log, undefined, (ch) => this.presence.gather(ch, t.joinLeaveStallMs));
      this.feedWriter.setHandler((ch, c) => feed.write(ch, c));
    }
    this.nodes = new NatsNodeDirectory(conn, subjects, t, log);
    this.connections = new NatsConnectionRouter(conn, subjects, t, log);
    this.started = conn
      .start({
        connected: (nc) => {
          if (o.servePresence) {
            this.presence.attach(nc);
            this.presenceEvents.start();
          }
          this.connections.attach(nc);
          this.nodes.attach(nc);
          this.feedWriter?.watchAll(nc, (tenant, name) => {
            const t = o.tenants.tenants.get(tenant);
            if (t === undefined) return undefined;
            try {
              return resolveChannel(t, name);
            } catch {
              return undefined; // not a valid channel name: no one can be present in it
            }
          });
        },
        prepare: (jsm) => streams.prepare(jsm),
        reconnected: () => {
          this.reconnects++;
          this.relay.catchUp();
          this.presenceEvents.reconnected();
          this.feedWriter?.reconnected();
        },
      })
      .then(() => {
        if (conn.ready()) log.info({ servers: o.servers, streams: streams.count }, 'NATS engine ready');
      });
    this.started.catch((err: unknown) => log.error({ err }, 'NATS engine failed to start'));
  }

  /** Resolves once connected with every stream in place, or once closed before that. */
  whenStarted(): Promise<void> {
    return this.started;
  }

  ready(): boolean {
    return this.conn.ready();
  }

  /** Messages this node received on live subjects and collection watches (for tests and metrics). */
  get received(): number {
    return this.relay.received;
  }

  /** Channels this node holds a live subscription or watch for (for tests and metrics). */
  liveSubscriptions(): number {
    return this.relay.size;
  }

  registerMetrics(metrics: Metrics): void {
    metrics.counter('switchyard_nats_live_messages_total', 'Messages this node received on live NATS subjects (only for channels it has subscribers on).', () => this.received);
    metrics.gauge('switchyard_nats_live_subscriptions', 'Live NATS subjects this node is subscribed to (one per channel with local subscribers).', () => this.liveSubscriptions());
    metrics.gauge('switchyard_engine_ready', '1 when the engine can publish and subscribe (NATS connected, streams in place).', () => (this.ready() ? 1 : 0));
  }

  /** Not ready from now on; drains the connection. Idempotent. */
  close(): Promise<void> {
    return this.conn.close();
  }

  /** Drops the connection without draining or unsubscribing: what a crashed node looks like. */
  abort(): Promise<void> {
    return this.conn.abort();
  }
}
