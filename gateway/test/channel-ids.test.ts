import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelIds } from '../src/core/channel-ids.js';
import { seededRandom } from '@switchyard/testkit';

const ids = (b: ChannelIds): number[] => {
  const out: number[] = [];
  b.forEach((id) => out.push(id));
  return out;
};

test('empty: has nothing, forEach calls nothing, size 0', () => {
  const b = new ChannelIds();
  assert.equal(b.has(0), false);
  assert.equal(b.has(10_000), false);
  assert.deepEqual(ids(b), []);
  assert.equal(b.size, 0);
});

test('add / has / delete keep the order ids were added, id 0 included', () => {
  const b = new ChannelIds();
  for (const id of [5, 0, 100_000, 63]) b.add(id);
  assert.deepEqual(ids(b), [5, 0, 100_000, 63]);
  assert.equal(b.size, 4);
  for (const id of [5, 0, 100_000, 63]) assert.equal(b.has(id), true);
  assert.equal(b.has(1), false);
  b.delete(5); // the first: the next one takes its place
  assert.deepEqual(ids(b), [0, 100_000, 63]);
  b.delete(100_000);
  assert.deepEqual(ids(b), [0, 63]);
  b.delete(0);
  b.delete(63);
  assert.deepEqual(ids(b), []);
  b.add(7);
  assert.deepEqual(ids(b), [7], 'empty again: the next id is the first');
});

test('add and delete are idempotent', () => {
  const b = new ChannelIds();
  b.add(7);
  b.add(7);
  assert.deepEqual(ids(b), [7]);
  b.delete(7);
  b.delete(7);
  b.delete(1_000_000);
  assert.equal(b.has(7), false);
  assert.deepEqual(ids(b), []);
});

test('take returns every id in order and leaves the set empty', () => {
  const b = new ChannelIds();
  for (const id of [3, 1, 2]) b.add(id);
  assert.deepEqual(b.take(), [3, 1, 2]);
  assert.deepEqual(ids(b), []);
  assert.equal(b.has(3), false);
  b.delete(1); // what a close does after take: a no-op
  assert.deepEqual(b.take(), []);
});

test('matches a Set<number> (membership and insertion order) over random operations', () => {
  for (const seed of [1, 2, 3, 42]) {
    const next = seededRandom(seed);
    const b = new ChannelIds();
    const ref = new Set<number>();
    // few distinct ids (so deletes hit) and some far apart (ids are dense over the node, not the connection)
    const pick = (): number => (next() < 0.8 ? Math.floor(next() * 40) : Math.floor(next() * 100_000));
    for (let op = 0; op < 4_000; op++) {
      const id = pick();
      const r = next();
      if (r < 0.5) {
        b.add(id);
        ref.add(id);
      } else if (r < 0.9) {
        b.delete(id);
        ref.delete(id);
      } else {
        assert.equal(b.has(id), ref.has(id), `seed ${seed} op ${op} has(${id})`);
      }
      assert.equal(b.size, ref.size);
      if (op % 250 === 249) assert.deepEqual(ids(b), [...ref], `seed ${seed} after op ${op}`);
    }
    assert.deepEqual(ids(b), [...ref], `seed ${seed} final`);
  }
});
