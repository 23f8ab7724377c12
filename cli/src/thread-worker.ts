/**
 * One thread of a multi-threaded gateway: a whole gateway node (its own uWS app and event
 * loop, NATS connection and hub) without a listening socket; the main thread's acceptor hands
 * it connections. `/readyz` and `/metrics` answer for the whole process by asking the main
 * thread, which gathers every thread's part.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, logUnhandledRejections, type OpsSource } from '@switchyard/shared';
import { loadTenants, serverOptions } from './server-options.js';
import { startServer, type RunningServer } from './server.js';
import type { FromThread, Gathered, ThreadData, ToThread } from './thread-messages.js';

const port = parentPort;
if (port === null) throw new Error('thread-worker runs only as a worker thread');
const post = (m: FromThread): void => port.postMessage(m);
const { role, config, index } = workerData as ThreadData;
const nodeId = `${config.nodeId}-${index}`;

let nextId = 0;
const waiting = new Map<number, (value: unknown) => void>();
const ask = (what: Gathered): Promise<unknown> =>
  new Promise((resolve) => {
    const id = ++nextId;
    waiting.set(id, resolve);
    post({ t: 'gather', id, what });
  });
const gather = (): OpsSource => ({
  ready: async () => (await ask('ready')) === true,
  metrics: async () => String(await ask('metrics')),
});

let server: RunningServer | undefined;
port.on('message', (m: ToThread) => {
  if (m.t === 'gathered') {
    waiting.get(m.id)?.(m.value);
    waiting.delete(m.id);
  } else if (m.t === 'part') {
    const s = server;
    if (s === undefined) post({ t: 'part', id: m.id, value: m.what === 'ready' ? false : [] });
    else if (m.what === 'ready') post({ t: 'part', id: m.id, value: s.ready() });
    else void s.metrics.registry.getMetricsAsJSON().then((value) => post({ t: 'part', id: m.id, value }));
  } else if (m.t === 'url') {
    server?.setUrl(m.url);
  } else if (m.t === 'hurry') {
    server?.hurry();
  } else if (m.t === 'stop') {
    // The main thread waited out the drain delay: what is left is the spread.
    const drain = m.spreadMs === undefined ? undefined : { delayMs: 0, spreadMs: m.spreadMs };
    void (server?.close(drain) ?? Promise.resolve()).finally(() => {
      post({ t: 'stopped' });
      process.exit(0); // ends this thread only
    });
  }
});

try {
  const log = createLogger(config.logLevel, { node: nodeId, thread: index });
  logUnhandledRejections(log);
  server = await startServer({ ...(await serverOptions(role, config, loadTenants(config), log, nodeId)), thread: { gather } });
  post({ t: 'started', descriptor: server.descriptor });
} catch (err) {
  post({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
