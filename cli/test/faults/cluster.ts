import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { startNatsServer, eventually, type NatsServer } from '@switchyard/testkit';
import { startProc, tenantsFile, type Proc } from '../cli-process.js';

export type { Proc };

/** A gateway's place in the cluster. Clients have a home slot; a replacement takes the slot of the process it replaces. */
export type Slot = 0 | 1;
export const other = (s: Slot): Slot => (s === 0 ? 1 : 0);

/**
 * nats-server, a control API and two gateways, each its own process (the `switchyard`
 * command as installed), with a fresh `--nats-prefix`. Processes are replaced by new ones
 * (new port, new node id) and every process is killed when the test ends, whatever state it
 * is in (SIGKILL reaches a stopped process too).
 */
export class FaultCluster {
  control!: Proc;
  readonly gateways: [Proc | undefined, Proc | undefined] = [undefined, undefined];
  /** Every process started, in order. */
  readonly all: Proc[] = [];
  /**
   * Processes that exited without being told to (SIGKILL or SIGTERM from `signal`): crashes.
   * (The test's cleanup kills the rest after the suite has judged this list.)
   */
  readonly crashes: { readonly proc: string; readonly at: number; readonly code: number | null }[] = [];
  /** Told of every process started, for the readiness probes. */
  onStart: (p: Proc) => void = () => {};
  private readonly counts = new Map<string, number>();
  private readonly told = new Set<string>();

  private constructor(
    private readonly t: TestContext,
    readonly nats: NatsServer,
    private readonly tenantsFile: string,
    readonly prefix: string,
  ) {}

  /** Starts everything and resolves once every process answers `/readyz` with 200; `gateway0` flags go to the first gateway. */
  static async start(t: TestContext, gateway0: readonly string[] = []): Promise<FaultCluster> {
    const tenants = tenantsFile(t);
    const nats = await startNatsServer();
    t.after(() => nats.stop());
    const c = new FaultCluster(t, nats, tenants, `f${randomBytes(4).toString('hex')}`);
    await c.startControl();
    await Promise.all([c.startGateway(0, gateway0), c.startGateway(1)]);
    await eventually(async () => {
      for (const p of c.live()) if ((await fetch(`${p.url}/readyz`, { signal: AbortSignal.timeout(1000) })).status !== 200) return false;
      return true;
    }, 'every process ready', { timeoutMs: 20_000, everyMs: 100 });
    return c;
  }

  /** The processes that should be running now. */
  live(): Proc[] {
    return [this.control, ...this.gateways.filter((g): g is Proc => g !== undefined)];
  }

  /** Sends `sig` to `p`; after SIGKILL or SIGTERM its exit is expected, any other exit is a crash. */
  signal(p: Proc, sig: 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT'): void {
    if (sig === 'SIGKILL' || sig === 'SIGTERM') this.told.add(p.name);
    process.kill(p.pid, sig);
  }

  /** Lines the processes logged at level error or fatal: the product logs bugs there ("a bug", "failed unexpectedly"). */
  errorLogs(): string[] {
    const out: string[] = [];
    for (const p of this.all) {
      for (const line of p.run.stdout().split('\n')) {
        if (/"level":(50|60)\b/.test(line)) out.push(`${p.name}: ${line.slice(0, 400)}`);
      }
    }
    return out;
  }

  /** Starts a control API (the first, or one replacing a stopped one). */
  async startControl(): Promise<Proc> {
    this.control = await this.spawn('control-api', 'control', []);
    return this.control;
  }

  /** Starts a gateway in `slot` (the first, or one replacing a dead one), with `extra` flags. */
  async startGateway(slot: Slot, extra: readonly string[] = []): Promise<Proc> {
    // A short idle timeout (the minimum): the server notices silent clients fast too.
    const p = await this.spawn('gateway', `gw${slot}`, ['--idle-timeout', '8', ...extra]);
    this.gateways[slot] = p;
    return p;
  }

  private async spawn(role: Proc['role'], base: string, extra: string[]): Promise<Proc> {
    const n = (this.counts.get(base) ?? 0) + 1;
    this.counts.set(base, n);
    const nodeId = `${base}-${n}`;
    const p = await startProc(this.t, `${base}#${n}`, role, [
      '--nats', this.nats.url, '--nats-prefix', this.prefix, '--tenants', this.tenantsFile, '--node-id', nodeId, ...extra,
    ]);
    this.all.push(p);
    void p.run.exit.then((code) => {
      if (!this.told.has(p.name)) this.crashes.push({ proc: p.name, at: Date.now(), code });
    });
    this.onStart(p);
    return p;
  }
}
