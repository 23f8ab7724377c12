/**
 * A gateway on several cores: N worker threads, each a whole gateway node with its own uWS
 * event loop, behind one acceptor on the main thread that owns the listening socket and hands
 * each accepted connection to the next thread (uWS child apps, round robin). The threads share
 * nothing but NATS, exactly as separate gateway processes would; the process answers
 * `/readyz` (every thread ready) and `/metrics` (every thread's counters summed, plus the
 * process's own CPU and memory once) for all of them.
 */
import { Worker } from 'node:worker_threads';
import { App, LIBUS_LISTEN_EXCLUSIVE_PORT, us_listen_socket_close, us_socket_local_port, type us_listen_socket } from 'uWebSockets.js';
import { aggregateMetrics, processRegistry, type Logger } from '@switchyard/shared';
import type { CliConfig } from './options.js';
import { drainDelay, localUrl, type Drain, type Role } from './server.js';
import type { FromThread, Gathered, ThreadData, ToThread } from './thread-messages.js';

export interface ThreadedServer {
  readonly port: number;
  readonly url: string;
  readonly engine: { readonly kind: string };
  readonly threads: number;
  /** Resolves with a reason if a thread dies on its own: the process should then exit non-zero. */
  readonly failed: Promise<string>;
  /** Ordered shutdown: stop accepting, then every thread closes its sessions and its engine (see `RunningServer.close`). */
  close(drain?: Drain): Promise<void>;
  hurry(): void;
}

/** How long a thread may take to answer its part of `/readyz` or `/metrics`. */
const PART_TIMEOUT_MS = 2000;
/** How long a thread may take to shut down (after a drain's spread) before it is terminated. */
const STOP_TIMEOUT_MS = 15_000;

interface Thread {
  readonly worker: Worker;
  readonly index: number;
  exited: boolean;
}

const workerScript = new URL(import.meta.url.endsWith('.ts') ? './thread-worker.ts' : './thread-worker.js', import.meta.url);

export async function startThreads(role: Role, c: CliConfig, count: number, log: Logger): Promise<ThreadedServer> {
  let stopping = false;
  let draining = false;
  let reportFailure: (why: string) => void = () => {};
  const failed = new Promise<string>((resolve) => (reportFailure = resolve));
  const processMetrics = processRegistry(role);

  // Gathers: a thread asks for a process-wide answer; every thread sends its part.
  let nextPart = 0;
  const parts = new Map<number, { got: unknown[]; left: number; done: () => void }>();
  const gatherParts = (what: Gathered): Promise<unknown[]> =>
    new Promise((resolve) => {
      const id = ++nextPart;
      const live = threads.filter((t) => !t.exited);
      const pending = { got: [] as unknown[], left: live.length, done: () => {} };
      const timer = setTimeout(() => pending.done(), PART_TIMEOUT_MS);
      pending.done = () => {
        clearTimeout(timer);
        parts.delete(id);
        resolve(pending.got);
      };
      parts.set(id, pending);
      if (live.length === 0) pending.done();
      for (const t of live) send(t, { t: 'part', id, what });
    });
  const answer = async (what: Gathered): Promise<unknown> => {
    const got = await gatherParts(what);
    if (what === 'ready') return !draining && got.length === threads.length && got.every((r) => r === true);
    return aggregateMetrics([...(got as object[][]), await processMetrics.getMetricsAsJSON()]);
  };

  const send = (t: Thread, m: ToThread): void => {
    if (!t.exited) t.worker.postMessage(m);
  };
  const threads: Thread[] = [];
  const started: Promise<unknown>[] = [];
  for (let index = 1; index <= count; index++) {
    const data: ThreadData = { role, config: c, index };
    const worker = new Worker(workerScript, { workerData: data });
    const t: Thread = { worker, index, exited: false };
    threads.push(t);
    started.push(
      new Promise((resolve, reject) => {
        worker.on('message', (m: FromThread) => {
          if (m.t === 'started') resolve(m.descriptor);
          else if (m.t === 'failed') reject(new Error(`thread ${index}: ${m.message}`));
          else if (m.t === 'gather') void answer(m.what).then((value) => send(t, { t: 'gathered', id: m.id, value }));
          else if (m.t === 'part') {
            const p = parts.get(m.id);
            if (p !== undefined) {
              p.got.push(m.value);
              if (--p.left === 0) p.done();
            }
          }
        });
        worker.on('error', (err) => {
          reject(err);
          if (!stopping) reportFailure(`thread ${index} failed: ${err.message}`);
        });
        worker.on('exit', (code) => {
          t.exited = true;
          reject(new Error(`thread ${index} exited with ${code} while starting`));
          if (!stopping) reportFailure(`thread ${index} exited with code ${code}`);
        });
      }),
    );
  }

  const stopAll = async (spreadMs?: number): Promise<void> => {
    stopping = true;
    await Promise.all(
      threads.map(
        (t) =>
          new Promise<void>((resolve) => {
            if (t.exited) return resolve();
            const timer = setTimeout(() => void t.worker.terminate(), STOP_TIMEOUT_MS + (spreadMs ?? 0));
            t.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            send(t, spreadMs === undefined ? { t: 'stop' } : { t: 'stop', spreadMs });
          }),
      ),
    );
  };

  const acceptor = App();
  let listenSocket: us_listen_socket;
  try {
    const descriptors = await Promise.all(started);
    for (const d of descriptors) acceptor.addChildAppDescriptor(d);
    listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
      // Exclusive, as a single-threaded process: a busy port fails instead of being shared.
      acceptor.listen(c.host, c.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (ls) => {
        if (ls) resolve(ls);
        else reject(new Error(`cannot listen on ${c.host}:${c.port} (in use, or not a local address)`));
      });
    });
  } catch (err) {
    await stopAll();
    acceptor.close();
    throw err;
  }
  const port = us_socket_local_port(listenSocket);
  const url = localUrl(c.host, port);
  for (const t of threads) send(t, { t: 'url', url });
  log.info({ role, port, url, engine: 'nats', threads: count }, `switchyard ${role} listening on ${url} with ${count} threads`);

  let closing: Promise<void> | undefined;
  let hurry: () => void = () => {};
  const hurried = new Promise<void>((resolve) => (hurry = resolve));
  return {
    port,
    url,
    engine: { kind: 'nats' },
    threads: count,
    failed,
    close(drain) {
      closing ??= (async () => {
        draining = true;
        await drainDelay(drain, hurried);
        us_listen_socket_close(listenSocket);
        await stopAll(drain?.spreadMs);
        acceptor.close();
      })();
      return closing;
    },
    hurry() {
      hurry();
      for (const t of threads) send(t, { t: 'hurry' });
    },
  };
}
