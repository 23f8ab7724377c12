import type { Attempt } from './publisher.js';
import type { ResumingClient } from './resuming-client.js';

/** How one client's messages with counters in a range compare with what the publisher was told. */
export interface Tally {
  /** Acknowledged counters that never arrived. */
  readonly lost: number[];
  /** Counters that arrived more than once. */
  readonly duplicated: number[];
  /** Messages (other than duplicates) whose seq was not above the one received before. */
  readonly reordered: number;
  /** Acknowledged counters that arrived with another seq than the 200 reported. */
  readonly wrongSeq: number[];
  /** Counters whose publish failed (no 200) and that arrived anyway: stored despite the error. */
  readonly storedUnacked: number[];
}

export const clean = (t: Tally): boolean => t.lost.length + t.duplicated.length + t.reordered + t.wrongSeq.length === 0;

/** A tally in a line: `lost 562–1106 (545); duplicated 60, 120 (2); reordered 1; wrong seq none`. */
export function tallyText(t: Tally): string {
  const list = (ns: readonly number[]): string => (ns.length === 0 ? 'none' : `${ranges(ns)} (${ns.length})`);
  return `lost ${list(t.lost)}; duplicated ${list(t.duplicated)}; reordered ${t.reordered}; wrong seq ${list(t.wrongSeq)}`;
}

/** Sorted counters as ranges, at most ten of them: `1–3, 7, 9–12`. */
function ranges(ns: readonly number[]): string {
  const sorted = [...ns].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return out.length > 10 ? `${out.slice(0, 10).join(', ')}, …` : out.join(', ');
}

/** Judges `client` on the counters n with from < n ≤ to. */
export function tally(client: ResumingClient, acked: ReadonlyMap<number, Attempt>, from: number, to: number): Tally {
  const inRange = (n: number): boolean => n > from && n <= to;
  const seqOf = new Map<number, number>();
  const duplicated = new Set<number>();
  let reordered = 0;
  let prevSeq = -Infinity;
  for (const m of client.received) {
    if (inRange(m.n)) {
      if (seqOf.has(m.n)) duplicated.add(m.n);
      else {
        seqOf.set(m.n, m.seq);
        if (m.seq <= prevSeq) reordered++;
      }
    }
    prevSeq = m.seq;
  }
  const lost: number[] = [];
  const wrongSeq: number[] = [];
  for (const [n, a] of acked) {
    if (!inRange(n)) continue;
    const seq = seqOf.get(n);
    if (seq === undefined) lost.push(n);
    else if (seq !== a.seq) wrongSeq.push(n);
  }
  const storedUnacked = [...seqOf.keys()].filter((n) => !acked.has(n));
  return { lost: lost.sort((a, b) => a - b), duplicated: [...duplicated], reordered, wrongSeq, storedUnacked };
}

/** The sum of tallies, for one line of the report. */
export function sum(ts: readonly Tally[]): { lost: number; duplicated: number; reordered: number; wrongSeq: number; storedUnacked: number } {
  const out = { lost: 0, duplicated: 0, reordered: 0, wrongSeq: 0, storedUnacked: 0 };
  for (const t of ts) {
    out.lost += t.lost.length;
    out.duplicated += t.duplicated.length;
    out.reordered += t.reordered;
    out.wrongSeq += t.wrongSeq.length;
    out.storedUnacked = Math.max(out.storedUnacked, t.storedUnacked.length);
  }
  return out;
}

/**
 * Every client must have received the same messages (seq and counter) up to the lowest seq
 * all of them reached: whatever was stored reaches everyone, acknowledged or not. Returns
 * the disagreements, empty when there are none.
 */
export function disagreements(clients: readonly ResumingClient[]): string[] {
  const upTo = Math.min(...clients.map((c) => c.lastSeq));
  const key = (c: ResumingClient): string[] => c.received.filter((m) => m.seq <= upTo).map((m) => `${m.seq}:${m.n}`);
  const ref = clients[0];
  if (ref === undefined) return [];
  const want = key(ref);
  const out: string[] = [];
  for (const c of clients.slice(1)) {
    const got = key(c);
    const i = want.findIndex((k, j) => got[j] !== k);
    if (i >= 0 || got.length !== want.length) {
      const at = i >= 0 ? i : Math.min(got.length, want.length);
      out.push(`${c.name} differs from ${ref.name} at message ${at}: ${got[at] ?? 'nothing'} instead of ${want[at] ?? 'nothing'}`);
    }
  }
  return out;
}
