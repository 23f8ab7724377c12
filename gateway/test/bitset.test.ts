import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelBits } from '../src/core/bitset.js';
import { seededRandom } from '@switchyard/testkit';

const ids = (b: ChannelBits): number[] => {
  const out: number[] = [];
  b.forEach((id) => out.push(id));
  return out;
};


test('empty set: has nothing, forEach calls nothing', () => {
  const b = new ChannelBits();
  assert.equal(b.has(0), false);
  assert.equal(b.has(63), false);
  assert.equal(b.has(10_000), false);
  assert.deepEqual(ids(b), []);
});

test('add / has / delete', () => {
  const b = new ChannelBits();
  b.add(0);
  b.add(5);
  b.add(63);
  assert.equal(b.has(0), true);
  assert.equal(b.has(5), true);
  assert.equal(b.has(63), true);
  assert.equal(b.has(1), false);
  assert.equal(b.has(4), false);
  assert.equal(b.has(62), false);
  assert.deepEqual(ids(b), [0, 5, 63]);
  b.delete(5);
  assert.equal(b.has(5), false);
  assert.equal(b.has(0), true);
  assert.deepEqual(ids(b), [0, 63]);
});

test('add and delete are idempotent', () => {
  const b = new ChannelBits();
  b.add(7);
  b.add(7);
  assert.deepEqual(ids(b), [7]);
  b.delete(7);
  b.delete(7);
  assert.equal(b.has(7), false);
  assert.deepEqual(ids(b), []);
  b.delete(1_000_000); // beyond the array: no-op, no growth needed
  assert.deepEqual(ids(b), []);
});

test('bit 31 and word boundaries', () => {
  const b = new ChannelBits();
  const edges = [0, 1, 30, 31, 32, 33, 62, 63, 64, 95, 96, 127, 128];
  for (const id of edges) b.add(id);
  for (const id of edges) assert.equal(b.has(id), true, `has ${id}`);
  for (const id of [2, 29, 34, 61, 65, 94, 97, 126, 129]) assert.equal(b.has(id), false, `not ${id}`);
  assert.deepEqual(ids(b), edges);

  b.delete(31);
  assert.equal(b.has(31), false);
  assert.equal(b.has(30), true);
  assert.equal(b.has(32), true);
  b.delete(32);
  assert.deepEqual(ids(b), [0, 1, 30, 33, 62, 63, 64, 95, 96, 127, 128]);
});

test('a word with only bit 31 set, and a full word', () => {
  const b = new ChannelBits();
  b.add(31);
  assert.deepEqual(ids(b), [31]);
  b.add(63);
  assert.deepEqual(ids(b), [31, 63]);

  const full = new ChannelBits();
  for (let i = 32; i < 64; i++) full.add(i);
  const expected = Array.from({ length: 32 }, (_, i) => 32 + i);
  assert.deepEqual(ids(full), expected);
  full.delete(63);
  assert.deepEqual(ids(full), expected.slice(0, -1));
  full.delete(32);
  assert.deepEqual(ids(full), expected.slice(1, -1));
});

test('grows beyond the initial size and keeps existing bits', () => {
  const b = new ChannelBits(64);
  b.add(3);
  b.add(63);
  b.add(64); // first id past the initial two words
  b.add(1_000);
  b.add(100_000); // far beyond doubling
  for (const id of [3, 63, 64, 1_000, 100_000]) assert.equal(b.has(id), true, `has ${id}`);
  assert.equal(b.has(99_999), false);
  assert.equal(b.has(100_001), false);
  assert.deepEqual(ids(b), [3, 63, 64, 1_000, 100_000]);
});

test('growth from the smallest sizes', () => {
  for (const initial of [0, 1, 31, 32, 33]) {
    const b = new ChannelBits(initial);
    b.add(0);
    b.add(31);
    b.add(32);
    b.add(200);
    assert.deepEqual(ids(b), [0, 31, 32, 200], `initial ${initial}`);
  }
});

test('forEach visits ids lowest first', () => {
  const b = new ChannelBits();
  for (const id of [500, 3, 64, 31, 2, 32, 1_023]) b.add(id);
  assert.deepEqual(ids(b), [2, 3, 31, 32, 64, 500, 1_023]);
});

test('matches a Set<number> over random operations', () => {
  for (const seed of [1, 2, 3, 42]) {
    const next = seededRandom(seed);
    const b = new ChannelBits(seed === 42 ? 1 : 64);
    const ref = new Set<number>();
    // ids cluster near word boundaries and spread across growth steps
    const pick = (): number => {
      const r = next();
      if (r < 0.3) return Math.floor(next() * 8) * 32 + (next() < 0.5 ? 31 : 0);
      if (r < 0.8) return Math.floor(next() * 300);
      return Math.floor(next() * 5_000);
    };
    for (let op = 0; op < 4_000; op++) {
      const id = pick();
      const r = next();
      if (r < 0.55) {
        b.add(id);
        ref.add(id);
      } else if (r < 0.9) {
        b.delete(id);
        ref.delete(id);
      } else {
        assert.equal(b.has(id), ref.has(id), `seed ${seed} op ${op} has(${id})`);
      }
      if (op % 500 === 499) {
        assert.deepEqual(ids(b), [...ref].sort((x, y) => x - y), `seed ${seed} after op ${op}`);
      }
    }
    assert.deepEqual(ids(b), [...ref].sort((x, y) => x - y), `seed ${seed} final`);
    for (let id = 0; id < 5_100; id++) assert.equal(b.has(id), ref.has(id), `seed ${seed} final has(${id})`);
  }
});
