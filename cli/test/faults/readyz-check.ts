import { at as rel, secs } from './clock.js';
import type { Fault } from './faults.js';
import { isReady, type Probe, type ReadyzProber } from './readyz-probe.js';
import { BOUND } from './settings.js';

/** A fault as `/readyz` is judged on it. */
export interface Window {
  readonly target: Fault['target'];
  readonly victim: string;
  readonly replacement?: string;
  readonly at: number;
  readonly healAt: number;
  readonly recoveredAt: number;
  /** The processes running when it struck. */
  readonly before: readonly string[];
}

/** What one process's `/readyz` did in one fault. */
export interface ReadyzFigure {
  readonly proc: string;
  readonly part: 'victim' | 'replacement' | 'bystander' | 'cut off';
  /** From the fault to its first answer other than 200 (`how`: 503, timeout, refused…). */
  readonly downAfter?: number;
  readonly how?: string;
  /** From the repair to its first 200. */
  readonly upAfter?: number;
  /** A bystander's probes that did not answer 200, by outcome, e.g. `2 timeout` (503s are judged, the others reported). */
  readonly notReady?: string;
}

export interface ReadyzJudgment {
  readonly figures: ReadyzFigure[];
  /** Untruths and bounds broken; the fault's test fails on any. */
  readonly findings: string[];
}

const firstUp = (ps: Probe[]): Probe | undefined => ps.find(isReady);

/**
 * `/readyz` in one fault. Truth means: with nats-server down every process says 503 within
 * BOUND.readyzDownMs and says nothing else until it is back; a dead, stopping or stopped
 * process never says 200 (probes in the first BOUND.signalGraceMs after the signal excepted);
 * processes the fault did not hit never say 503; after the repair every process says 200
 * within BOUND.readyzUpMs.
 */
export function judgeFault(w: Window, prober: ReadyzProber, t0: number): ReadyzJudgment {
  const figures: ReadyzFigure[] = [];
  const findings: string[] = [];
  const up = (proc: string, part: ReadyzFigure['part'], extra: Partial<ReadyzFigure> = {}): void => {
    const u = firstUp(prober.of(proc, w.healAt));
    const upAfter = u === undefined ? undefined : u.end - w.healAt;
    if (upAfter === undefined || upAfter > BOUND.readyzUpMs) findings.push(`${proc} did not answer 200 within ${secs(BOUND.readyzUpMs)} of the repair (${secs(upAfter)})`);
    figures.push({ proc, part, ...extra, ...(upAfter !== undefined ? { upAfter } : {}) });
  };

  if (w.target === 'nats') {
    for (const proc of w.before) {
      const during = prober.of(proc, w.at, w.healAt);
      const first503 = during.find((p) => p.outcome === 503);
      const downAfter = first503 === undefined ? undefined : first503.end - w.at;
      if (downAfter === undefined || downAfter > BOUND.readyzDownMs) findings.push(`${proc} did not answer 503 within ${secs(BOUND.readyzDownMs)} of nats-server's death (${secs(downAfter)})`);
      for (const p of during) {
        if (first503 !== undefined && p.start > first503.start && isReady(p)) findings.push(`${proc} answered 200 at ${rel(p.start, t0)} s while nats-server was down (it had said 503)`);
      }
      up(proc, 'cut off', { ...(downAfter !== undefined ? { downAfter, how: '503' } : {}) });
    }
    return { figures, findings };
  }

  const victimProbes = prober.of(w.victim, w.at);
  for (const p of victimProbes) {
    if (isReady(p) && p.start >= w.at + BOUND.signalGraceMs && p.end < w.healAt) findings.push(`${w.victim} answered 200 at ${rel(p.start, t0)} s, after its fault and before the repair`);
  }
  const down = victimProbes.find((p) => !isReady(p));
  // No probe after the signal: the process was gone before the next one.
  const downFig = down === undefined ? { how: 'exited before the next probe' } : { downAfter: down.end - w.at, how: String(down.outcome) };
  if (w.replacement === undefined) up(w.victim, 'victim', downFig);
  else {
    figures.push({ proc: w.victim, part: 'victim', ...downFig });
    up(w.replacement, 'replacement');
  }
  for (const proc of w.before) {
    if (proc === w.victim) continue;
    const during = prober.of(proc, w.at, w.recoveredAt);
    for (const p of during) if (p.outcome === 503) findings.push(`${proc} answered 503 at ${rel(p.start, t0)} s, during a fault of ${w.victim} only`);
    const counts = new Map<string, number>();
    for (const p of during) if (!isReady(p)) counts.set(String(p.outcome), (counts.get(String(p.outcome)) ?? 0) + 1);
    figures.push({ proc, part: 'bystander', notReady: [...counts].map(([o, n]) => `${n} ${o}`).join(', ') });
  }
  return { figures, findings };
}

/**
 * 503s that no fault explains: outside every nats-server outage (until its recovery), from a
 * process that was not the victim of a fault before, and after it first said 200. A process
 * that can serve and says it cannot is dropped by its balancer for nothing.
 */
export function unexplained503(prober: ReadyzProber, windows: readonly Window[], t0: number): string[] {
  const firstReady = new Map<string, number>();
  for (const p of prober.probes) if (isReady(p) && !firstReady.has(p.proc)) firstReady.set(p.proc, p.start);
  const out: string[] = [];
  for (const p of prober.probes) {
    if (p.outcome !== 503) continue;
    const starting = p.start < (firstReady.get(p.proc) ?? Infinity);
    const explained = windows.some((w) => (w.target === 'nats' && p.start >= w.at && p.start <= w.recoveredAt) || (w.victim === p.proc && p.start >= w.at));
    if (!starting && !explained) out.push(`${p.proc} answered 503 at ${rel(p.start, t0)} s, with no fault to explain it`);
  }
  return out;
}

/** An attempt to use a process (a publish, a client's connect-and-subscribe) and whether it worked. */
export interface Use {
  readonly proc: string;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
}

/**
 * Lies the other way: `/readyz` said 200 on every probe while every use of the process
 * failed, for BOUND.lieMs or more. `what` names the uses ("publishes", "subscribes").
 */
export function refusedWhileReady(uses: readonly Use[], prober: ReadyzProber, what: string, t0: number): string[] {
  const out: string[] = [];
  const byProc = new Map<string, Use[]>();
  for (const u of uses) byProc.set(u.proc, [...(byProc.get(u.proc) ?? []), u]);
  for (const [proc, list] of byProc) {
    list.sort((a, b) => a.start - b.start);
    let run: Use[] = [];
    const judge = (): void => {
      const first = run[0];
      const last = run.at(-1);
      run = [];
      if (first === undefined || last === undefined || last.end - first.start < BOUND.lieMs) return;
      const probes = prober.of(proc, first.start, last.end);
      if (probes.length >= 2 && probes.every(isReady)) {
        out.push(`${proc}: /readyz said 200 from ${rel(first.start, t0)} to ${rel(last.end, t0)} s while all its ${what} failed`);
      }
    };
    for (const u of list) {
      if (u.ok) judge();
      else run.push(u);
    }
    judge();
  }
  return out;
}
