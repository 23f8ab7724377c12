import { tally, type Tally } from './delivery.js';
import type { Injected, Recovery } from './faults.js';
import type { Harness } from './harness.js';

/** The figures of one fault, as the report gives them. */
export interface FaultFigures {
  /** Clients whose connection the fault ended and that resumed elsewhere (or on the same gateway, once back). */
  readonly moved: number;
  /** From the fault until the last of them was subscribed again. */
  readonly resumedIn?: number;
  /** From the fault until every client had received a message published after it (the ones it cut off: after they resumed). */
  readonly deliveringIn: number;
  /** The same, from the repair (restart, SIGCONT, replacement). */
  readonly deliveringAfterRepair: number;
  /** The longest time between two acknowledged publishes around the fault. */
  readonly publishGap: number;
  /** Publishes without a 200 between the fault and the recovery. */
  readonly failedPublishes: number;
  /** The publish that took longest to answer in that time, and its answer. */
  readonly slowestPublish?: { readonly ms: number; readonly status: string };
  /** The counters judged: after `from`, up to the mark. */
  readonly from: number;
  /** Each client's delivery check on the counters after the previous fault's mark, up to this one's. */
  readonly tallies: ReadonlyMap<string, Tally>;
}

/** Figures of the fault `f`, judged on the counters after `prevMark` up to `r.mark`. */
export function figuresOf(h: Harness, f: Injected, r: Recovery, prevMark: number): FaultFigures {
  let moved = 0;
  let resumedIn: number | undefined;
  let delivering = 0;
  for (const c of h.clients) {
    const cut = c.sessions.some((s) => s.subscribedAt !== undefined && s.subscribedAt < f.at && s.endedAt !== undefined && s.endedAt >= f.at && s.endedAt <= r.recoveredAt);
    // A client the fault cut off counts from its first message after it resumed (a gateway
    // stopping gracefully still delivers for a moment); the others from the first message sent after the fault.
    let from = 0;
    if (cut) {
      moved++;
      const back = c.sessions.find((s) => s.subscribedAt !== undefined && s.subscribedAt >= f.at);
      if (back?.subscribedAt !== undefined) {
        resumedIn = Math.max(resumedIn ?? 0, back.subscribedAt - f.at);
        from = back.subscribedAt;
      }
    }
    const first = c.received.find((m) => m.n >= r.firstAfter && m.at >= from);
    if (first !== undefined) delivering = Math.max(delivering, first.at);
  }
  const attempts = h.publisher.attempts;
  let publishGap = 0;
  let prevAck: number | undefined;
  let failedPublishes = 0;
  let slowestPublish: FaultFigures['slowestPublish'];
  for (const a of attempts) {
    if (a.sentAt >= f.at && a.sentAt <= r.recoveredAt && a.doneAt - a.sentAt > (slowestPublish?.ms ?? -1)) slowestPublish = { ms: a.doneAt - a.sentAt, status: String(a.status) };
    if (a.status !== 200) {
      if (a.sentAt >= f.at && a.sentAt <= r.recoveredAt) failedPublishes++;
      continue;
    }
    if (prevAck !== undefined && a.doneAt >= f.at && prevAck <= r.recoveredAt) publishGap = Math.max(publishGap, a.doneAt - prevAck);
    prevAck = a.doneAt;
  }
  const tallies = new Map(h.clients.map((c) => [c.name, tally(c, h.publisher.acked, prevMark, r.mark)] as const));
  return {
    moved,
    ...(resumedIn !== undefined ? { resumedIn } : {}),
    deliveringIn: delivering - f.at,
    deliveringAfterRepair: delivering - f.healAt,
    publishGap,
    failedPublishes,
    ...(slowestPublish !== undefined ? { slowestPublish } : {}),
    from: prevMark,
    tallies,
  };
}
