import { eventually } from '@switchyard/testkit';
import { withDeadline } from '../helpers.js';
import { delay } from './clock.js';
import type { Proc, Slot } from './cluster.js';
import type { Harness } from './harness.js';
import { BOUND, NATS_DOWN_HOLD_MS, STOP_HOLD_MS } from './settings.js';

/** What a fault did: when, to whom, and when the repair began. */
export interface Injected {
  /** The process it hit (`nats-server` for the broker). */
  readonly victim: string;
  readonly at: number;
  /** The repair began: a replacement started, SIGCONT, nats-server restarted. */
  readonly healAt: number;
  /** The process that took the victim's place, if a new one did. */
  readonly replacement?: string;
  /** The victim's exit code, for a graceful stop (documented: 0). */
  readonly exitCode?: number | null;
  /** What went wrong while injecting (a wait that ran out); the fault's test fails on them. */
  readonly problems: string[];
}

export interface Fault {
  readonly name: string;
  /** Whom it hits: a gateway (the one in the slot given), nats-server, the control API. */
  readonly target: 'gateway' | 'nats' | 'control';
  inject(h: Harness, slot: Slot): Promise<Injected>;
}

/** Every client is subscribed, and not through `proc`. */
const movedOff = (h: Harness, proc: string): boolean => h.clients.every((c) => c.current !== undefined && c.current.proc !== proc);

const gatewayIn = (h: Harness, slot: Slot): Proc => {
  const g = h.cluster.gateways[slot];
  if (g === undefined) throw new Error(`no gateway in slot ${slot}`);
  return g;
};

/** `sig` to the gateway in `slot`, its exit awaited, then a replacement in the slot. */
async function replaceGateway(h: Harness, slot: Slot, sig: 'SIGKILL' | 'SIGTERM', exitMs: number): Promise<Injected> {
  const g = gatewayIn(h, slot);
  const at = Date.now();
  h.cluster.signal(g, sig);
  const exitCode = await withDeadline(g.run.exit, exitMs, `a ${sig}ed gateway did not exit`);
  h.cluster.gateways[slot] = undefined;
  const healAt = Date.now();
  const r = await h.cluster.startGateway(slot);
  return { victim: g.name, at, healAt, replacement: r.name, ...(sig === 'SIGTERM' ? { exitCode } : {}), problems: [] };
}

export const FAULTS: readonly Fault[] = [
  {
    name: 'gateway SIGKILL, then a replacement',
    target: 'gateway',
    inject: (h, slot) => replaceGateway(h, slot, 'SIGKILL', 5000),
  },
  {
    name: 'gateway SIGSTOP, SIGCONT',
    target: 'gateway',
    async inject(h, slot) {
      const g = gatewayIn(h, slot);
      const problems: string[] = [];
      const at = Date.now();
      h.cluster.signal(g, 'SIGSTOP');
      try {
        await delay(STOP_HOLD_MS);
        await eventually(() => movedOff(h, g.name), `every client left the stopped ${g.name}`, { timeoutMs: 10_000, everyMs: 50 }).catch((err: Error) => problems.push(err.message));
      } finally {
        h.cluster.signal(g, 'SIGCONT');
      }
      return { victim: g.name, at, healAt: Date.now(), problems };
    },
  },
  {
    name: 'gateway SIGTERM, then a restart',
    target: 'gateway',
    inject: (h, slot) => replaceGateway(h, slot, 'SIGTERM', BOUND.exitMs),
  },
  {
    name: 'nats-server kill -9, then a restart',
    target: 'nats',
    async inject(h) {
      const problems: string[] = [];
      const at = Date.now();
      await h.cluster.nats.kill();
      try {
        // Down long enough for `/readyz` to be judged: every process must say so, within the bound.
        await eventually(
          () => h.cluster.live().every((p) => { const pr = h.prober.latest(p.name, at); return pr !== undefined && pr.outcome !== 200; }),
          'every process answers /readyz with something other than 200 while nats-server is down',
          { timeoutMs: BOUND.readyzDownMs, everyMs: 50 },
        ).catch((err: Error) => problems.push(err.message));
        await delay(NATS_DOWN_HOLD_MS);
      } finally {
        await h.cluster.nats.restart();
      }
      return { victim: 'nats-server', at, healAt: Date.now(), problems };
    },
  },
  {
    name: 'control API SIGTERM, then a new one',
    target: 'control',
    async inject(h) {
      const c = h.cluster.control;
      const at = Date.now();
      h.cluster.signal(c, 'SIGTERM');
      const exitCode = await withDeadline(c.run.exit, BOUND.exitMs, 'a SIGTERMed control API did not exit');
      const healAt = Date.now();
      const r = await h.cluster.startControl();
      return { victim: c.name, at, healAt, replacement: r.name, exitCode, problems: [] };
    },
  },
];

/** When the cluster got over a fault, and the counters the fault is judged on. */
export interface Recovery {
  /** Every live process said 200 after the repair and every client had a message published after the fault. */
  readonly recoveredAt: number;
  /** The first counter sent after the fault and acknowledged. */
  readonly firstAfter: number;
  /** Every client had every counter up to `mark` (the last acknowledged once clients were home again). */
  readonly mark: number;
  readonly markAt: number;
}

/**
 * Waits until the cluster is over the fault, then sends every client that left its home
 * gateway back there (a normal close and a resume: the next fault finds clients on both),
 * and waits until every client has everything acknowledged so far.
 */
export async function recover(h: Harness, f: Injected): Promise<Recovery> {
  const firstAfter = await eventually(
    () => {
      for (const p of h.cluster.live()) if (h.prober.latest(p.name, f.healAt)?.outcome !== 200) return false;
      const first = h.publisher.attempts.find((a) => a.sentAt >= f.at && a.status === 200);
      if (first === undefined || !h.clients.every((c) => c.current !== undefined && c.maxN >= first.n)) return undefined;
      return first.n;
    },
    'every process ready and every client receiving messages published after the fault',
    { timeoutMs: BOUND.recoveryMs, everyMs: 50 },
  );
  const recoveredAt = Date.now();
  for (const c of h.clients) c.rehome();
  await eventually(() => h.clients.every((c) => c.current?.slot === c.home), 'every client back on its home gateway', { timeoutMs: 10_000, everyMs: 50 });
  const mark = h.publisher.lastAcked;
  await eventually(() => h.clients.every((c) => c.maxN >= mark), `every client has counter ${mark}`, { timeoutMs: BOUND.catchUpMs, everyMs: 50 });
  return { recoveredAt, firstAfter, mark, markAt: Date.now() };
}
