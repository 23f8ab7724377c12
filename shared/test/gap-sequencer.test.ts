import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GapSequencer } from '../src/engine/nats/gap-sequencer.js';
import { seededRandom } from '@switchyard/testkit';

interface M {
  readonly seq: number;
  readonly tag?: string;
}

/** A sequencer whose sink records what it was told to do. */
function harness() {
  const delivered: number[] = [];
  const fills: [number, number][] = [];
  const s = new GapSequencer<M>({
    deliver: (m) => delivered.push(m.seq),
    fill: (from, to) => fills.push([from, to]),
  });
  return { s, delivered, fills };
}
const m = (seq: number): M => ({ seq });
const ms = (...seqs: number[]): M[] => seqs.map(m);

describe('gap sequencer', () => {
  test('in order: each message follows the previous one of its subject, even across stream-wide holes', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(2), 1);
    s.live(m(5), 2); // 3 and 4 belong to other channels of the namespace
    s.live(m(9), 5);
    assert.deepEqual(delivered, [1, 2, 5, 9]);
    assert.deepEqual(fills, []);
    assert.equal(s.last, 9);
    assert.equal(s.filling, false);
  });

  test('the first message is delivered as it comes: there is no earlier point to continue from', () => {
    const { s, delivered, fills } = harness();
    assert.equal(s.last, undefined);
    s.live(m(10), 7);
    assert.deepEqual(delivered, [10]);
    assert.deepEqual(fills, []);
    s.live(m(12), 10);
    assert.deepEqual(delivered, [10, 12]);
  });

  test('a gap is filled from the store, then the live message that revealed it follows', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(4), 3); // 2 and 3 (or some of them) were lost
    assert.deepEqual(delivered, [1]);
    assert.deepEqual(fills, [[2, 3]]);
    assert.equal(s.filling, true);
    s.filled(2, 3, ms(3)); // 2 was another channel's
    assert.deepEqual(delivered, [1, 3, 4]);
    assert.equal(s.filling, false);
    assert.equal(s.last, 4);
    s.live(m(5), 4);
    assert.deepEqual(delivered, [1, 3, 4, 5]);
    assert.deepEqual(fills, [[2, 3]]);
  });

  test('what a fill does not return is gone (trimmed): never asked for again', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(9), 6);
    assert.deepEqual(fills, [[2, 8]]);
    s.filled(2, 8, []); // 6 was trimmed by age meanwhile
    assert.deepEqual(delivered, [1, 9]);
    assert.equal(s.last, 9);
    s.live(m(10), 9);
    assert.deepEqual(delivered, [1, 9, 10]);
    assert.deepEqual(fills, [[2, 8]]);
  });

  test('duplicates: fill results overlapping what was delivered or held are delivered once', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(2), 1);
    s.live(m(6), 4);
    assert.deepEqual(fills, [[3, 5]]);
    // A store read may return more than asked for on both sides.
    s.filled(3, 5, ms(1, 2, 4, 6, 7));
    assert.deepEqual(delivered, [1, 2, 4, 6]);
    // 7 came back from the fill but was not delivered from it; it arrives live and is delivered once.
    s.live(m(7), 6);
    s.live(m(7), 6);
    s.live(m(2), 1);
    assert.deepEqual(delivered, [1, 2, 4, 6, 7]);
  });

  test('live messages arriving during a fill are held, then delivered in order after it', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(3), 2);
    s.live(m(4), 3);
    s.live(m(5), 4);
    assert.deepEqual(delivered, [1]);
    assert.deepEqual(fills, [[2, 2]]);
    s.filled(2, 2, ms(2));
    assert.deepEqual(delivered, [1, 2, 3, 4, 5]);
    assert.equal(s.filling, false);
  });

  test('a second gap among the held messages is filled before the rest are delivered', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(3), 2);
    s.live(m(4), 3);
    s.live(m(7), 6); // 5 and 6 lost too, while the first fill was pending
    s.live(m(8), 7);
    s.filled(2, 2, ms(2));
    assert.deepEqual(delivered, [1, 2, 3, 4]);
    assert.deepEqual(fills, [[2, 2], [5, 6]]);
    assert.equal(s.filling, true);
    s.live(m(9), 8); // still held behind 7 and 8
    s.filled(5, 6, ms(5, 6));
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(s.filling, false);
  });

  test('reconnect catch-up: what the store holds beyond the last delivery is fetched without waiting for a live message', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(2), 1);
    s.catchUp(5);
    assert.deepEqual(fills, [[3, 5]]);
    s.live(m(6), 5); // the live flow resumes meanwhile: held
    s.filled(3, 5, ms(3, 5));
    assert.deepEqual(delivered, [1, 2, 3, 5, 6]);
    s.live(m(5), 3); // a late duplicate
    assert.deepEqual(delivered, [1, 2, 3, 5, 6]);
  });

  test('catch-up asks for nothing before the first delivery, or when the store is not ahead', () => {
    const { s, fills } = harness();
    s.catchUp(40);
    assert.deepEqual(fills, []);
    s.live(m(41), 40);
    s.catchUp(41);
    s.catchUp(30);
    assert.deepEqual(fills, []);
  });

  test('catch-up during a pending fill continues once that fill is done', () => {
    const { s, delivered, fills } = harness();
    s.live(m(1), 0);
    s.live(m(4), 3);
    s.catchUp(9);
    assert.deepEqual(fills, [[2, 3]]);
    s.filled(2, 3, ms(2, 3));
    assert.deepEqual(delivered, [1, 2, 3, 4]);
    assert.deepEqual(fills, [[2, 3], [5, 9]]);
    s.filled(5, 9, ms(7, 9));
    assert.deepEqual(delivered, [1, 2, 3, 4, 7, 9]);
    assert.equal(s.filling, false);
  });

  test('seq 0 (no history) passes straight through, even while a fill is pending, and moves nothing', () => {
    const { s, delivered, fills } = harness();
    s.live(m(0), 0);
    assert.deepEqual(delivered, [0]);
    assert.equal(s.last, undefined);
    s.live(m(1), 0);
    s.live(m(3), 2);
    s.live(m(0), 0);
    assert.deepEqual(delivered, [0, 1, 0]);
    assert.equal(s.last, 1);
    assert.deepEqual(fills, [[2, 2]]);
  });

  test('an answer to a fill that is not pending is ignored', () => {
    const { s, delivered } = harness();
    s.live(m(1), 0);
    s.filled(2, 5, ms(2, 3));
    s.live(m(4), 3);
    s.filled(3, 3, ms(3)); // pending is [2, 3]
    assert.deepEqual(delivered, [1]);
    s.filled(2, 3, ms(2, 3));
    assert.deepEqual(delivered, [1, 2, 3, 4]);
  });

  test('simulation: lost live messages, late fills and catch-ups still deliver every stored message once, in order', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rnd = seededRandom(seed);
      // One channel's stored seqs: growing with holes (the namespace's other channels).
      const stored: number[] = [];
      for (let seq = 0, i = 0; i < 120; i++) stored.push((seq += 1 + Math.floor(rnd() * 3)));
      const { s, delivered, fills } = harness();
      let answered = 0;
      let published = 0; // stored[0 .. published) exist in the store
      const answer = (): void => {
        const [from, to] = fills[answered++] as [number, number];
        s.filled(from, to, stored.slice(0, published).filter((x) => x >= from && x <= to).map(m));
      };
      while (published < stored.length || answered < fills.length) {
        const r = rnd();
        if (answered < fills.length && r < 0.3) {
          answer();
        } else if (published < stored.length) {
          const seq = stored[published] as number;
          const prev = published === 0 ? 0 : (stored[published - 1] as number);
          published++;
          if (r < 0.8) s.live(m(seq), prev); // else lost between NATS and the node
          if (rnd() < 0.05) s.catchUp(seq);
        } else {
          answer();
        }
      }
      // The node reconnects at the end: the store tells where the channel got to.
      s.catchUp(stored[stored.length - 1] as number);
      while (answered < fills.length) answer();
      const first = delivered[0];
      assert.ok(first !== undefined, `seed ${seed}: something delivered`);
      assert.deepEqual(delivered, stored.filter((x) => x >= first), `seed ${seed}`);
    }
  });
});

