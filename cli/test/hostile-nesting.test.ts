import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pack } from 'msgpackr';
import { MAX_JSON_DEPTH, signClientToken } from '@switchyard/shared';
import { backend, connect, http, startDev, wsUrl, type Client } from './helpers.js';
import type { RunningServer } from '../src/server.js';

/** `{"a":{"a":…1…}}`, `levels` objects deep. */
const nested = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const token = signClientToken('demo-client-secret', { user: 'u' });

async function subscriber(t: TestContext, s: RunningServer, msgpack: boolean): Promise<Client> {
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'), msgpack ? 'switchyard.v1.msgpack' : undefined);
  await c.next();
  const send = (f: unknown): void => (msgpack ? c.ws.send(pack(f)) : c.send(f));
  send({ type: 'auth', id: 1, token });
  await c.next();
  send({ type: 'subscribe', id: 2, channel: 'chat:deep' });
  assert.equal((await c.next()).result?.channel, 'chat:deep');
  return c;
}

test('hostile nesting: payloads deeper than every face can encode are refused at every ingress with bad_request; subscribers of every face keep receiving', async (t) => {
  const s = await startDev(t);
  const json = await subscriber(t, s, false);
  const msgpack = await subscriber(t, s, true);
  const deep = nested(3_000); // passes JSON.parse; msgpack's encoder overflows on it

  // A native client's publish.
  const pub = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await pub.next();
  pub.send({ type: 'auth', id: 1, token });
  await pub.next();
  pub.send(`{"type":"publish","id":2,"channel":"chat:deep","data":${deep}}`);
  const refused = await pub.nextWhere((f) => f.id === 2);
  assert.equal(refused.error?.name, 'bad_request');
  assert.match(refused.error.message, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`));

  // REST, single and batch.
  const rest = await http(s, 'POST', '/v1/publish', `{"tenant":"demo","channel":"chat:deep","data":${nested(200)}}`, backend);
  assert.equal(rest.status, 400, rest.text);
  assert.equal(rest.body.code, 'bad_request');
  const batch = await http(s, 'POST', '/v1/publish', `{"tenant":"demo","messages":[{"channel":"chat:deep","data":1},{"channel":"chat:deep","data":${nested(200)}}]}`, backend);
  assert.equal(batch.status, 400, batch.text);

  // At the bound it goes through, to both encodings; nothing refused was stored.
  const ok = await http(s, 'POST', '/v1/publish', `{"tenant":"demo","channel":"chat:deep","data":${nested(MAX_JSON_DEPTH)}}`, backend);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.body.seq, 1, 'the refused publishes stored nothing');
  for (const c of [json, msgpack]) {
    const m = await c.nextWhere((f) => f.type === 'message');
    assert.equal(m.seq, 1);
  }
  const health = await http(s, 'GET', '/healthz');
  assert.equal(health.status, 200);
});
