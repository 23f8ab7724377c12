import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** A rendered probe (the fields the chart sets; the kubelet's defaults otherwise). */
export interface ProbeSpec {
  readonly httpGet: { readonly path: string; readonly port: string | number };
  readonly initialDelaySeconds?: number;
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
  readonly successThreshold?: number;
}

/**
 * A probe run as the kubelet runs it: after `initialDelaySeconds`, a GET every
 * `periodSeconds` with `timeoutSeconds`; 200–399 is a success; `failureThreshold` failures in
 * a row make it fail, `successThreshold` successes in a row make it pass again. The port is
 * the container's (its name resolved by the caller) mapped to where the process listens.
 */
export class Prober {
  /** Whether the probe passes now (a readiness probe starts failing, as the kubelet's does). */
  passing = false;
  /** Every change of `passing`, with its time. */
  readonly changes: { at: number; passing: boolean }[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    readonly spec: ProbeSpec,
    url: string,
  ) {
    this.loop = this.run(`${url}${spec.httpGet.path}`);
  }

  private async run(target: string): Promise<void> {
    const s = this.spec;
    const period = (s.periodSeconds ?? 10) * 1000;
    let fails = 0;
    let oks = 0;
    await sleep((s.initialDelaySeconds ?? 0) * 1000);
    while (!this.stopped) {
      let ok = false;
      try {
        const r = await fetch(target, { signal: AbortSignal.timeout((s.timeoutSeconds ?? 1) * 1000) });
        ok = r.status >= 200 && r.status < 400;
      } catch {
        ok = false;
      }
      if (ok) {
        fails = 0;
        if (++oks >= (s.successThreshold ?? 1)) this.set(true);
      } else {
        oks = 0;
        if (++fails >= (s.failureThreshold ?? 3)) this.set(false);
      }
      await sleep(period);
    }
  }

  private set(passing: boolean): void {
    if (passing === this.passing) return;
    this.passing = passing;
    this.changes.push({ at: Date.now(), passing });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** What a pod's container says about stopping: its preStop and its grace period. */
export interface Stopping {
  readonly preStop?: { readonly sleep?: { readonly seconds: number } };
  readonly terminationGracePeriodSeconds: number;
}

/**
 * The kubelet's shutdown of a container: the preStop hook, then SIGTERM, then SIGKILL when
 * the grace period (counted from the start, preStop included) runs out. Resolves with the
 * exit code, whether it had to kill, and when SIGTERM went.
 */
export async function kubeletStop(child: ChildProcess, s: Stopping): Promise<{ code: number | null; killed: boolean; sigtermAt: number; exitedAt: number }> {
  const start = Date.now();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const hook = s.preStop;
  if (hook !== undefined) {
    if (hook.sleep === undefined) throw new Error(`a preStop this test does not run: ${JSON.stringify(hook)}`);
    await sleep(hook.sleep.seconds * 1000);
  }
  const sigtermAt = Date.now();
  child.kill('SIGTERM');
  const left = s.terminationGracePeriodSeconds * 1000 - (sigtermAt - start);
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, left);
  const code = await exit;
  clearTimeout(timer);
  return { code, killed, sigtermAt, exitedAt: Date.now() };
}
