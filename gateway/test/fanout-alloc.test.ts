import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('./fanout-alloc-probe.ts', import.meta.url));

test('fan-out allocates nothing per subscriber: young-generation bytes per broadcast at 1, 100 and 1000 subscribers', async (t) => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64', '--import', 'tsx', '--conditions=source', PROBE],
      { timeout: 60_000 },
      (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
    );
  });
  const all = JSON.parse(stdout) as Record<'plain' | 'delta', Record<'1' | '100' | '1000', number>>;
  const bytes = all.plain;
  t.diagnostic(`bytes per broadcast: ${bytes['1'].toFixed(0)} at 1, ${bytes['100'].toFixed(0)} at 100, ${bytes['1000'].toFixed(0)} at 1000 subscribers`);
  // The frames (one per face) are the per-broadcast cost; anything per subscriber would add
  // at least 16 bytes (the smallest heap object) × the subscribers to each broadcast.
  const perSubscriber = (bytes['1000'] - bytes['1']) / 999;
  assert.ok(perSubscriber < 1, `${perSubscriber.toFixed(2)} B per subscriber per broadcast`);
  assert.ok(bytes['1'] < 4096, `one broadcast allocates ${bytes['1']} B: the frames and little else`);
  // Delta compression (a 2 KB object): the delta text, the delta and two frames per face per
  // broadcast, and still nothing per subscriber.
  const d = all.delta;
  t.diagnostic(`with delta: ${d['1'].toFixed(0)} at 1, ${d['100'].toFixed(0)} at 100, ${d['1000'].toFixed(0)} at 1000 subscribers`);
  const perDeltaSubscriber = (d['1000'] - d['1']) / 999;
  assert.ok(perDeltaSubscriber < 1, `delta: ${perDeltaSubscriber.toFixed(2)} B per subscriber per broadcast`);
});
