import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { signClientToken } from '@switchyard/shared';
import { eventually, testTenants } from '@switchyard/testkit';
import type { RunningServer } from '../src/server.js';
import { Client, startDev, wsUrl } from './helpers.js';
import { FaultCluster } from './faults/cluster.js';
import { SseReader } from './sse-client.js';

const SECRET = 'demo-client-secret';
const BACKEND = { authorization: 'Bearer demo-backend-secret', 'content-type': 'application/json' };
const token = (o: { user?: string; channels?: string[]; ttl?: number } = {}): string =>
  signClientToken(SECRET, { user: o.user ?? 'alice', exp: Math.floor(Date.now() / 1000) + (o.ttl ?? 3600), ...(o.channels ? { channels: o.channels } : {}) });

const sseUrl = (base: string, channels: string[], extra = ''): string =>
  `${base}/v1/sse?tenant=demo${channels.map((c) => `&channel=${encodeURIComponent(c)}`).join('')}${extra}`;

async function publish(base: string, channel: string, data: unknown): Promise<number> {
  const res = await fetch(`${base}/v1/publish`, { method: 'POST', headers: BACKEND, body: JSON.stringify({ tenant: 'demo', channel, data }) });
  assert.equal(res.status, 200, `publish to ${channel}`);
  return ((await res.json()) as { seq: number }).seq;
}

/** Opens a stream and waits for its `subscribed` event. */
async function subscribed(r: SseReader): Promise<{ conn: string; channels: { channel: string; last: number; recovered: boolean; epoch: string }[] }> {
  assert.equal(await r.opened(), 200, r.body);
  return r.until(() => r.named<{ conn: string; channels: { channel: string; last: number; recovered: boolean; epoch: string }[] }>('subscribed')[0], 'the subscribed event');
}

async function metric(s: RunningServer, line: RegExp): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = line.exec(text);
  return m === null ? NaN : Number(m[1]);
}

test('sse: one stream carries several channels, in order, with event ids holding every channel\'s position', async (t) => {
  const s = await startDev(t);
  await publish(s.url, 'chat:a', { before: true });
  const r = new SseReader(sseUrl(s.url, ['chat:a', 'live:b']), { authorization: `Bearer ${token()}` });
  t.after(() => r.close());
  const sub = await subscribed(r);
  assert.match(String(r.headers['content-type']), /^text\/event-stream/);
  assert.equal(r.headers['cache-control'], 'no-cache, no-transform');
  assert.deepEqual(sub.channels.map((c) => [c.channel, c.last, c.recovered]), [['chat:a', 1, true], ['live:b', 0, true]]);
  assert.equal(sub.channels[1]!.epoch, '', 'a channel without history has no epoch');
  const first = r.events[0]!.lastEventId;
  assert.match(first, /^1\.[0-9a-f]{12}_0$/, 'live only: the stream starts at each channel\'s last seq');

  assert.equal(await publish(s.url, 'chat:a', { n: 1 }), 2);
  await publish(s.url, 'live:b', { n: 2 });
  assert.equal(await publish(s.url, 'chat:a', { n: 3 }), 3);
  // A client's publish keeps its own text, line breaks included: they travel as several data lines.
  const c = new Client(wsUrl(s, '/v1/ws?tenant=demo'));
  t.after(() => c.ws.close());
  await c.next();
  c.send({ type: 'auth', id: 1, token: token() });
  await c.next();
  c.ws.send('{"type":"publish","id":2,"channel":"chat:a","data":{"multi":\n\r\n  "line"}}');
  await c.next();

  const msgs = await r.until(() => (r.messages().length === 4 ? r.messages() : undefined), 'four messages');
  assert.deepEqual(msgs.map((m) => [m.channel, m.seq, m.data]), [
    ['chat:a', 2, { n: 1 }],
    ['live:b', 0, { n: 2 }],
    ['chat:a', 3, { n: 3 }],
    ['chat:a', 4, { multi: 'line' }],
  ]);
  const ids = r.events.filter((e) => e.event === 'message').map((e) => e.lastEventId.replace(/\.[0-9a-f]{12}/, '.T'));
  assert.deepEqual(ids, ['2.T_0', '2.T_0', '3.T_0', '4.T_0']);
  assert.equal(await metric(s, /^switchyard_connections\{dialect="sse",role="dev"\} (\d+)/m), 1);
  r.close();
  // Resumed: the channel with history is recovered; the one without cannot be.
  const again = new SseReader(sseUrl(s.url, ['chat:a', 'live:b']), { authorization: `Bearer ${token()}`, 'last-event-id': r.lastEventId });
  t.after(() => again.close());
  assert.deepEqual((await subscribed(again)).channels.map((c) => c.recovered), [true, false]);
  again.close();
  await eventually(async () => (await metric(s, /^switchyard_connections\{dialect="sse",role="dev"\} (\d+)/m)) === 0, 'the closed stream is no longer counted');
});

test('sse: refusals are HTTP errors with the control API\'s body, before any stream begins', async (t) => {
  const s = await startDev(t, { limits: { maxPayload: 64 * 1024, maxBufferedBytes: 1024 * 1024, maxSubscriptions: 2, idleTimeoutSeconds: 120 } });
  const cases: [string, Record<string, string>, number, string, RegExp][] = [
    [`${s.url}/v1/sse?channel=chat:a`, {}, 400, 'bad_request', /tenant is required/],
    [`${s.url}/v1/sse?tenant=nope&channel=chat:a`, {}, 404, 'unknown_tenant', /nope/],
    [`${s.url}/v1/sse?tenant=demo`, { authorization: `Bearer ${token()}` }, 400, 'bad_request', /channel is required/],
    [sseUrl(s.url, ['chat:a']), {}, 401, 'unauthorized', /token is required/],
    [sseUrl(s.url, ['chat:a'], '&token=nonsense'), {}, 401, 'token_invalid', /invalid token/],
    [sseUrl(s.url, ['chat:a'], `&token=${token({ ttl: -10 })}`), {}, 401, 'token_expired', /expired/],
    [sseUrl(s.url, ['chat:a', 'news']), { authorization: `Bearer ${token({ channels: ['chat:*'] })}` }, 403, 'permission_denied', /news/],
    [sseUrl(s.url, ['chat:a', 'chat:b', 'chat:c']), { authorization: `Bearer ${token()}` }, 429, 'limit_exceeded', /at most 2 channels/],
    [sseUrl(s.url, ['chat:a', 'chat:a']), { authorization: `Bearer ${token()}` }, 400, 'bad_request', /named twice/],
    [sseUrl(s.url, ['\u0001']), { authorization: `Bearer ${token()}` }, 400, 'invalid_channel', /./],
  ];
  for (const [url, headers, status, code, message] of cases) {
    const r = new SseReader(url, headers);
    assert.equal(await r.opened(), status, url);
    await r.ended;
    const body = JSON.parse(r.body) as { code: string; message: string };
    assert.equal(body.code, code, url);
    assert.match(body.message, message, url);
  }
  // An anonymous tenant needs no token.
  const anon = new SseReader(`${s.url}/v1/sse?tenant=other&channel=news`);
  t.after(() => anon.close());
  assert.equal((await subscribed(anon)).channels[0]!.channel, 'news');
});

test('sse: Last-Event-ID resumes every channel with no loss or duplicate while publishes go on', async (t) => {
  const s = await startDev(t);
  const channels = ['chat:r1', 'logs:r2'];
  const acked: Record<string, number[]> = { 'chat:r1': [], 'logs:r2': [] };
  let publishing = true;
  const publisher = (async () => {
    for (let i = 0; publishing; i++) {
      const ch = channels[i % 2]!;
      acked[ch]!.push(await publish(s.url, ch, { i }));
    }
  })();
  const got: Record<string, number[]> = { 'chat:r1': [], 'logs:r2': [] };
  let lastId = '';
  let streams = 0;
  const recovered: boolean[] = [];
  const deadline = Date.now() + 2500;
  while (Date.now() < deadline) {
    // The header on most reconnects (as a browser sends it), the query parameter on some (a new EventSource).
    const viaQuery = streams % 3 === 2 && lastId !== '';
    const r = new SseReader(sseUrl(s.url, channels, viaQuery ? `&lastEventId=${encodeURIComponent(lastId)}` : ''), {
      authorization: `Bearer ${token()}`,
      ...(lastId !== '' && !viaQuery ? { 'last-event-id': lastId } : {}),
    });
    streams++;
    const sub = await subscribed(r);
    recovered.push(...sub.channels.map((c) => c.recovered));
    const before = r.events.length;
    await r.until(() => r.events.length >= before + 15 || undefined, 'fifteen more events');
    r.close();
    for (const e of r.events) {
      if (e.event !== 'message') continue;
      const m = JSON.parse(e.data) as { channel: string; seq: number };
      got[m.channel]!.push(m.seq);
    }
    lastId = r.lastEventId;
  }
  publishing = false;
  await publisher;
  // The last stream's events up to the end: read what is left from where it stopped.
  const tail = new SseReader(sseUrl(s.url, channels), { authorization: `Bearer ${token()}`, 'last-event-id': lastId });
  t.after(() => tail.close());
  await subscribed(tail);
  const total = acked['chat:r1']!.length + acked['logs:r2']!.length;
  await tail.until(() => got['chat:r1']!.length + got['logs:r2']!.length + tail.messages().length >= total || undefined, 'every acknowledged message');
  for (const m of tail.messages()) got[m.channel]!.push(m.seq);
  assert.ok(streams >= 5, `reconnected ${streams} times`);
  assert.ok(recovered.every((r) => r), 'every resume recovered');
  for (const ch of channels) assert.deepEqual(got[ch], acked[ch], `${ch}: every acknowledged message once, in order`);

  // An id this server did not make resumes nothing, and says so.
  const bad = new SseReader(sseUrl(s.url, channels), { authorization: `Bearer ${token()}`, 'last-event-id': 'garbage' });
  t.after(() => bad.close());
  assert.deepEqual((await subscribed(bad)).channels.map((c) => c.recovered), [false, false]);
});

test('sse: a slow reader is closed (4100) after a gap-free prefix while a fast one gets everything', async (t) => {
  const s = await startDev(t, { limits: { maxPayload: 64 * 1024, maxBufferedBytes: 64 * 1024, maxSubscriptions: 100, idleTimeoutSeconds: 120 } });
  const fast = new SseReader(sseUrl(s.url, ['logs:slow']), { authorization: `Bearer ${token()}` });
  t.after(() => fast.close());
  await subscribed(fast);
  // A reader that stops reading after the request: the kernel's buffers fill, then the server's.
  const slow = net.connect(new URL(s.url).port as unknown as number, '127.0.0.1');
  t.after(() => slow.destroy());
  const received: Buffer[] = [];
  slow.on('data', (d: Buffer) => received.push(d));
  await new Promise<void>((r) => slow.once('connect', () => r()));
  slow.write(`GET /v1/sse?tenant=demo&channel=logs:slow&token=${token()} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await eventually(() => Buffer.concat(received).includes('event: subscribed'), 'the slow reader subscribed');
  slow.pause();
  const big = 'x'.repeat(8000);
  const N = 600;
  for (let i = 0; i < N; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, k) => publish(s.url, 'logs:slow', { i: i + k, big })));
  }
  await eventually(async () => (await metric(s, /^switchyard_closes_total\{code="4100",role="dev"\} (\d+)/m)) === 1, 'the slow reader closed with 4100', { timeoutMs: 10_000 });
  assert.equal(await metric(s, /^switchyard_slow_consumer_closes_total\{role="dev"\} (\d+)/m), 1);
  await fast.until(() => fast.messages().length === N || undefined, 'the fast reader got every message', 10_000);
  assert.deepEqual(fast.messages().map((m) => (m.data as { i: number }).i), Array.from({ length: N }, (_, i) => i));
  // Now read what the slow one was sent: a prefix of the channel with no gap, then the close event.
  slow.resume();
  await eventually(() => Buffer.concat(received).includes('event: close'), 'the close event reached the slow reader', { timeoutMs: 10_000 });
  const text = Buffer.concat(received).toString();
  const seen = [...text.matchAll(/"i":(\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(seen, Array.from({ length: seen.length }, (_, i) => i), 'gap-free prefix');
  assert.ok(seen.length < N, `the slow reader got ${seen.length} of ${N}`);
  t.diagnostic(`the slow reader got ${seen.length} of ${N} messages before its 4100`);
  assert.match(text, /event: close\ndata: \{"code":4100,"reason":"slow consumer: send buffer limit exceeded"\}/);
});

test('sse: an expired token ends the stream (4101); a backend can push to and close a stream', async (t) => {
  const s = await startDev(t);
  const short = token({ ttl: 1 });
  const r = new SseReader(sseUrl(s.url, ['chat:x'], `&token=${short}`));
  t.after(() => r.close());
  const sub = await subscribed(r);
  await r.ended;
  assert.deepEqual(r.named('close'), [{ code: 4101, reason: 'token expired' }]);
  const again = new SseReader(sseUrl(s.url, ['chat:x'], `&token=${short}`));
  assert.equal(await again.opened(), 401, 'the browser\'s reconnect with the same URL is refused: EventSource stops');
  assert.ok(sub.conn.length > 0);

  const r2 = new SseReader(sseUrl(s.url, ['chat:x']), { authorization: `Bearer ${token()}` });
  t.after(() => r2.close());
  const { conn } = await subscribed(r2);
  const put = await fetch(`${s.url}/v1/connections/${encodeURIComponent(conn)}`, { method: 'PUT', headers: { ...BACKEND, 'content-type': 'text/plain' }, body: 'line one\nline two' });
  assert.equal(put.status, 200);
  await r2.until(() => r2.events.find((e) => e.event === 'push'), 'the push event');
  assert.equal(r2.events.find((e) => e.event === 'push')!.data, 'line one\nline two');
  const info = (await (await fetch(`${s.url}/v1/connections/${encodeURIComponent(conn)}`, { headers: BACKEND })).json()) as { dialect: string; subscriptions: number };
  assert.deepEqual([info.dialect, info.subscriptions], ['sse', 1]);
  assert.equal((await fetch(`${s.url}/v1/connections/${encodeURIComponent(conn)}`, { method: 'DELETE', headers: BACKEND })).status, 200);
  await r2.ended;
  assert.deepEqual(r2.named('close'), [{ code: 1000, reason: 'closed by backend' }]);
});

test('sse: CORS for pages on other origins, and --allowed-origins', async (t) => {
  const APP = 'https://app.example';
  const s = await startDev(t, { corsOrigins: [APP], limits: { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 100, idleTimeoutSeconds: 120, allowedOrigins: [APP] } });
  const ok = new SseReader(sseUrl(s.url, ['chat:c'], `&token=${token()}`), { origin: APP });
  t.after(() => ok.close());
  await subscribed(ok);
  assert.equal(ok.headers['access-control-allow-origin'], APP);
  assert.equal(ok.headers.vary, 'Origin');
  const refused = new SseReader(sseUrl(s.url, ['chat:c']), { origin: APP });
  assert.equal(await refused.opened(), 401);
  assert.equal(refused.headers['access-control-allow-origin'], APP, 'a page can read why it was refused');
  const pre = await fetch(sseUrl(s.url, ['chat:c']), { method: 'OPTIONS', headers: { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization, last-event-id' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-headers'), 'authorization, last-event-id');
  const other = new SseReader(sseUrl(s.url, ['chat:c'], `&token=${token()}`), { origin: 'https://evil.example' });
  assert.equal(await other.opened(), 403);
  assert.match(JSON.parse((await other.ended, other.body)).message, /may not open connections here/);
});

test('sse: a drain ends streams with 1012 and a short random retry', async (t) => {
  const s = await startDev(t);
  const r = new SseReader(sseUrl(s.url, ['chat:d']), { authorization: `Bearer ${token()}` });
  t.after(() => r.close());
  await subscribed(r);
  const raw: string[] = [];
  void s.close({ delayMs: 0, spreadMs: 200 });
  await r.ended;
  raw.push(...r.named('close').map((c) => JSON.stringify(c)));
  assert.deepEqual(raw, [JSON.stringify({ code: 1012, reason: 'server restarting: reconnect and resume' })]);
});

test('sse cluster: a stream resumes on another gateway with Last-Event-ID, recovered, with nothing lost', async (t) => {
  const c = await FaultCluster.start(t);
  const [gw0, gw1] = c.gateways as [NonNullable<(typeof c.gateways)[0]>, NonNullable<(typeof c.gateways)[1]>];
  const channels = ['chat:k1', 'logs:k2'];
  const acked: Record<string, number[]> = { 'chat:k1': [], 'logs:k2': [] };
  const first = new SseReader(sseUrl(gw0.url, channels), { authorization: `Bearer ${token()}` });
  t.after(() => first.close());
  await subscribed(first);
  let publishing = true;
  const publisher = (async () => {
    for (let i = 0; publishing; i++) {
      const ch = channels[i % 2]!;
      acked[ch]!.push(await publish(c.control.url, ch, { i }));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  await first.until(() => first.messages().length >= 20 || undefined, 'twenty messages on the first gateway', 10_000);
  first.close();
  const second = new SseReader(sseUrl(gw1.url, channels), { authorization: `Bearer ${token()}`, 'last-event-id': first.lastEventId });
  t.after(() => second.close());
  const sub = await subscribed(second);
  assert.deepEqual(sub.channels.map((x) => x.recovered), [true, true], 'the other gateway resumes the same streams');
  await second.until(() => second.messages().length >= 20 || undefined, 'twenty messages on the second gateway', 10_000);
  publishing = false;
  await publisher;
  const total = acked['chat:k1']!.length + acked['logs:k2']!.length;
  const firstMsgs = first.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as { channel: string; seq: number });
  await second.until(() => firstMsgs.length + second.messages().length >= total || undefined, 'every acknowledged message', 10_000).catch((err: unknown) => {
    for (const ch of channels) {
      const got = [...firstMsgs, ...second.messages()].filter((m) => m.channel === ch).map((m) => m.seq);
      t.diagnostic(`${ch}: acked ${acked[ch]!.length} [${acked[ch]!.slice(0, 5)}…${acked[ch]!.slice(-5)}], got ${got.length} [${got.slice(0, 5)}…${got.slice(-5)}] first=${firstMsgs.filter((m) => m.channel === ch).length}`);
    }
    t.diagnostic(JSON.stringify(second.named('subscribed')));
    throw err;
  });
  for (const ch of channels) {
    const got = [...firstMsgs, ...second.messages()].filter((m) => m.channel === ch).map((m) => m.seq);
    assert.deepEqual(got, acked[ch], `${ch}: once each, in order, across the two gateways`);
  }
  assert.deepEqual(c.errorLogs(), []);
});
