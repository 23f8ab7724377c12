import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Msg } from '@nats-io/transport-node';
import { startNatsServer, withDeadline, type NatsServer } from '@switchyard/testkit';
import { guardedCallback } from '../src/engine/nats/errors.js';
import { createLogger } from '../src/log.js';

let nats: NatsServer;
before(async () => {
  nats = await startNatsServer();
});
after(() => nats.stop());

test('guardedCallback: a subscription callback that throws is logged, and the client keeps delivering at once', async () => {
  const nc = await connect({ servers: nats.url });
  try {
    const statuses: string[] = [];
    void (async () => {
      for await (const s of nc.status()) statuses.push(s.type);
    })();
    const got: string[] = [];
    let delivered: () => void = () => {};
    const done = new Promise<void>((r) => (delivered = r));
    nc.subscribe('t.guarded', {
      callback: guardedCallback<Msg>(createLogger('silent'), 'test message', (m) => {
        const text = m.string();
        if (text === 'boom') throw new RangeError('Maximum call stack size exceeded');
        got.push(text);
        if (got.length === 3) delivered();
      }),
    });
    for (const text of ['a', 'boom', 'b', 'boom', 'c']) nc.publish('t.guarded', text);
    await withDeadline(done, 2000, 'the messages after a throw');
    assert.deepEqual(got, ['a', 'b', 'c']);
    assert.ok(!statuses.includes('disconnect'), `no disconnect: ${statuses.join(',')}`);
  } finally {
    await nc.close();
  }
});
