import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retry } from '../src/engine/nats/retry.js';

test('retry: resolves with the first success, reporting the first failure and every reportEvery-th', async () => {
  let calls = 0;
  const reported: number[] = [];
  const got = await retry(
    () => {
      calls++;
      return calls < 6 ? Promise.reject(new Error(`fail ${calls}`)) : Promise.resolve('ok');
    },
    { everyMs: 1, stop: new AbortController().signal, reportEvery: 2, onFailure: (_err, attempt) => reported.push(attempt) },
  );
  assert.equal(got, 'ok');
  assert.equal(calls, 6);
  assert.deepEqual(reported, [0, 2, 4]);
});

test('retry: an abort ends a pending pause at once and resolves undefined', async () => {
  const stop = new AbortController();
  let calls = 0;
  const started = Date.now();
  const got = retry(
    () => {
      calls++;
      queueMicrotask(() => stop.abort());
      return Promise.reject(new Error('down'));
    },
    { everyMs: 60_000, stop: stop.signal },
  );
  assert.equal(await got, undefined);
  assert.equal(calls, 1);
  assert.ok(Date.now() - started < 5_000, 'did not wait out the pause');
});

test('retry: nothing is attempted once stopped', async () => {
  const stop = new AbortController();
  stop.abort();
  let calls = 0;
  const got = await retry(() => Promise.resolve(++calls), { everyMs: 1, stop: stop.signal });
  assert.equal(got, undefined);
  assert.equal(calls, 0);
});
