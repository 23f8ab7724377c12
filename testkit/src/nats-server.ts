import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
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
  /** Its server name (`-n`), as JetStream names stream leaders. */
  readonly name: string;
}

/** A member of a nats-server cluster: its name, its route port, and every member's route port. */
interface ClusterMember {
  readonly cluster: string;
  readonly name: string;
  readonly routePort: number;
  readonly routePorts: readonly number[];
}

const DEADLINE_MS = 10_000;

/**
 * Starts `nats-server -a 127.0.0.1 -p -1 -js -sd <tmp> --ports_file_dir <tmp>` (with
 * `--user`/`--pass` when given: clients must then authenticate) and reads the
 * chosen port from the ports file. Needs Debian's nats-server on the PATH (`.ci/run` and
 * `npm test` install it when they can).
 */
export async function startNatsServer(o: { readonly user?: string; readonly pass?: string; readonly member?: ClusterMember } = {}): Promise<NatsServer> {
  const root = mkdtempSync(join(tmpdir(), 'sy-nats-'));
  const name = o.member?.name ?? `sy-${root.slice(-6)}`;
  const m = o.member;
  const cluster =
    m === undefined
      ? []
      : ['--cluster_name', m.cluster, '--cluster', `nats://127.0.0.1:${m.routePort}`, '--routes', m.routePorts.filter((p) => p !== m.routePort).map((p) => `nats://127.0.0.1:${p}`).join(',')];
  const store = join(root, 'store');
  let child: ChildProcess;
  let port = -1;

  const launch = async (p: number): Promise<void> => {
    const portsDir = mkdtempSync(join(root, 'ports-'));
    const auth = o.user !== undefined ? ['--user', o.user, '--pass', o.pass ?? ''] : [];
    child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(p), '-n', name, '-js', '-sd', store, '--ports_file_dir', portsDir, ...auth, ...cluster], {
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
    name,
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

/** A JetStream cluster of nats-servers on loopback (for replicated streams). */
export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Every member's client URL, comma-separated (the form `--nats` takes). */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts `size` nats-servers (default 3) routed to one another as one JetStream cluster. The
 * route ports are chosen free beforehand, since each member names the others. JetStream
 * elects its meta leader a few seconds after the routes connect: clients that create streams
 * retry until it has (the control API does).
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) routePorts.push(await freePort());
  const cluster = `sy${Math.random().toString(36).slice(2, 8)}`;
  const servers = await Promise.all(routePorts.map((routePort, i) => startNatsServer({ member: { cluster, name: `${cluster}-${i}`, routePort, routePorts } })));
  return {
    servers,
    get url() {
      return servers.map((s) => s.url).join(',');
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/**
 * A port nothing listens on now, for a server that must come back on the same port after a
 * kill (one the kernel picks for port 0 is bound without SO_REUSEADDR, and the killed
 * server's connections would hold it for a minute), or one others must know in advance.
 */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
