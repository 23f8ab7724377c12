import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '@switchyard/testkit';
import { jsonMember } from '../src/json.js';

test('jsonMember: the raw text of a member, whitespace and all', () => {
  assert.equal(jsonMember('{"type":"publish","data":{"a": [1, 2]}}', 'data'), '{"a": [1, 2]}');
  assert.equal(jsonMember(' { "data" : "x\\"}" , "type":"p" } ', 'data'), '"x\\"}"');
  assert.equal(jsonMember('{"data":-1.5e3}', 'data'), '-1.5e3');
  assert.equal(jsonMember('{"data":null}', 'data'), 'null');
  assert.equal(jsonMember('{"data":"a\\\\"}', 'data'), '"a\\\\"');
});

test('jsonMember: absent, not an object, or a key with escapes → undefined (the caller re-serializes)', () => {
  assert.equal(jsonMember('{"type":"publish"}', 'data'), undefined);
  assert.equal(jsonMember('{}', 'data'), undefined);
  assert.equal(jsonMember('[{"data":1}]', 'data'), undefined);
  assert.equal(jsonMember('{"x":{"data":1}}', 'data'), undefined, 'only top-level members');
  assert.equal(jsonMember('{"d\\u0061ta":1}', 'data'), undefined);
  assert.equal(jsonMember('{"data":1,"d\\u0061ta":2}', 'data'), undefined, 'an escaped duplicate would win in JSON.parse');
});

test('jsonMember: the last of duplicate keys wins, as in JSON.parse', () => {
  assert.equal(jsonMember('{"data":1,"x":2,"data":{"b":3}}', 'data'), '{"b":3}');
});

/** A random JSON value as text, with strings full of quotes, backslashes, braces and escapes. */
function randomJson(rnd: () => number, depth: number, top = false): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const str = (): string => {
    const parts = ['a', '"', '\\', '{', '}', '[', ']', ',', ':', 'data', 'é', '\n', ' ', '\\\\"', '\u2028'];
    let s = '';
    for (let n = Math.floor(rnd() * 6); n > 0; n--) s += pick(parts);
    return JSON.stringify(s);
  };
  const ws = (): string => pick(['', '', ' ', '\n\t ']);
  const r = rnd();
  if (!top && (depth <= 0 || r < 0.3)) return pick([str, () => String(Math.floor(rnd() * 1e6) / 100), () => pick(['true', 'false', 'null', '-0', '1e3'])])();
  if (!top && r < 0.6) {
    const items = Array.from({ length: Math.floor(rnd() * 4) }, () => ws() + randomJson(rnd, depth - 1) + ws());
    return `[${items.join(',')}]`;
  }
  // Escaped keys only below the top level (at the top, jsonMember declines them: tested above).
  const keys = top ? ['data', 'type', 'x', 'da'] : ['data', 'type', 'x', '"q', 'da'];
  const members = Array.from({ length: Math.floor(rnd() * 5) }, () => `${ws()}${JSON.stringify(pick(keys))}${ws()}:${ws()}${randomJson(rnd, depth - 1)}${ws()}`);
  return `{${members.join(',')}}`;
}

test('jsonMember agrees with JSON.parse on 20,000 random objects', () => {
  for (let seed = 1; seed <= 20_000; seed++) {
    const rnd = seededRandom(seed);
    const text = randomJson(rnd, 4, true);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const raw = jsonMember(text, 'data');
    if (!Object.hasOwn(parsed, 'data')) {
      assert.equal(raw, undefined, `seed ${seed}: ${text}`);
      continue;
    }
    assert.notEqual(raw, undefined, `seed ${seed}: ${text}`);
    assert.deepEqual(JSON.parse(raw as string), parsed.data, `seed ${seed}: ${text}`);
  }
});

test('jsonMember: hostile shapes (100,000 nesting levels, long runs of escapes) are walked without recursion', () => {
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  assert.equal(jsonMember(`{"data":${deep},"x":1}`, 'data'), deep);
  const escapes = JSON.stringify('\\"'.repeat(50_000) + '\\'.repeat(50_001));
  const text = `{"data":${escapes},"type":"publish"}`;
  JSON.parse(text); // valid JSON, as jsonMember requires
  assert.equal(jsonMember(text, 'data'), escapes);
});
