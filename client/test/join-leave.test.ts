import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { TENANTS, eventually } from '@switchyard/testkit';
import { Client, type PresenceEntry } from '@switchyard/client';
import { mintToken, startDev, tenantsFile } from './helpers.js';

// Join and leave events on a subscription (docs/client.md#join-and-leave), against `switchyard dev`.

const TENANTS_JL = {
  ...TENANTS,
  tenants: { ...TENANTS.tenants, demo: { ...TENANTS.tenants.demo, namespaces: { ...TENANTS.tenants.demo.namespaces, room: { history: 0, presence: true, joinLeave: true } } } },
};

test('join/leave: a subscription emits join and leave of the other connections, with conn and user', { timeout: 30_000 }, async (t) => {
  const dev = await startDev(t, tenantsFile(t, TENANTS_JL));
  const client = (user: string): Client => {
    const c = new Client(dev.ws(), { WebSocket, getToken: () => mintToken(dev.url, { user, info: { name: user.toUpperCase() } }) });
    t.after(() => c.close());
    return c;
  };
  const alice = client('alice');
  const seen: string[] = [];
  const members: PresenceEntry[] = [];
  const sub = alice.subscribe('room:1');
  sub.on('join', (m) => {
    seen.push(`join ${m.user}`);
    members.push(m);
  });
  sub.on('leave', (m) => seen.push(`leave ${m.user} ${m.conn === members[0]?.conn ? 'same conn' : 'other conn'}`));
  let subscribed = false;
  sub.on('subscribed', () => (subscribed = true));
  alice.connect();
  await eventually(() => subscribed, 'alice subscribed');

  const bob = client('bob');
  bob.subscribe('room:1');
  bob.connect();
  await eventually(() => seen.length === 1, 'bob joins');
  assert.deepEqual(members[0]?.info, { name: 'BOB' });
  assert.equal(typeof members[0]?.conn, 'string');
  bob.close();
  await eventually(() => seen.length === 2, 'bob leaves');
  assert.deepEqual(seen, ['join bob', 'leave bob same conn']);
});
