import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real nats-server with JetStream, on a free port, for tests. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** The running server's process id. */
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL): a crash, not a shutdown. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same store directory (JetStream data survives). */
  restart(): Promise<void>;
}

const DEADLINE_MS = 10_000;

/**
 * Starts `nats-server -a 127.0.0.1 -p -1 -js -sd <tmp> --ports_file_dir <tmp>` (with
 * `--user`/`--pass` when given: clients must then authenticate) and reads the
 * chosen port from the ports file. Needs Debian's nats-server on the PATH (`.ci/run` and
 * `npm test` install it when they can).
 */
export async function startNatsServer(o: { readonly user?: string; readonly pass?: string } = {}): Promise<NatsServer> {
  const root = mkdtempSync(join(tmpdir(), 'sy-nats-'));
  const store = join(root, 'store');
  let child: ChildProcess;
  let port = -1;

  const launch = async (p: number): Promise<void> => {
    const portsDir = mkdtempSync(join(root, 'ports-'));
    const auth = o.user !== undefined ? ['--user', o.user, '--pass', o.pass ?? ''] : [];
    child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', store, '--ports_file_dir', portsDir, ...auth], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${stderr.slice(-500)}`))),
    );
    exited.catch(() => {});
    const deadline = Date.now() + DEADLINE_MS;
    for (;;) {
      const file = readdirSync(portsDir).find((f) => f.endsWith('.ports'));
      if (file !== undefined) {
        try {
          const ports = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as { nats: string[] };
          port = Number(new URL(ports.nats[0]!).port);
          // The ports file is written once the client port listens; JetStream is up by then too.
          return;
        } catch {
          // written but not complete yet: read again
        }
      }
      if (Date.now() > deadline) throw new Error(`nats-server did not start: ${stderr.slice(-500)}`);
      await Promise.race([new Promise((r) => setTimeout(r, 20)), exited]);
    }
  };

  const waitExit = (signal: NodeJS.Signals): Promise<void> =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill(signal);
    });

  await launch(-1);
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get pid() {
      return child.pid as number;
    },
    async stop() {
      await waitExit('SIGTERM');
      rmSync(root, { recursive: true, force: true });
    },
    kill: () => waitExit('SIGKILL'),
    async restart() {
      await waitExit('SIGTERM');
      await launch(port);
    },
  };
}
