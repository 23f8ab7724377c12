import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secs } from './faults/clock.js';
import type { Slot } from './faults/cluster.js';
import { clean, disagreements, sum, tally, tallyText } from './faults/delivery.js';
import { FAULTS, recover, type Recovery } from './faults/faults.js';
import { figuresOf } from './faults/figures.js';
import { startHarness } from './faults/harness.js';
import { judgeFault, refusedWhileReady, unexplained503, type Window } from './faults/readyz-check.js';
import { faultLines, timeline } from './faults/report.js';
import { ROUNDS, TEST_TIMEOUT_MS } from './faults/settings.js';

/*
 * Issue 12, "faults": a cluster of separate processes (nats-server, a control API, two
 * gateways) under a steady publisher and resuming clients of the native and site protocols,
 * through SIGKILL, SIGSTOP and SIGTERM of a gateway, kill -9 and restart of nats-server and a
 * restart of the control API. Every publish that got a 200 must reach every client exactly
 * once, in order, and `/readyz` must tell the truth throughout. One round here (CI);
 * `npm run faults` runs five (SWITCHYARD_FAULTS_ROUNDS). The figures are printed as
 * diagnostics.
 */
test(`faults: ${ROUNDS} round(s) of gateway SIGKILL/SIGSTOP/SIGTERM, nats-server kill -9, control API restart; no acknowledged message lost, duplicated or reordered, /readyz truthful`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const h = await startHarness(t);
  const windows: Window[] = [];
  let mark = 0;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, fault] of FAULTS.entries()) {
        // The gateway faults alternate between the slots, and so do the rounds.
        const slot = ((round + i) % 2) as Slot;
        const name = `round ${round}: ${fault.name}`;
        await t.test(name, async (st) => {
          const before = h.cluster.live().map((p) => p.name);
          const f = await fault.inject(h, slot);
          let r: Recovery | undefined;
          try {
            r = await recover(h, f);
          } finally {
            windows.push({ target: fault.target, victim: f.victim, ...(f.replacement !== undefined ? { replacement: f.replacement } : {}), at: f.at, healAt: f.healAt, recoveredAt: r?.recoveredAt ?? Date.now(), before });
          }
          const w = windows.at(-1) as Window;
          const fig = figuresOf(h, f, r, mark);
          mark = r.mark;
          const ready = judgeFault(w, h.prober, h.t0);
          for (const line of faultLines(name, f, r, fig, ready.figures, h.t0)) st.diagnostic(line);

          // Every finding at once, so that one failure does not hide the others.
          const seen = capped(h.clients.flatMap((c) => c.violations).filter((v) => v.at >= f.at && v.at <= r.markAt).map((v) => v.what));
          assert.deepEqual(
            {
              problems: f.problems,
              exitCode: f.exitCode === undefined ? 0 : f.exitCode,
              delivery: [...fig.tallies].filter(([, tl]) => !clean(tl)).map(([client, tl]) => `${client}: ${tallyText(tl)}`),
              violations: seen,
              readyz: ready.findings,
              crashes: h.cluster.crashes.filter((c) => c.at >= f.at).map((c) => `${c.proc} exited with ${c.code}`),
            },
            { problems: [], exitCode: 0, delivery: [], violations: [], readyz: [], crashes: [] },
          );
        });
      }
    }
  } finally {
    await h.stop();
  }

  const p = h.publisher;
  const tallies = h.clients.map((c) => [c.name, tally(c, p.acked, 0, p.lastAcked)] as const);
  const total = sum(tallies.map(([, tl]) => tl));
  const refused = p.attempts.filter((a) => a.status !== 200).length;
  t.diagnostic(`${p.attempts.length} publishes in ${secs(Date.now() - h.t0)}: ${p.acked.size} acknowledged, ${refused} refused; ${h.clients.length} clients (${h.clients.map((c) => `${c.name} ${c.sessions.length} sessions`).join(', ')})`);
  t.diagnostic(`all counters 1..${p.lastAcked}: lost ${total.lost}, duplicated ${total.duplicated}, reordered ${total.reordered}, wrong seq ${total.wrongSeq}, stored though refused ${total.storedUnacked}`);
  t.diagnostic('/readyz timeline (outcome first..last probe sent, seconds since the start):');
  for (const line of timeline(h.prober, h.t0)) t.diagnostic(`  ${line}`);

  const publishes = p.attempts.map((a) => ({ proc: a.proc, start: a.sentAt, end: a.doneAt, ok: a.status === 200 }));
  const subscribes = h.clients.flatMap((c) => c.sessions.map((s) => ({ proc: s.proc, start: s.openedAt, end: s.subscribedAt ?? s.endedAt ?? Date.now(), ok: s.subscribedAt !== undefined })));
  assert.deepEqual(
    {
      // Every acknowledged counter once, in order, with its seq, at every client.
      delivery: tallies.filter(([, tl]) => !clean(tl)).map(([client, tl]) => `${client}: ${tallyText(tl)}`),
      // Duplicates, reorders, resumes that did not recover (native), unexpected frames.
      violations: capped(h.clients.flatMap((c) => c.violations).map((v) => v.what)),
      // What was stored reached everyone, acknowledged or not.
      disagreements: disagreements(h.clients),
      // /readyz: no 503 without a fault, no 200 while refusing every publish or every client.
      unexplained503: unexplained503(h.prober, windows, h.t0),
      readyWhileRefusing: [
        ...refusedWhileReady(publishes, h.prober, 'publishes', h.t0),
        ...refusedWhileReady(subscribes, h.prober, 'connects and subscribes', h.t0),
      ],
      // No process died on its own, nor logged a bug (level error or fatal).
      crashes: h.cluster.crashes.map((c) => `${c.proc} exited with ${c.code} at ${secs(c.at - h.t0)}`),
      errorLogs: capped(h.cluster.errorLogs()),
    },
    { delivery: [], violations: [], disagreements: [], unexplained503: [], readyWhileRefusing: [], crashes: [], errorLogs: [] },
  );
  assert.equal(windows.length, ROUNDS * FAULTS.length, 'every fault ran');
});

/** The first 20 of a list of findings, and how many more there were. */
function capped(list: readonly string[]): string[] {
  return list.length <= 20 ? [...list] : [...list.slice(0, 20), `… and ${list.length - 20} more`];
}
