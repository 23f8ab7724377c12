/**
 * The processes of the scale scenario: nats-server, one control API, N gateways (the built
 * CLI, as `npm run bench` runs its cluster) and the subscriber workers. Every child is
 * registered as it starts, so that whatever way the coordinator ends — normal end, thrown
 * error, Ctrl-C — nothing it started outlives it.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNatsServer, type NatsServer } from '@switchyard/testkit';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');
const START_DEADLINE_MS = 20_000;

/** Pids of every live child; killed with SIGKILL by `killAll` (synchronous: usable in an 'exit' handler). */
const live = new Set<number>();

export function killAll(): void {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone: nothing left to kill
    }
  }
  live.clear();
}

export interface Server {
  readonly pid: number;
  readonly port: number;
  readonly child: ChildProcess;
}

export interface Cluster {
  readonly nats: NatsServer;
  readonly control: Server;
  readonly gateways: Server[];
  /** SIGTERM to the Switchyard processes (SIGKILL after 10 s), then nats-server; removes its store. */
  stop(): Promise<void>;
}

/** Starts nats-server, a control API and `gateways` gateways, and waits until all are ready. */
export async function startCluster(gateways: number, idleTimeoutSeconds: number): Promise<Cluster> {
  const nats = await startNatsServer();
  live.add(nats.pid);
  const flags = ['--nats', nats.url, '--nats-prefix', 'scale', '--tenants', join(ROOT, 'loadtest/tenants.json'), '--port', '0', '--host', '127.0.0.1', '--log-level', 'info'];
  const started: Server[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((s) => terminate(s.child)));
    await nats.stop();
    live.delete(nats.pid);
  };
  try {
    // The control API first: it creates the streams the gateways wait for.
    const control = await startServer(['control-api', ...flags]);
    started.push(control);
    const gws = await Promise.all(
      Array.from({ length: gateways }, () => startServer(['gateway', ...flags, '--idle-timeout', String(idleTimeoutSeconds)])),
    );
    started.push(...gws);
    await Promise.all(started.map((s) => ready(s.port)));
    return { nats, control, gateways: gws, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function startServer(argv: string[]): Promise<Server> {
  const child = spawn(process.execPath, [join(ROOT, 'cli/bin/switchyard.js'), ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child.pid as number);
  child.once('exit', () => live.delete(child.pid as number));
  return new Promise((resolve, reject) => {
    let head = '';
    let tail = '';
    let port = 0;
    const timer = setTimeout(() => reject(new Error(`${argv[0]} did not start: ${tail}`)), START_DEADLINE_MS);
    // Keep reading even after the port: a full pipe would block the server's log writes.
    child.stdout!.on('data', (d: Buffer) => {
      if (port !== 0) return;
      head += d.toString();
      const m = /"port":(\d+)/.exec(head);
      if (m) {
        port = Number(m[1]);
        clearTimeout(timer);
        resolve({ pid: child.pid as number, port, child });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${argv[0]} exited (${code ?? signal}): ${tail}`));
    });
  });
}

async function ready(port: number): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`the process on port ${port} did not become ready`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL if it has not exited within 10 s. */
function terminate(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Forks the subscriber worker and resolves once it runs. */
export function startWorker(): Promise<ChildProcess> {
  const w = fork(join(HERE, 'scale-subscribers.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  live.add(w.pid as number);
  w.once('exit', () => live.delete(w.pid as number));
  return new Promise((resolve, reject) => {
    w.once('message', () => resolve(w));
    w.once('exit', (code) => reject(new Error(`a subscriber worker exited (${code}) before starting`)));
  });
}

/** Sends `msg` and resolves with the worker's first answer `ev` (rejects on its `error`, its exit, or the deadline). */
export function ask<T>(w: ChildProcess, msg: object, ev: string, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      w.off('message', on);
      w.off('exit', gone);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${ev} from a worker within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (m: { ev: string; message?: string }): void => {
      if (m.ev !== ev && m.ev !== 'error') return;
      done();
      if (m.ev === 'error') reject(new Error(m.message));
      else resolve(m as T);
    };
    const gone = (code: number | null): void => {
      done();
      reject(new Error(`a worker exited (${code}) while asked for ${ev}`));
    };
    w.on('message', on);
    w.once('exit', gone);
    w.send(msg);
  });
}
