/**
 * The processes of the scale scenario: nats-server, one control API, N gateways (the built
 * CLI, as `npm run bench` runs its cluster) and the subscriber workers, all registered with
 * `children.ts` so that nothing outlives the coordinator.
 */
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServer } from '@switchyard/testkit';
import { adopt, forkWorker, release, spawnServer, terminate, waitReady, type Server } from './children.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');

export interface Cluster {
  readonly nats: NatsServer;
  readonly control: Server;
  readonly gateways: Server[];
  /** SIGINT to the Switchyard processes (SIGKILL after 10 s), then nats-server; removes its store. */
  stop(): Promise<void>;
}

/** Starts nats-server, a control API and `gateways` gateways, and waits until all are ready. */
export async function startCluster(gateways: number, idleTimeoutSeconds: number): Promise<Cluster> {
  const nats = await startNatsServer();
  adopt(nats.pid);
  const flags = ['--nats', nats.url, '--nats-prefix', 'scale', '--tenants', join(ROOT, 'loadtest/tenants.json'), '--port', '0', '--host', '127.0.0.1', '--log-level', 'info'];
  const started: Server[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((s) => terminate(s.child)));
    await nats.stop();
    release(nats.pid);
  };
  try {
    // The control API first: it creates the streams the gateways wait for.
    const control = await startServer(['control-api', ...flags]);
    started.push(control);
    const gws = await Promise.all(
      Array.from({ length: gateways }, () => startServer(['gateway', ...flags, '--idle-timeout', String(idleTimeoutSeconds)])),
    );
    started.push(...gws);
    await Promise.all(started.map((s) => waitReady(s.port)));
    return { nats, control, gateways: gws, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function startServer(argv: string[]): Promise<Server> {
  return spawnServer(process.execPath, [join(ROOT, 'cli/bin/switchyard.js'), ...argv], argv[0] as string, ROOT);
}

/** Forks the subscriber worker and resolves once it runs. */
export const startWorker = (): Promise<ChildProcess> => forkWorker(join(HERE, 'scale-subscribers.ts'));
