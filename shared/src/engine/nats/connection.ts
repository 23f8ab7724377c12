import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../../log.js';
import { brokerUnavailable, errorText } from './errors.js';
import type { NatsConnectOptions, NatsTimings } from './options.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { retry } from './retry.js';

/** What the engine's parts do at points of the connection's life. */
export interface ConnectionHooks {
  /** Connected for the first time: set up the subscriptions that answer other nodes. */
  readonly connected: (nc: NatsConnection) => void;
  /**
   * Makes the engine usable (streams in place, epochs learned). Retried until it resolves or
   * the connection is closed; the engine is ready only once it has resolved.
   */
  readonly prepare: (jsm: JetStreamManager) => Promise<void>;
  /** Back after a disconnect (the client resubscribed by itself). */
  readonly reconnected: () => void;
}

/**
 * The engine's one NATS connection: the first connect (a loop that close() can stop), the
 * client's status (disconnected / reconnected), readiness, and an orderly or abrupt end.
 *
 * Ready means: connected now, `prepare` has succeeded once, and not closed. Everything that
 * talks to NATS goes through `nc()` / `js()` / `jsm()`, which throw the fixed `unavailable`
 * error otherwise, so callers never reach a half-started client.
 */
export class BrokerConnection {
  private client: NatsConnection | undefined;
  private jsClient: JetStreamClient | undefined;
  private jsManager: JetStreamManager | undefined;
  private connected = false;
  private prepared = false;
  private closed = false;
  /** The last round trip to NATS took too long, or has not come back yet. */
  private stalled = false;
  /** Aborted by close()/abort(): ends every retry loop of the engine. */
  private readonly stopping = new AbortController();
  private readonly readyWaiters = new Set<() => void>();

  constructor(
    private readonly o: NatsConnectOptions,
    private readonly t: NatsTimings,
    private readonly log: Logger,
  ) {}

  /** Aborted once the engine closes; pass it to loops that must end with it. */
  get stop(): AbortSignal {
    return this.stopping.signal;
  }

  /**
   * Connects (retrying every `retryEveryMs` until it works or the connection is closed), runs
   * the hooks, and resolves once ready, or once closed before that. Our own loop rather than
   * the client's `waitOnFirstConnect`, which nothing can stop: a process told to shut down
   * before NATS was ever up could not exit. Once connected, the client reconnects by itself.
   */
  async start(hooks: ConnectionHooks): Promise<void> {
    const o = this.o;
    const options: ConnectionOptions = {
      servers: [...o.servers],
      name: o.name ?? 'switchyard',
      maxReconnectAttempts: -1,
      reconnectTimeWait: this.t.reconnectWaitMs,
      pingInterval: this.t.pingIntervalMs,
      maxPingOut: this.t.maxPingsOut,
      ...(o.user !== undefined ? { user: o.user } : {}),
      ...(o.pass !== undefined ? { pass: o.pass } : {}),
      ...(o.token !== undefined ? { token: o.token } : {}),
      ...(o.tlsCaFile !== undefined ? { tls: { caFile: o.tlsCaFile } } : {}),
    };
    const nc = await retry(() => connect(options), {
      everyMs: this.t.retryEveryMs,
      stop: this.stop,
      onFailure: (err) => this.log.warn({ err: errorText(err), servers: o.servers }, 'NATS not reachable yet; retrying'),
    });
    if (nc === undefined) return; // closed before NATS was ever reached
    if (this.closed) {
      await nc.close();
      return;
    }
    this.client = nc;
    this.connected = true;
    this.jsClient = jetstream(nc, { timeout: this.t.jetStreamTimeoutMs });
    void this.watchStatus(nc, hooks);
    void this.probe(nc);
    hooks.connected(nc);
    const prepared = await retry(
      async () => {
        // checkAPI off: the first JetStream call of `prepare` finds out, inside this loop.
        this.jsManager ??= await jetstreamManager(nc, { timeout: this.t.jetStreamTimeoutMs, checkAPI: false });
        await hooks.prepare(this.jsManager);
        return true;
      },
      {
        everyMs: this.t.retryEveryMs,
        stop: this.stop,
        onFailure: (err) => this.log.warn({ err: errorText(err) }, 'waiting for JetStream streams'),
      },
    );
    if (prepared === true) {
      this.prepared = true;
      this.changed();
    }
  }

  private async watchStatus(nc: NatsConnection, hooks: ConnectionHooks): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.log.warn('NATS disconnected');
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.stalled = false; // a new socket: the next probe tells
        this.log.info('NATS reconnected');
        this.changed();
        hooks.reconnected();
      }
    }
  }

  /**
   * Round trips to NATS while connected: `connected` only says the socket is open, not that
   * the server answers or that the client still reads what it gets. A probe that is late
   * makes the engine not ready until one comes back in time (or the client reconnects).
   */
  private async probe(nc: NatsConnection): Promise<void> {
    const t = this.t;
    while (!this.closed) {
      await sleep(t.probeEveryMs, undefined, { signal: this.stop }).catch(() => {}); // aborted: the loop ends
      if (this.closed || !this.connected) continue;
      const late = new AbortController();
      const outcome = await Promise.race([
        nc.flush().then(() => 'answered' as const, () => 'failed' as const),
        sleep(t.probeTimeoutMs, 'late' as const, { signal: late.signal }).catch(() => 'failed' as const),
      ]);
      late.abort();
      if (outcome === 'late' && !this.stalled) {
        this.stalled = true;
        this.log.warn({ timeoutMs: t.probeTimeoutMs }, 'NATS round trip timed out: not ready until one completes');
      } else if (outcome === 'answered' && this.stalled) {
        this.stalled = false;
        this.log.info('NATS round trip completed: ready again');
        this.changed();
      }
      // 'failed': a closed or reconnecting client, which `connected` already reports.
    }
  }

  /** Whether publishes and subscribes can succeed now. */
  ready(): boolean {
    return this.connected && this.prepared && !this.closed && !this.stalled;
  }

  /** The client, when ready; otherwise throws the fixed `unavailable` error. */
  nc(): NatsConnection {
    if (this.client === undefined || !this.ready()) throw brokerUnavailable();
    return this.client;
  }

  /** The JetStream client, when ready (see `nc`). */
  js(): JetStreamClient {
    this.nc();
    return this.jsClient as JetStreamClient;
  }

  /** The JetStream manager, when ready (see `nc`). */
  jsm(): JetStreamManager {
    this.nc();
    return this.jsManager as JetStreamManager;
  }

  /** The client once connected, ready or not (for subscriptions that must outlive a disconnect). */
  current(): NatsConnection | undefined {
    return this.closed ? undefined : this.client;
  }

  /**
   * Resolves once ready; rejects with the fixed `unavailable` error after `timeoutMs`, or at
   * once when closed. Woken by the state changes themselves, not by polling.
   */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.ready()) return Promise.resolve();
    if (this.closed) return Promise.reject(brokerUnavailable());
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.readyWaiters.delete(wake);
        if (this.ready()) resolve();
        else reject(brokerUnavailable());
      };
      const timer = setTimeout(wake, timeoutMs);
      this.readyWaiters.add(wake);
    });
  }

  /** Wakes the waiters that can be answered now: ready, or never again. */
  private changed(): void {
    if (!this.ready() && !this.closed) return;
    for (const wake of [...this.readyWaiters]) wake();
  }

  /** Not ready from now on; pending work drains, then the connection closes. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.end();
    const nc = this.client;
    if (nc !== undefined && !nc.isClosed()) {
      await nc.drain().catch(() => nc.close());
    }
  }

  /** Drops the connection without draining or unsubscribing: what a crashed node looks like. */
  async abort(): Promise<void> {
    this.end();
    await this.client?.close();
  }

  private end(): void {
    this.closed = true;
    this.stopping.abort();
    this.changed();
  }
}

