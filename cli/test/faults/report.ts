import { at as rel, secs } from './clock.js';
import { sum } from './delivery.js';
import type { FaultFigures } from './figures.js';
import type { Injected, Recovery } from './faults.js';
import type { ReadyzFigure } from './readyz-check.js';
import type { ReadyzProber } from './readyz-probe.js';

/** The report's lines for one fault. */
export function faultLines(name: string, f: Injected, r: Recovery, fig: FaultFigures, ready: readonly ReadyzFigure[], t0: number): string[] {
  const s = sum([...fig.tallies.values()]);
  const afterRepair = fig.deliveringAfterRepair >= 0 ? `${secs(fig.deliveringAfterRepair)} after the repair` : 'before the repair';
  const slowest = fig.slowestPublish === undefined ? '' : `, slowest ${secs(fig.slowestPublish.ms)} (${fig.slowestPublish.status})`;
  const lines = [
    `${name} — ${f.victim} at ${rel(f.at, t0)} s, repair at ${rel(f.healAt, t0)} s${f.replacement !== undefined ? ` (${f.replacement})` : ''}${f.exitCode !== undefined ? `, exit code ${f.exitCode}` : ''}`,
    `  clients moved ${fig.moved}, all resumed in ${secs(fig.resumedIn)}; every client receiving new messages ${secs(fig.deliveringIn)} after the fault (${afterRepair})`,
    `  publish gap ${secs(fig.publishGap)}, ${fig.failedPublishes} publishes refused${slowest}; counters ${fig.from + 1}..${r.mark}: lost ${s.lost}, duplicated ${s.duplicated}, reordered ${s.reordered}, wrong seq ${s.wrongSeq}, stored though refused ${s.storedUnacked}`,
    `  /readyz: ${ready.map(readyzText).join('; ')}`,
  ];
  for (const p of f.problems) lines.push(`  problem: ${p}`);
  return lines;
}

function readyzText(r: ReadyzFigure): string {
  const parts = [`${r.proc} (${r.part})`];
  if (r.downAfter !== undefined) parts.push(`not ready (${r.how}) after ${secs(r.downAfter)}`);
  else if (r.how !== undefined) parts.push(r.how);
  if (r.upAfter !== undefined) parts.push(`200 ${secs(r.upAfter)} after the repair`);
  if (r.part === 'bystander') parts.push(r.notReady === '' ? '200 throughout' : `200 but ${r.notReady}`);
  return parts.join(' ');
}

/**
 * Each process's `/readyz` as runs of one answer: `gw0#1: 200 0.4–12.3, refused 12.3–12.5`
 * (seconds since the start, by when each probe was sent).
 */
export function timeline(prober: ReadyzProber, t0: number): string[] {
  const runs = new Map<string, { what: string; from: number; to: number; n: number }[]>();
  for (const p of prober.probes) {
    const list = runs.get(p.proc) ?? [];
    runs.set(p.proc, list);
    const what = String(p.outcome);
    const last = list.at(-1);
    if (last !== undefined && last.what === what) {
      last.to = p.start;
      last.n++;
    } else list.push({ what, from: p.start, to: p.start, n: 1 });
  }
  return [...runs].map(([proc, list]) => `${proc}: ${list.map((r) => `${r.what} ${rel(r.from, t0)}–${rel(r.to, t0)}${r.n > 1 ? '' : ' (1 probe)'}`).join(', ')}`);
}
