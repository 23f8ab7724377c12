import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signClientToken, verifyClientToken } from '@switchyard/shared';
import { backend, connect, http, publish, startDev, wsUrl } from './helpers.js';

test('control API: publish to one channel answers its seq; to several at once, each seq', async (t) => {
  const s = await startDev(t);
  const one = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: 'chat:a', data: { x: 1 } }, backend);
  assert.equal(one.status, 200);
  assert.equal(one.body.channel, 'chat:a');
  assert.equal(one.body.seq, 1);
  const many = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channels: ['chat:a', 'chat:b'], data: 'hello' }, backend);
  assert.equal(many.status, 200);
  assert.deepEqual(many.body.results.map((r: any) => [r.channel, r.seq]), [['chat:a', 2], ['chat:b', 1]]);
});

test('control API: a batch of messages is published in the order given; a bad one refuses the whole batch', async (t) => {
  const s = await startDev(t);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  c.send({ type: 'auth', id: 1, token: signClientToken('demo-client-secret', { user: 'u' }) });
  c.send({ type: 'subscribe', id: 2, channel: 'chat:a' });
  assert.ok((await c.nextWhere((f) => f.type === 'reply' && f.id === 2)).result);
  const messages = [
    { channel: 'chat:a', data: { i: 1 } },
    { channel: 'chat:b', data: { i: 2 } },
    { channel: 'chat:a', data: { i: 3 } },
  ];
  const r = await http(s, 'POST', '/v1/publish', { tenant: 'demo', messages }, backend);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.results.map((x: any) => [x.channel, x.seq]), [['chat:a', 1], ['chat:b', 1], ['chat:a', 2]]);
  assert.deepEqual((await c.take(2, (f) => f.type === 'message')).map((m) => [m.seq, m.data.i]), [[1, 1], [2, 3]]);
  // Every message is checked first: nothing of a batch with a bad one is published.
  for (const bad of [
    [{ channel: 'chat:a', data: 4 }, { channel: '', data: 5 }],
    [{ channel: 'chat:a', data: 4 }, { channel: 'chat:a' }],
    [{ channel: 'chat:a', data: 4 }, { channel: 'chat:a', data: 'x'.repeat(70_000) }],
    [{ channel: 'chat:a', data: 4 }, 'chat:a'],
  ]) {
    const refused = await http(s, 'POST', '/v1/publish', { tenant: 'demo', messages: bad }, backend);
    assert.ok(refused.status === 400 || refused.status === 413, refused.text);
  }
  const h = await http(s, 'GET', '/v1/history?tenant=demo&channel=chat:a', undefined, backend);
  assert.equal(h.body.last, 2);
  const both = await http(s, 'POST', '/v1/publish', { tenant: 'demo', channel: 'chat:a', messages }, backend);
  assert.deepEqual([both.status, both.body.message], [400, 'give one of channel, channels and messages']);
  const many = await http(s, 'POST', '/v1/publish', { tenant: 'demo', messages: Array.from({ length: 101 }, () => messages[0]) }, backend);
  assert.deepEqual([many.status, many.body.code], [400, 'bad_request']);
});

test('control API: history after a seq, with limit, last and complete', async (t) => {
  const s = await startDev(t);
  for (let i = 1; i <= 5; i++) await publish(s, 'chat:h', { i });
  const r = await http(s, 'GET', '/v1/history?tenant=demo&channel=chat:h&after=2&limit=2', undefined, backend);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.messages.map((m: any) => [m.seq, m.data.i]), [[3, 3], [4, 4]]);
  assert.equal(r.body.last, 5);
  assert.equal(r.body.complete, true);
  assert.equal(r.body.more, true);
  const lastOnly = await http(s, 'GET', '/v1/history?tenant=demo&channel=chat:h&after=-1', undefined, backend);
  assert.deepEqual(lastOnly.body.messages.map((m: any) => m.seq), [5]);
  const bad = await http(s, 'GET', '/v1/history?tenant=demo&channel=chat:h&after=x', undefined, backend);
  assert.deepEqual([bad.status, bad.body.code], [400, 'bad_request']);
});

test('control API: tokens minted for a tenant authenticate native clients', async (t) => {
  const s = await startDev(t);
  const r = await http(s, 'POST', '/v1/tokens', { tenant: 'demo', user: 'carol', ttl: 60, info: { n: 1 }, channels: ['chat:*'] }, backend);
  assert.equal(r.status, 200);
  assert.equal(r.body.expires, 60);
  const claims = verifyClientToken('demo-client-secret', r.body.token);
  assert.equal(claims.user, 'carol');
  assert.deepEqual(claims.channels, ['chat:*']);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  c.send({ type: 'auth', id: 1, token: r.body.token });
  assert.equal((await c.next()).result.user, 'carol');
});

test('control API: errors are JSON {code, message} with the right status', async (t) => {
  const s = await startDev(t);
  const cases: [string, string, unknown, Record<string, string>, number, string][] = [
    ['POST', '/v1/publish', { tenant: 'demo', channel: 'a', data: 1 }, {}, 401, 'unauthorized'],
    ['POST', '/v1/publish', { tenant: 'demo', channel: 'a', data: 1 }, { authorization: 'Bearer other-backend-secret' }, 401, 'unauthorized'],
    ['POST', '/v1/publish', { tenant: 'nope', channel: 'a', data: 1 }, backend, 404, 'unknown_tenant'],
    ['POST', '/v1/publish', '{bad json', backend, 400, 'bad_request'],
    ['POST', '/v1/publish', { tenant: 'demo', channel: '', data: 1 }, backend, 400, 'invalid_channel'],
    ['POST', '/v1/publish', { tenant: 'demo', channel: 'a' }, backend, 400, 'bad_request'],
    ['POST', '/v1/publish', { tenant: 'demo', channels: [], data: 1 }, backend, 400, 'bad_request'],
    ['POST', '/v1/publish', { tenant: 'demo', channel: 'a', data: 'x'.repeat(70_000) }, backend, 413, 'payload_too_large'],
    ['GET', '/v1/presence?tenant=demo&channel=news', undefined, backend, 400, 'bad_request'],
    ['GET', '/v1/history?tenant=demo', undefined, backend, 400, 'invalid_channel'],
    ['POST', '/v1/tokens', { tenant: 'demo', ttl: -1 }, backend, 400, 'bad_request'],
    ['GET', '/v1/nothing-here', undefined, {}, 404, 'not_found'],
  ];
  for (const [method, path, body, headers, status, code] of cases) {
    const r = await http(s, method, path, body, headers);
    assert.equal(r.status, status, `${method} ${path} ${r.text}`);
    assert.equal(r.body.code, code, `${method} ${path}`);
    assert.equal(typeof r.body.message, 'string');
  }
});

test('ops: /healthz, /readyz and /metrics', async (t) => {
  const s = await startDev(t);
  assert.deepEqual((await http(s, 'GET', '/healthz')).body, { status: 'ok' });
  assert.equal((await http(s, 'GET', '/readyz')).status, 200);
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  await publish(s, 'chat:m', { hello: 'world' });
  const m = await http(s, 'GET', '/metrics');
  assert.equal(m.status, 200);
  for (const name of [
    'switchyard_connections{dialect="site",role="dev"} 1',
    'switchyard_connections{dialect="otter",role="dev"} 0',
    'switchyard_subscriptions{role="dev"} 0',
    'switchyard_messages_in_total{source="backend",role="dev"} 1',
    'switchyard_messages_in_total{source="client",role="dev"} 0',
    'switchyard_bytes_in_total{role="dev"} 17',
    'switchyard_messages_out_total{role="dev"} 0',
    'switchyard_slow_consumer_closes_total{role="dev"} 0',
    'switchyard_publish_duration_seconds_count{role="dev"} 1',
    'switchyard_process_cpu_seconds_total',
  ]) {
    assert.ok(m.text.includes(name), `metrics lack ${name}`);
  }
  c.close();
  await s.close();
  // A closed server is not ready; a new request cannot even connect.
  await assert.rejects(http(s, 'GET', '/readyz'));
});
