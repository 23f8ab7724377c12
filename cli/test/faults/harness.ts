import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { eventually } from '@switchyard/testkit';
import { FaultCluster, type Slot } from './cluster.js';
import { NativeProtocol, SiteProtocol } from './protocols.js';
import { SteadyPublisher } from './publisher.js';
import { ReadyzProber } from './readyz-probe.js';
import { ResumingClient } from './resuming-client.js';
import { CLIENTS_PER_PROTOCOL, PUBLISH_RATE } from './settings.js';

/** Everything a fault acts on and everything the suite watches it with. */
export interface Harness {
  readonly t0: number;
  readonly channel: string;
  readonly cluster: FaultCluster;
  readonly prober: ReadyzProber;
  readonly publisher: SteadyPublisher;
  readonly clients: readonly ResumingClient[];
  /** Stops the publisher, lets the clients catch up, stops them and the probes (the processes die with the test). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the cluster, probes every process's `/readyz`, subscribes the clients (native and
 * site, homes alternating between the two gateways) to a fresh `chat:` channel, then starts
 * the publisher; resolves once every client has received a message.
 */
export async function startHarness(t: TestContext): Promise<Harness> {
  const t0 = Date.now();
  const cluster = await FaultCluster.start(t);
  const prober = new ReadyzProber();
  cluster.onStart = (p) => prober.watch(p);
  for (const p of cluster.live()) prober.watch(p);
  const channel = `chat:faults-${randomBytes(4).toString('hex')}`;
  const clients: ResumingClient[] = [];
  for (let i = 0; i < CLIENTS_PER_PROTOCOL; i++) {
    const home = (i % 2) as Slot;
    clients.push(new ResumingClient(`native${i}`, home, new NativeProtocol(channel, `user${i}`), cluster));
    clients.push(new ResumingClient(`site${i}`, home, new SiteProtocol(channel, () => cluster.control.url), cluster));
  }
  const publisher = new SteadyPublisher(() => cluster.control, channel, PUBLISH_RATE);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await publisher.stop();
      // The last messages are given time to arrive; what still lacks then is counted as lost by the caller.
      await eventually(() => clients.every((c) => c.maxN >= publisher.lastAcked), 'every client has the last message', { timeoutMs: 10_000, everyMs: 50 }).catch(() => {});
      await Promise.all(clients.map((c) => c.stop()));
      await prober.stop();
    })());
  t.after(stop);
  for (const c of clients) c.start();
  await eventually(() => clients.every((c) => c.current?.slot === c.home), 'every client subscribed on its home gateway', { timeoutMs: 15_000, everyMs: 50 });
  publisher.start();
  await eventually(() => publisher.lastAcked > 0 && clients.every((c) => c.maxN >= publisher.lastAcked), 'every client received the first messages', { timeoutMs: 15_000, everyMs: 50 });
  return { t0, channel, cluster, prober, publisher, clients, stop };
}
