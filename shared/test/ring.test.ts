import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageRing } from '../src/engine/ring.js';
import type { Message } from '../src/model/message.js';

const msg = (seq: number, time = 1_000): Message => ({ seq, time, data: `"m${seq}"` });

/** A ring that has received seqs 1..n, all at `time`. */
function filled(capacity: number, n: number, ttlMs = 0, time = 1_000): MessageRing {
  const r = new MessageRing(capacity, ttlMs);
  for (let s = 1; s <= n; s++) r.push(msg(s, time));
  return r;
}

const seqs = (ms: readonly Message[]): number[] => ms.map((m) => m.seq);

test('empty ring: nothing to read, last is 0, complete', () => {
  const r = new MessageRing(5, 0);
  assert.equal(r.last, 0);
  assert.deepEqual(r.read(0, 0), { messages: [], complete: true });
  assert.deepEqual(r.read(-1, 0), { messages: [], complete: true });
});

test('below capacity: read(0) returns everything in order, complete', () => {
  const r = filled(5, 3);
  assert.equal(r.last, 3);
  const page = r.read(0, 1_000);
  assert.deepEqual(seqs(page.messages), [1, 2, 3]);
  assert.equal(page.complete, true);
  assert.deepEqual(page.messages[0], msg(1));
});

test('capacity trimming keeps only the newest `capacity` messages', () => {
  const r = filled(3, 10);
  assert.equal(r.last, 10);
  const page = r.read(7, 1_000);
  assert.deepEqual(seqs(page.messages), [8, 9, 10]);
  assert.equal(page.complete, true);
});

test('trimming across many wraps keeps messages contiguous and in order', () => {
  const r = new MessageRing(4, 0);
  for (let s = 1; s <= 103; s++) {
    r.push(msg(s));
    const page = r.read(0, 1_000);
    const expected: number[] = [];
    for (let k = Math.max(1, s - 3); k <= s; k++) expected.push(k);
    assert.deepEqual(seqs(page.messages), expected, `after pushing ${s}`);
  }
});

test('read(after) inside the ring returns exactly seq > after', () => {
  const r = filled(5, 8); // holds 4..8
  for (let after = 3; after <= 8; after++) {
    const page = r.read(after, 1_000);
    const expected: number[] = [];
    for (let s = after + 1; s <= 8; s++) expected.push(s);
    assert.deepEqual(seqs(page.messages), expected, `after=${after}`);
    assert.equal(page.complete, true, `after=${after}`);
  }
});

test('read(after) older than the ring: returns what is held, complete false (trimmed by size)', () => {
  const r = filled(5, 8); // holds 4..8, lost 1..3
  for (const after of [0, 1, 2]) {
    const page = r.read(after, 1_000);
    assert.deepEqual(seqs(page.messages), [4, 5, 6, 7, 8], `after=${after}`);
    assert.equal(page.complete, false, `after=${after}`);
  }
});

test('after = oldest - 1 is complete (nothing after it was lost)', () => {
  const r = filled(5, 8); // oldest 4
  assert.equal(r.read(3, 1_000).complete, true);
  assert.equal(r.read(2, 1_000).complete, false);
});

test('after = -1 returns only the last message', () => {
  const r = filled(3, 10);
  const page = r.read(-1, 1_000);
  assert.deepEqual(seqs(page.messages), [10]);
  assert.equal(page.complete, true);
  const small = filled(5, 2);
  assert.deepEqual(seqs(small.read(-1, 1_000).messages), [2]);
});

test('after >= last returns nothing and is complete', () => {
  const r = filled(3, 10);
  assert.deepEqual(r.read(10, 1_000), { messages: [], complete: true });
  assert.deepEqual(r.read(11, 1_000), { messages: [], complete: true });
  assert.deepEqual(r.read(1_000_000, 1_000), { messages: [], complete: true });
});

test('TTL: messages older than ttl are dropped on read, complete false', () => {
  const r = new MessageRing(10, 1_000);
  r.push(msg(1, 0));
  r.push(msg(2, 500));
  r.push(msg(3, 1_500));
  r.push(msg(4, 2_000));
  // now = 2_000: cutoff 1_000, so seqs 1 and 2 (time < 1000) are gone
  const page = r.read(0, 2_000);
  assert.deepEqual(seqs(page.messages), [3, 4]);
  assert.equal(page.complete, false);
  assert.equal(r.read(2, 2_000).complete, true);
  assert.deepEqual(seqs(r.read(2, 2_000).messages), [3, 4]);
  assert.equal(r.last, 4);
});

test('TTL: a message exactly ttl old is kept; one ms older is dropped', () => {
  const r = new MessageRing(10, 1_000);
  r.push(msg(1, 5_000));
  assert.deepEqual(seqs(r.read(0, 6_000).messages), [1]);
  assert.equal(r.read(0, 6_000).complete, true);
  assert.deepEqual(seqs(r.read(0, 6_001).messages), []);
  assert.equal(r.read(0, 6_001).complete, false);
});

test('TTL: everything expired → no messages, after=-1 gives nothing, last kept', () => {
  const r = new MessageRing(10, 100);
  for (let s = 1; s <= 5; s++) r.push(msg(s, 0));
  const page = r.read(0, 10_000);
  assert.deepEqual(page.messages, []);
  assert.equal(page.complete, false);
  assert.deepEqual(r.read(-1, 10_000).messages, []);
  assert.deepEqual(r.read(5, 10_000), { messages: [], complete: true });
  assert.equal(r.last, 5);
});

test('TTL then new pushes: ring stays consistent after expiry and wrap', () => {
  const r = new MessageRing(3, 1_000);
  r.push(msg(1, 0));
  r.push(msg(2, 0));
  r.push(msg(3, 5_000));
  r.push(msg(4, 5_000)); // trims 1 by size
  assert.deepEqual(seqs(r.read(0, 5_000).messages), [3, 4]); // 2 expired
  r.push(msg(5, 5_100));
  r.push(msg(6, 5_200)); // holds 4,5,6 (3 trimmed by size)
  const page = r.read(2, 5_200);
  assert.deepEqual(seqs(page.messages), [4, 5, 6]);
  assert.equal(page.complete, false);
  assert.deepEqual(seqs(r.read(3, 5_200).messages), [4, 5, 6]);
  assert.equal(r.read(3, 5_200).complete, true);
  assert.deepEqual(seqs(r.read(-1, 5_200).messages), [6]);
});

test('ttl 0 means no age limit', () => {
  const r = new MessageRing(3, 0);
  r.push(msg(1, 0));
  const page = r.read(0, Number.MAX_SAFE_INTEGER);
  assert.deepEqual(seqs(page.messages), [1]);
  assert.equal(page.complete, true);
});

test('capacity 0 keeps no messages but tracks last', () => {
  const r = new MessageRing(0, 0);
  for (let s = 1; s <= 7; s++) r.push(msg(s));
  assert.equal(r.last, 7);
  const page = r.read(0, 1_000);
  assert.deepEqual(page.messages, []);
  assert.equal(page.complete, false);
  assert.deepEqual(r.read(-1, 1_000).messages, []);
  assert.deepEqual(r.read(7, 1_000), { messages: [], complete: true });
});

test('capacity 0 with a TTL does not throw and keeps nothing', () => {
  const r = new MessageRing(0, 1_000);
  r.push(msg(1, 0));
  r.push(msg(2, 0));
  assert.equal(r.last, 2);
  assert.deepEqual(r.read(0, 5_000).messages, []);
  assert.deepEqual(r.read(-1, 5_000).messages, []);
});

test('capacity 1 keeps only the last message', () => {
  const r = filled(1, 4);
  assert.deepEqual(seqs(r.read(0, 1_000).messages), [4]);
  assert.equal(r.read(0, 1_000).complete, false);
  assert.equal(r.read(3, 1_000).complete, true);
  assert.deepEqual(seqs(r.read(-1, 1_000).messages), [4]);
});

test('returned messages are the pushed objects (data and from preserved)', () => {
  const r = new MessageRing(2, 0);
  const m: Message = { seq: 1, time: 42, data: '{"a":1}', from: { conn: 'c1', user: 'u' } };
  r.push(m);
  assert.equal(r.read(0, 42).messages[0], m);
});
