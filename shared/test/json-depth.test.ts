import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '@switchyard/testkit';
import { MAX_JSON_DEPTH, jsonTooDeep } from '../src/json.js';
import { toMessage } from '../src/engine/nats/codec.js';

/** The nesting depth of a parsed value, the reference. */
function depth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depth));
  return 0;
}

test('jsonTooDeep: the bound holds at exactly MAX_JSON_DEPTH, for objects, arrays and both mixed', () => {
  const objects = (n: number): string => '{"a":'.repeat(n) + '0' + '}'.repeat(n);
  const arrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  const mixed = (n: number): string => '[{"k":'.repeat(n / 2) + 'null' + '}]'.repeat(n / 2);
  for (const make of [objects, arrays, mixed]) {
    assert.equal(jsonTooDeep(make(MAX_JSON_DEPTH)), false);
    assert.equal(jsonTooDeep(make(MAX_JSON_DEPTH + 2)), true);
    assert.equal(jsonTooDeep(make(100_000)), true);
  }
  assert.equal(jsonTooDeep(objects(MAX_JSON_DEPTH + 1)), true);
});

test('jsonTooDeep: brackets inside strings (escaped quotes too) do not count; many shallow containers are fine', () => {
  const inString = JSON.stringify({ s: '{'.repeat(1000) + '\\"[' + '['.repeat(1000) });
  assert.equal(jsonTooDeep(inString), false);
  const wide = JSON.stringify(Array.from({ length: 5_000 }, (_, i) => ({ i, a: [i] })));
  assert.equal(jsonTooDeep(wide), false, 'thousands of brackets, depth 3');
});

test('jsonTooDeep agrees with the depth of the parsed value on random nestings', () => {
  const next = seededRandom(7);
  // A spine of random containers, `levels` deep, with shallow siblings and strings holding brackets.
  const gen = (levels: number): unknown => {
    if (levels <= 0) return next() < 0.5 ? 'x{"[' : 1;
    const kids: unknown[] = [gen(levels - 1)];
    if (next() < 0.5) kids.push(next() < 0.5 ? [1, '}]'] : { s: ']}' });
    if (next() < 0.5) kids.reverse();
    return next() < 0.5 ? kids : Object.fromEntries(kids.map((k, i) => [`k${i}`, k]));
  };
  for (let i = 0; i < 300; i++) {
    const v = gen(MAX_JSON_DEPTH - 20 + Math.floor(next() * 40));
    const text = JSON.stringify(v);
    assert.equal(jsonTooDeep(text), depth(v) > MAX_JSON_DEPTH, `depth ${depth(v)}`);
  }
});

test('NATS ingress: a message nested deeper than the bound is dropped like one that is not JSON', () => {
  const deep = '['.repeat(3_000) + ']'.repeat(3_000);
  assert.equal(toMessage(deep, '1', undefined, undefined), undefined);
  assert.equal(toMessage('not json', '1', undefined, undefined), undefined);
  assert.equal(toMessage('[[1]]', '1', '5', undefined)?.data, '[[1]]');
});
