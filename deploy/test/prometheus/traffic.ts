import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type WebSocket from 'ws';
import { eventually } from '@switchyard/testkit';
import { HOOK_TENANT, type Cluster } from './cluster.js';
import { NativeClient, openHookClient } from './clients.js';

const BACKEND = { authorization: 'Bearer demo-backend-secret', 'content-type': 'application/json' };
/** The channel every steady loop publishes to; namespace `chat`: history 100, clients may publish. */
export const ROOM = 'chat:room';

/** What the traffic did, for the test's diagnostics. */
export interface TrafficCounts {
  restPublishes: number;
  restRefused: number;
  wsPublishes: number;
  wsRefused: number;
  badRequests: number;
  hookConnections: number;
  hookFrames: number;
}

export interface Traffic {
  readonly counts: TrafficCounts;
  /** Channel messages the steady subscribers received. */
  delivered(): number;
  /**
   * A resume that recovers (after an earlier seq, same epoch) and one that cannot (another
   * epoch), on gateway g2. Resolves with the two answers' `recovered`.
   */
  resumes(): Promise<[boolean, boolean]>;
  /**
   * A client of g2 (small `--max-buffered-bytes`) that stops reading while 60 KB messages
   * are published to its 100 channels, until g2 closes it. Resolves with the close code the
   * client gets once it reads again (4100), and how many 6 MB publish rounds it took.
   */
  slowConsumer(): Promise<{ code: number; rounds: number }>;
  /** Stops the loops and closes the clients. */
  stop(): Promise<void>;
}

/**
 * Starts steady traffic on a cluster, each loop paced by a timer and ignoring refusals (NATS
 * is taken away during the test): native subscribers of `ROOM` on both gateways; a backend
 * publishing to `ROOM` over REST every 40 ms; a native client of g1 publishing to `ROOM`
 * every 100 ms; a WSaaS client of g1 that connects, sends 5 frames and closes, over and
 * over; a bad REST publish and an unknown native command every 500 ms.
 */
export async function startTraffic(cl: Cluster): Promise<Traffic> {
  const counts: TrafficCounts = { restPublishes: 0, restRefused: 0, wsPublishes: 0, wsRefused: 0, badRequests: 0, hookConnections: 0, hookFrames: 0 };
  const clients: NativeClient[] = [];
  const track = (c: NativeClient): NativeClient => {
    clients.push(c);
    return c;
  };
  const subscribers = [track(await NativeClient.open(cl.g1.url, 'sub-g1')), track(await NativeClient.open(cl.g2.url, 'sub-g2'))];
  for (const s of subscribers) await s.subscribe(ROOM);
  const publisher = track(await NativeClient.open(cl.g1.url, 'pub-g1'));

  let running = true;
  const loops: Promise<void>[] = [];
  const loop = (everyMs: number, body: () => Promise<void>): void => {
    loops.push(
      (async () => {
        while (running) {
          await body();
          await delay(everyMs);
        }
      })(),
    );
  };
  const post = (body: unknown): Promise<number> =>
    fetch(`${cl.control.url}/v1/publish`, { method: 'POST', headers: BACKEND, body: JSON.stringify(body) }).then(
      async (r) => {
        await r.arrayBuffer();
        return r.status;
      },
      () => 0,
    );

  let n = 0;
  loop(40, async () => {
    const status = await post({ tenant: 'demo', channel: ROOM, data: { n: ++n, from: 'rest' } });
    if (status === 200) counts.restPublishes++;
    else counts.restRefused++;
  });
  loop(100, async () => {
    try {
      await publisher.command({ type: 'publish', channel: ROOM, data: { n: ++n, from: 'ws' } });
      counts.wsPublishes++;
    } catch {
      // refused while NATS is away (unavailable), or timed out: counted, and the loop goes on
      counts.wsRefused++;
    }
  });
  loop(500, async () => {
    // bad_request (no channel), and unknown_command on the WebSocket
    await post({ tenant: 'demo' });
    publisher.sendRaw(JSON.stringify({ type: 'no-such-command' }));
    counts.badRequests += 2;
  });
  loop(50, async () => {
    let ws: WebSocket;
    try {
      ws = await openHookClient(cl.g1.url, HOOK_TENANT);
    } catch {
      return; // refused (e.g. while a gateway restarts its NATS connection): try again
    }
    counts.hookConnections++;
    for (let i = 0; i < 5 && running; i++) {
      ws.send(`frame ${i}`);
      counts.hookFrames++;
      await delay(100);
    }
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000);
    });
  });

  return {
    counts,
    delivered: () => subscribers.reduce((sum, s) => sum + s.messages, 0),

    async resumes() {
      const first = track(await NativeClient.open(cl.g2.url, 'resumer'));
      const live = await first.subscribe(ROOM);
      first.close();
      // Let some messages follow `live.last`, then resume from there (same epoch).
      const before = subscribers[1]!.messages;
      await eventually(() => subscribers[1]!.messages > before + 5, 'the g2 subscriber receives more messages');
      const again = track(await NativeClient.open(cl.g2.url, 'resumer'));
      const ok = await again.subscribe(ROOM, { after: live.last, epoch: live.epoch });
      const lost = track(await NativeClient.open(cl.g2.url, 'resumer-lost'));
      const notOk = await lost.subscribe(ROOM, { after: 1, epoch: 'not-this-epoch' });
      again.close();
      lost.close();
      return [ok.recovered, notOk.recovered];
    },

    async slowConsumer() {
      const slow = track(await NativeClient.open(cl.g2.url, 'slow'));
      const channels = Array.from({ length: 100 }, (_, i) => `live:slow-${i}`);
      await Promise.all(channels.map((c) => slow.subscribe(c)));
      slow.pause();
      const data = 'x'.repeat(60_000);
      let rounds = 0;
      // Each round delivers 100 × 60 KB to the client; one or two fill the socket buffers
      // and pass g2's 64 KB limit.
      await eventually(
        async () => {
          rounds++;
          assert.equal(await post({ tenant: 'demo', channels, data }), 200);
          const m = await fetch(`${cl.g2.url}/metrics`).then((r) => r.text());
          return /^switchyard_slow_consumer_closes_total\{[^}]*\} [1-9]/m.test(m);
        },
        'gateway g2 closes the client that does not read as a slow consumer',
        { timeoutMs: 15_000, everyMs: 0 },
      );
      slow.resume();
      return { code: await slow.closed, rounds };
    },

    async stop() {
      running = false;
      await Promise.all(loops);
      for (const c of clients) c.close();
    },
  };
}
