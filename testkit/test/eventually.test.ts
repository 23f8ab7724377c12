import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, withDeadline } from '../src/index.js';

test('eventually returns the first truthy answer and names what never came', async () => {
  let n = 0;
  assert.equal(await eventually(() => (++n >= 3 ? n : undefined), 'three polls', { everyMs: 1 }), 3);
  await assert.rejects(eventually(() => false, 'the impossible', { timeoutMs: 30, everyMs: 5 }), /not true within 30 ms: the impossible/);
  await assert.rejects(withDeadline(new Promise(() => {}), 20, 'never settles'), /never settles within 20 ms/);
});
