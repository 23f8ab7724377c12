import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, MIN_REFRESH_MS, REFRESH_LEAD_MS, closePolicy, reconnectDelay, refreshDelay } from '../src/reconnect.js';

// The pure timing rules behind reconnects and token refreshes (the policy against a server is in policy.test.ts).

test('reconnectDelay: "now" is jittered within restartJitterMs, whatever the attempt; "backoff" is full jitter under min(max, base·2^attempt)', () => {
  const s = { ...DEFAULTS, reconnectBaseMs: 100, reconnectMaxMs: 1000, restartJitterMs: 300 };
  const top = (): number => 1;
  assert.equal(reconnectDelay('now', 0, s, top), 300);
  assert.equal(reconnectDelay('now', 25, s, top), 300, 'no growth');
  assert.deepEqual([0, 1, 2, 3, 4, 20].map((a) => reconnectDelay('backoff', a, s, top)), [100, 200, 400, 800, 1000, 1000]);
  assert.equal(reconnectDelay('backoff', 3, s, () => 0), 0, 'full jitter reaches 0');
  assert.equal(reconnectDelay('backoff', 3, s, () => 0.5), 400);
});

test('refreshDelay: two thirds of the remaining life or a minute before expiry, whichever is later; never under a second; none when expired or beyond a timer', () => {
  assert.equal(refreshDelay(3 * 3600_000), 3 * 3600_000 - REFRESH_LEAD_MS, 'a long token: a minute before expiry');
  assert.equal(refreshDelay(90_000), 60_000, 'a short one: at two thirds');
  assert.equal(refreshDelay(600), MIN_REFRESH_MS, 'never sooner than the minimum');
  assert.equal(refreshDelay(0), undefined);
  assert.equal(refreshDelay(-5), undefined);
  assert.equal(refreshDelay(2 ** 33), undefined, 'beyond setTimeout\'s range');
});

test('closePolicy: 1000 and 4000-4099 are terminal; 1012 and 4101 reconnect at once; the rest back off', () => {
  assert.deepEqual([1000, 4000, 4003, 4099].map(closePolicy), ['terminal', 'terminal', 'terminal', 'terminal']);
  assert.deepEqual([1012, 4101].map(closePolicy), ['now', 'now']);
  assert.deepEqual([1001, 1006, 1011, 1013, 4100, 4102].map(closePolicy), ['backoff', 'backoff', 'backoff', 'backoff', 'backoff', 'backoff']);
});
