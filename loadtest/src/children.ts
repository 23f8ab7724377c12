/**
 * The processes a benchmark coordinator starts (servers and worker processes) and how it
 * talks to them. Every child is registered as it starts, so that whatever way the coordinator
 * ends — normal end, thrown error, Ctrl-C — `killAll` leaves nothing it started running.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';

const START_DEADLINE_MS = 20_000;

/** Pids of every live child. */
const live = new Set<number>();

function register(child: ChildProcess): void {
  live.add(child.pid as number);
  child.once('exit', () => live.delete(child.pid as number));
}

/** SIGKILL to every child still running (synchronous: usable in an 'exit' handler). */
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

/** Adds a child started elsewhere (nats-server) to what `killAll` kills; `release` once it stopped. */
export function adopt(pid: number): void {
  live.add(pid);
}

export function release(pid: number): void {
  live.delete(pid);
}

export interface Server {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
}

/** Starts a server that prints its port (`PORT <n>` or a JSON log line with `"port":<n>`) and resolves once it has. */
export function spawnServer(cmd: string, argv: string[], what: string, cwd: string): Promise<Server> {
  const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  register(child);
  return new Promise((resolve, reject) => {
    let head = '';
    let tail = '';
    let port = 0;
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${tail}`)), START_DEADLINE_MS);
    // Keep reading after the port: a full pipe would block the server's log writes.
    child.stdout!.on('data', (d: Buffer) => {
      if (port !== 0) return;
      head += d.toString();
      const m = /PORT (\d+)|"port":(\d+)/.exec(head);
      if (m) {
        port = Number(m[1] ?? m[2]);
        clearTimeout(timer);
        resolve({ child, pid: child.pid as number, port });
      }
    });
    child.stderr!.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}): ${tail}`));
    });
  });
}

/** Resolves once `GET /readyz` on `port` answers 200. */
export async function waitReady(port: number): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  while ((await fetch(`http://127.0.0.1:${port}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`the process on port ${port} did not become ready`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * SIGINT (a Switchyard process stops at once, where SIGTERM would drain for half a minute; a
 * --cpu-prof profile gets written either way), SIGKILL if it has not exited within 10 s.
 */
export function terminate(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGINT');
  });
}

/** Forks a worker process (run through tsx) and resolves once it says it runs. */
export function forkWorker(file: string): Promise<ChildProcess> {
  const w = fork(file, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  register(w);
  return new Promise((resolve, reject) => {
    w.once('message', () => resolve(w));
    w.once('exit', (code) => reject(new Error(`worker ${file} exited (${code}) before starting`)));
  });
}

/** Sends `msg` and resolves with the worker's first answer `ev` (rejects on its `error`, its exit, or the deadline). */
export function ask<T>(w: ChildProcess, msg: object, ev: string, timeoutMs = 120_000): Promise<T> {
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
