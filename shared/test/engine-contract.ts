/**
 * The contract every `Engine` implementation must pass. Register it from a `*.test.ts` file:
 *
 *   engineContract('embedded', () => new EmbeddedEngine());
 *
 * Nothing here assumes delivery is synchronous: deliveries are awaited with a deadline, and
 * "not delivered" is shown by a later message on another, subscribed channel arriving while
 * the unwanted one never did. Channel names are unique per test so the suite also works
 * against a broker whose state outlives one engine instance.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { testTenants, withDeadline } from '@switchyard/testkit';
import { resolveChannel, type ChannelRef } from '../src/model/channel.js';
import type { Tenant } from '../src/model/tenant.js';
import type { ClientInfo, Message } from '../src/model/message.js';
import type { Engine, PresenceEntry } from '../src/engine/engine.js';

const DEADLINE_MS = 2_000;

/** The tenants every contract channel belongs to (engines that plan per-tenant storage need them). */
/** The test fixture: tenants `demo` (chat keeps 100 with presence, live keeps none) and `other`. */
export const registry = testTenants();

function tenant(id: string): Tenant {
  const t = registry.tenants.get(id);
  assert.ok(t, `tenant ${id} configured`);
  return t;
}

/** A fresh channel name (optionally inside a namespace) that no other test uses. */
const fresh = (prefix = ''): string => `${prefix}contract-${randomUUID()}`;

const ch = (tenantId: string, name: string): ChannelRef => resolveChannel(tenant(tenantId), name);

/** Resolves `p`, or rejects once the deadline passes. */
const within = <T>(p: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> => withDeadline(p, ms, `timed out waiting for ${what}`);

interface Delivery {
  readonly key: string;
  readonly ch: ChannelRef;
  readonly msg: Message;
}

/** Records every delivery; lets a test wait (with a deadline) until a condition holds. */
class Inbox {
  readonly got: Delivery[] = [];
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  readonly handler = (c: ChannelRef, msg: Message): void => {
    this.got.push({ key: c.key, ch: c, msg });
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  };

  for(c: ChannelRef): Message[] {
    return this.got.filter((d) => d.key === c.key).map((d) => d.msg);
  }

  /** Waits until `c` has received at least `n` messages. */
  async waitCount(c: ChannelRef, n: number): Promise<Message[]> {
    const check = (): boolean => this.for(c).length >= n;
    if (!check()) {
      const p = new Promise<void>((resolve) => this.waiters.push({ check, resolve }));
      try {
        await within(p, `${n} deliveries on ${c.key}`);
      } catch (err) {
        throw new Error(`${(err as Error).message}; got ${this.for(c).length}: ${JSON.stringify(this.for(c))}`);
      }
    }
    return this.for(c);
  }
}

async function withEngine(make: () => Promise<Engine> | Engine, body: (e: Engine, inbox: Inbox) => Promise<void>) {
  const e = await make();
  const inbox = new Inbox();
  e.broker.setDeliveryHandler(inbox.handler);
  try {
    await body(e, inbox);
  } finally {
    await e.close();
  }
}

const seqsOf = (ms: readonly Message[]): number[] => ms.map((m) => m.seq);
const range = (from: number, to: number): number[] => {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
};
const byConn = (a: PresenceEntry, b: PresenceEntry): number => (a.conn < b.conn ? -1 : a.conn > b.conn ? 1 : 0);

export function engineContract(name: string, make: () => Promise<Engine> | Engine): void {
  describe(`engine contract: ${name}`, () => {
    test('is ready once made, and not after close', async () => {
      const e = await make();
      assert.equal(e.ready(), true);
      assert.ok(e.kind === 'embedded' || e.kind === 'nats');
      await e.close();
      assert.equal(e.ready(), false);
    });

    test('a never-published channel has empty history, last 0, complete', async () => {
      await withEngine(make, async (e) => {
        const c = ch('demo', fresh());
        for (const after of [0, -1, 5]) {
          const page = await e.history.read(c, after);
          assert.deepEqual(page.messages, [], `after=${after}`);
          assert.equal(page.last, 0, `after=${after}`);
          assert.equal(page.complete, true, `after=${after}`);
          assert.equal(typeof page.epoch, 'string');
          assert.ok(page.epoch.length > 0);
        }
      });
    });

    test('publish assigns growing, contiguous seqs per channel, each after the previous', async () => {
      await withEngine(make, async (e) => {
        const c = ch('demo', fresh());
        // A channel's epoch is fixed from its first message on (the embedded engine keeps
        // no state, so no epoch, for a channel with nothing in it).
        const first = (await e.broker.publish(c, '"first"')).seq;
        const before = await e.history.read(c, -1);
        assert.equal(before.last, first);
        const got: number[] = [];
        for (let i = 0; i < 6; i++) got.push((await e.broker.publish(c, JSON.stringify(i))).seq);
        assert.deepEqual(got, range(before.last + 1, before.last + 6));
        const after = await e.history.read(c, -1);
        assert.equal(after.last, before.last + 6);
        assert.equal(after.epoch, before.epoch);
      });
    });

    test('publish resolves with the stored message: data, from and time', async () => {
      await withEngine(make, async (e) => {
        const c = ch('demo', fresh());
        const from: ClientInfo = { conn: 'conn-1', user: 'alice', info: '{"name":"Alice"}' };
        const m1 = await e.broker.publish(c, '{"text":"hi"}', from);
        const m2 = await e.broker.publish(c, '[1,2,3]');
        assert.equal(m1.data, '{"text":"hi"}');
        assert.deepEqual(m1.from, from);
        assert.equal(m2.data, '[1,2,3]');
        assert.equal(m2.from, undefined);
        assert.ok(Number.isFinite(m1.time) && m1.time > 0);
        assert.ok(m2.time >= m1.time);
        const page = await e.history.read(c, m1.seq - 1);
        assert.equal(page.messages.length, 2);
        assert.deepEqual(page.messages[0], m1);
        assert.deepEqual(page.messages[1], m2);
      });
    });

    test('history read after N returns exactly the messages with seq > N, in order', async () => {
      await withEngine(make, async (e) => {
        const c = ch('demo', fresh());
        const published: Message[] = [];
        for (let i = 1; i <= 10; i++) published.push(await e.broker.publish(c, JSON.stringify({ i })));
        const first = (published[0] as Message).seq;
        const last = (published[9] as Message).seq;
        for (let n = first - 1; n <= last; n++) {
          const page = await e.history.read(c, n);
          assert.deepEqual(seqsOf(page.messages), range(n + 1, last), `after=${n}`);
          assert.deepEqual(
            page.messages.map((m) => m.data),
            published.filter((m) => m.seq > n).map((m) => m.data),
            `after=${n}`,
          );
          assert.equal(page.last, last, `after=${n}`);
          assert.equal(page.complete, true, `after=${n}`);
        }
        const beyond = await e.history.read(c, last + 100);
        assert.deepEqual(beyond.messages, []);
        assert.equal(beyond.last, last);
      });
    });

    test('history read after -1 returns only the last message', async () => {
      await withEngine(make, async (e) => {
        const c = ch('demo', fresh());
        await e.broker.publish(c, '"a"');
        await e.broker.publish(c, '"b"');
        const m3 = await e.broker.publish(c, '"c"');
        const page = await e.history.read(c, -1);
        assert.equal(page.messages.length, 1);
        assert.deepEqual(page.messages[0], m3);
        assert.equal(page.last, m3.seq);
      });
    });

    test('history trimmed by size: read(0) is incomplete and holds the newest `history` messages', async () => {
      await withEngine(make, async (e) => {
        const c = ch('demo', fresh('small:')); // small keeps 3
        const keep = c.opts.history;
        assert.equal(keep, 3);
        let last = 0;
        for (let i = 0; i < keep + 10; i++) last = (await e.broker.publish(c, String(i))).seq;
        const page = await e.history.read(c, last - (keep + 10));
        assert.deepEqual(seqsOf(page.messages), range(last - keep + 1, last));
        assert.equal(page.complete, false);
        // `complete` may be conservative only where the resume point itself was trimmed;
        // from a seq the history still holds it must be exact.
        const inside = await e.history.read(c, last - keep + 1);
        assert.deepEqual(seqsOf(inside.messages), range(last - keep + 2, last));
        assert.equal(inside.complete, true);
      });
    });

    test('channels are independent: seqs and history per channel', async () => {
      await withEngine(make, async (e) => {
        const a = ch('demo', fresh());
        const b = ch('demo', fresh());
        const a1 = await e.broker.publish(a, '"a1"');
        const b1 = await e.broker.publish(b, '"b1"');
        const a2 = await e.broker.publish(a, '"a2"');
        const b2 = await e.broker.publish(b, '"b2"');
        const b3 = await e.broker.publish(b, '"b3"');
        // Seqs only grow within a channel; they need not be contiguous (a cluster engine
        // numbers a whole namespace's stream).
        assert.ok(a2.seq > a1.seq);
        assert.ok(b3.seq > b2.seq && b2.seq > b1.seq);
        const pa = await e.history.read(a, a1.seq - 1);
        const pb = await e.history.read(b, b1.seq - 1);
        assert.deepEqual(pa.messages.map((m) => m.data), ['"a1"', '"a2"']);
        assert.deepEqual(pb.messages.map((m) => m.data), ['"b1"', '"b2"', '"b3"']);
        assert.equal(pa.last, a2.seq);
        assert.equal(pb.last, b3.seq);
      });
    });

    test('tenants are independent: the same channel name in two tenants does not mix', async () => {
      await withEngine(make, async (e, inbox) => {
        const name = fresh();
        const a = ch('demo', name);
        const b = ch('other', name);
        assert.notEqual(a.key, b.key);
        const a1 = await e.broker.publish(a, '"alpha-1"');
        const a2 = await e.broker.publish(a, '"alpha-2"');
        const b1 = await e.broker.publish(b, '"beta-1"');
        assert.ok(a2.seq > a1.seq);
        const pa = await e.history.read(a, 0);
        const pb = await e.history.read(b, 0);
        assert.deepEqual(pa.messages.map((m) => m.data), ['"alpha-1"', '"alpha-2"']);
        assert.deepEqual(pb.messages.map((m) => m.data), ['"beta-1"']);
        assert.equal(pb.last, b1.seq);

        // Interest in alpha's channel does not bring beta's same-named channel.
        await e.broker.subscribe(a);
        await e.broker.publish(b, '"beta-2"');
        const a3 = await e.broker.publish(a, '"alpha-3"');
        const got = await inbox.waitCount(a, 1);
        assert.deepEqual(got.map((m) => m.data), ['"alpha-3"']);
        assert.equal((got[0] as Message).seq, a3.seq);
        assert.deepEqual(inbox.for(b), []);
        for (const d of inbox.got) assert.equal(d.ch.tenant, 'demo');
      });
    });

    test('delivery: subscribed channel receives its messages in order', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh());
        await e.broker.subscribe(c);
        const published: Message[] = [];
        for (let i = 0; i < 20; i++) published.push(await e.broker.publish(c, JSON.stringify({ i })));
        const got = await inbox.waitCount(c, 20);
        assert.equal(got.length, 20);
        assert.deepEqual(seqsOf(got), seqsOf(published));
        assert.deepEqual(got.map((m) => m.data), published.map((m) => m.data));
        for (const d of inbox.got) {
          assert.equal(d.ch.key, c.key);
          assert.equal(d.ch.name, c.name);
          assert.equal(d.ch.tenant, 'demo');
        }
      });
    });

    test('delivery: concurrent publishes arrive in seq order', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh());
        await e.broker.subscribe(c);
        const published = await Promise.all(range(1, 15).map((i) => e.broker.publish(c, String(i))));
        const seqs = seqsOf(published).sort((x, y) => x - y);
        assert.equal(new Set(seqs).size, 15, 'distinct seqs');
        const got = await inbox.waitCount(c, 15);
        assert.deepEqual(seqsOf(got), seqs);
      });
    });

    test('delivery carries `from` as published', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh());
        await e.broker.subscribe(c);
        const from: ClientInfo = { conn: 'c-9', user: 'bob' };
        const m = await e.broker.publish(c, '"x"', from);
        const [got] = await inbox.waitCount(c, 1);
        assert.deepEqual(got, m);
        assert.deepEqual(got?.from, from);
      });
    });

    test('delivery: only channels with subscribe() interest are delivered', async () => {
      await withEngine(make, async (e, inbox) => {
        const quiet = ch('demo', fresh());
        const loud = ch('demo', fresh());
        await e.broker.subscribe(loud);
        await e.broker.publish(quiet, '"nobody listens"');
        await e.broker.publish(quiet, '"still nobody"');
        const m = await e.broker.publish(loud, '"sentinel"');
        const got = await inbox.waitCount(loud, 1);
        assert.deepEqual(seqsOf(got), [m.seq]);
        assert.deepEqual(inbox.for(quiet), []);
        assert.equal(inbox.got.length, 1);
      });
    });

    test('delivery: messages published before subscribe() are not delivered', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh());
        await e.broker.publish(c, '"early"');
        await e.broker.subscribe(c);
        const m = await e.broker.publish(c, '"late"');
        const got = await inbox.waitCount(c, 1);
        assert.deepEqual(got.map((x) => x.data), ['"late"']);
        assert.equal((got[0] as Message).seq, m.seq);
      });
    });

    test('delivery: nothing after unsubscribe()', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh());
        const sentinel = ch('demo', fresh());
        await e.broker.subscribe(c);
        await e.broker.subscribe(sentinel);
        const m1 = await e.broker.publish(c, '"before"');
        await inbox.waitCount(c, 1);
        await e.broker.unsubscribe(c);
        await e.broker.publish(c, '"after-1"');
        await e.broker.publish(c, '"after-2"');
        await e.broker.publish(sentinel, '"sentinel"');
        await inbox.waitCount(sentinel, 1);
        assert.deepEqual(inbox.for(c).map((m) => m.seq), [m1.seq]);
        // History is unaffected by interest.
        const page = await e.history.read(c, m1.seq - 1);
        assert.deepEqual(page.messages.map((m) => m.data), ['"before"', '"after-1"', '"after-2"']);
      });
    });

    test('subscribe and unsubscribe are idempotent; resubscribe delivers again', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh());
        const sentinel = ch('demo', fresh());
        await e.broker.subscribe(sentinel);
        await e.broker.subscribe(c);
        await e.broker.subscribe(c);
        const m1 = await e.broker.publish(c, '"once"');
        await e.broker.publish(sentinel, '"s1"');
        await inbox.waitCount(sentinel, 1);
        await inbox.waitCount(c, 1);
        assert.deepEqual(seqsOf(inbox.for(c)), [m1.seq], 'a double subscribe delivers once');

        await e.broker.unsubscribe(c);
        await e.broker.unsubscribe(c);
        await e.broker.publish(c, '"dropped"');
        await e.broker.publish(sentinel, '"s2"');
        await inbox.waitCount(sentinel, 2);
        assert.deepEqual(seqsOf(inbox.for(c)), [m1.seq]);

        await e.broker.subscribe(c);
        const m3 = await e.broker.publish(c, '"again"');
        const got = await inbox.waitCount(c, 2);
        assert.deepEqual(seqsOf(got), [m1.seq, m3.seq]);
      });
    });

    test('unsubscribe of a never-subscribed channel is harmless', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh());
        await e.broker.unsubscribe(c);
        await e.broker.subscribe(c);
        const m = await e.broker.publish(c, '"ok"');
        const got = await inbox.waitCount(c, 1);
        assert.deepEqual(seqsOf(got), [m.seq]);
      });
    });

    test('presence: join, list, replace, leave (idempotent)', async () => {
      await withEngine(make, async (e) => {
        const c = ch('demo', fresh('chat:'));
        const other = ch('demo', fresh('chat:'));
        assert.deepEqual(await e.presence.list(c), []);

        await e.presence.join(c, { conn: 'c1', user: 'alice', info: { name: 'Alice' } });
        await e.presence.join(c, { conn: 'c2', user: 'bob' });
        await e.presence.join(c, { conn: 'c3' });
        assert.deepEqual((await e.presence.list(c)).sort(byConn), [
          { conn: 'c1', user: 'alice', info: { name: 'Alice' } },
          { conn: 'c2', user: 'bob' },
          { conn: 'c3' },
        ]);
        assert.deepEqual(await e.presence.list(other), [], 'presence is per channel');

        // Joining again with the same conn replaces its entry.
        await e.presence.join(c, { conn: 'c2', user: 'bob', info: 'away' });
        const replaced = (await e.presence.list(c)).sort(byConn);
        assert.equal(replaced.length, 3);
        assert.deepEqual(replaced[1], { conn: 'c2', user: 'bob', info: 'away' });

        await e.presence.leave(c, 'c1');
        assert.deepEqual((await e.presence.list(c)).map((x) => x.conn).sort(), ['c2', 'c3']);
        await e.presence.leave(c, 'c1'); // idempotent
        await e.presence.leave(c, 'nobody');
        await e.presence.leave(other, 'c2');
        assert.deepEqual((await e.presence.list(c)).map((x) => x.conn).sort(), ['c2', 'c3']);

        await e.presence.leave(c, 'c2');
        await e.presence.leave(c, 'c3');
        assert.deepEqual(await e.presence.list(c), []);
        await e.presence.leave(c, 'c3');
        assert.deepEqual(await e.presence.list(c), []);

        // A channel can be rejoined after it emptied.
        await e.presence.join(c, { conn: 'c4' });
        assert.deepEqual(await e.presence.list(c), [{ conn: 'c4' }]);
      });
    });

    test('presence is per tenant', async () => {
      await withEngine(make, async (e) => {
        const name = fresh();
        const a = ch('demo', name);
        const b = ch('other', name);
        await e.presence.join(a, { conn: 'ca' });
        assert.deepEqual(await e.presence.list(b), []);
        await e.presence.join(b, { conn: 'cb' });
        assert.deepEqual(await e.presence.list(a), [{ conn: 'ca' }]);
        assert.deepEqual(await e.presence.list(b), [{ conn: 'cb' }]);
        await e.presence.leave(b, 'ca');
        assert.deepEqual(await e.presence.list(a), [{ conn: 'ca' }]);
      });
    });

    test('history 0 namespace: no history kept, seqs still assigned, messages still delivered', async () => {
      await withEngine(make, async (e, inbox) => {
        const c = ch('demo', fresh('live:'));
        assert.equal(c.namespace, 'live');
        assert.equal(c.opts.history, 0);
        await e.broker.subscribe(c);
        const published: Message[] = [];
        for (let i = 0; i < 4; i++) published.push(await e.broker.publish(c, JSON.stringify(i)));
        const first = (published[0] as Message).seq;
        const got = await inbox.waitCount(c, 4);
        assert.deepEqual(seqsOf(got), seqsOf(published));
        assert.deepEqual(got.map((m) => m.data), ['0', '1', '2', '3']);
        if (first === 0) {
          // A cluster engine relays history-less channels over core NATS: no store, no seq.
          assert.deepEqual(seqsOf(published), [0, 0, 0, 0]);
          assert.deepEqual((await e.history.read(c, 0)).messages, []);
          return;
        }
        assert.deepEqual(seqsOf(published), range(first, first + 3));

        const page = await e.history.read(c, first - 1);
        assert.deepEqual(page.messages, []);
        assert.equal(page.last, first + 3);
        const lastPage = await e.history.read(c, -1);
        assert.deepEqual(lastPage.messages, []);
        assert.equal(lastPage.last, first + 3);
        const upToDate = await e.history.read(c, first + 3);
        assert.deepEqual(upToDate.messages, []);
        assert.equal(upToDate.complete, true);
      });
    });
  });
}
