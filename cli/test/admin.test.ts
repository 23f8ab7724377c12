import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { signClientToken } from '@switchyard/shared';
import { eventually, seededRandom } from '@switchyard/testkit';
import { ADMIN_CSP } from '@switchyard/control-api';
import { MIN_RATE_WINDOW_MS } from '@switchyard/gateway/core/hub';
import type { RunningServer } from '../src/server.js';
import { backend, connect, http, startDev, wsUrl, type Client } from './helpers.js';

// Issue 14, part 3: the admin page's API and the hub's busiest-channel selection, on one
// in-process dev server. The cluster (admin-cluster.test.ts) and a real browser
// (admin-browser.test.ts) are tested against separate processes.

const admin = { authorization: 'Bearer test-admin-token' };

/** A native client of tenant demo, authenticated as `user`, with its connection id. */
async function nativeClient(t: TestContext, s: RunningServer, user: string): Promise<{ c: Client; conn: string }> {
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  const hello = await c.next();
  c.send({ type: 'auth', id: 1, token: signClientToken('demo-client-secret', { user, info: { name: user } }) });
  assert.ok((await c.nextWhere((f) => f.id === 1)).result);
  return { c, conn: hello.conn as string };
}

/** Subscribes `c` to every channel, all requests sent at once. */
async function subscribeAll(c: Client, channels: readonly string[], firstId: number): Promise<void> {
  channels.forEach((channel, i) => c.send({ type: 'subscribe', id: firstId + i, channel }));
  for (let i = 0; i < channels.length; i++) assert.ok((await c.nextWhere((f) => f.type === 'reply' && f.id === firstId + i)).result, channels[i]);
}

/** Publishes `counts[i]` messages to `names[i]`, in batches of 100 (the REST limit). */
async function publishCounts(s: RunningServer, names: readonly string[], counts: readonly number[]): Promise<void> {
  const messages = names.flatMap((channel, i) => Array.from({ length: counts[i] as number }, (_, k) => ({ channel, data: k })));
  for (let i = 0; i < messages.length; i += 100) {
    const r = await http(s, 'POST', '/v1/publish', { tenant: 'demo', messages: messages.slice(i, i + 100) }, backend);
    assert.equal(r.status, 200, r.text);
  }
}

test('admin: the hub picks the busiest channels by messages in the window, then subscribers, as a full sort would', async (t) => {
  const s = await startDev(t);
  const hub = s.gateway!.hub;
  const rnd = seededRandom(14);
  const names = Array.from({ length: 60 }, (_, i) => `chat:c${i}`);
  // Few distinct counts, so that many channels tie on messages and subscribers decide.
  const counts = names.map(() => Math.floor(rnd() * 6));
  const a = await nativeClient(t, s, 'a');
  const b = await nativeClient(t, s, 'b');
  await subscribeAll(a.c, names, 10);
  const twice = names.filter(() => rnd() < 0.3);
  await subscribeAll(b.c, twice, 100);
  // Windows are started with explicit times far ahead, so the dev server's own sampler
  // (which asks the hub every 2 s, with the real clock) cannot end one during the test.
  const t0 = Date.now() + 60_000;
  hub.busiest(0, undefined, t0);
  await publishCounts(s, names, counts);
  // Counted once per message, not per subscriber: twice-subscribed channels count the same.
  await a.c.take(counts.reduce((x, y) => x + y, 0), (f) => f.type === 'message');

  const subs = (name: string): number => (twice.includes(name) ? 2 : 1);
  const expected = names
    .map((name, i) => ({ channel: name, messages: counts[i] as number, subscribers: subs(name) }))
    .sort((x, y) => y.messages - x.messages || y.subscribers - x.subscribers);
  const key = (c: { messages: number; subscribers: number }): string => `${c.messages}/${c.subscribers}`;

  const now = t0 + 1;
  const top = hub.busiest(10, 'demo', now);
  assert.equal(top.windowMs, 1);
  assert.equal(top.channels.length, 10);
  // Ties may come in any order among themselves: compare the ranking keys, then the members of each.
  assert.deepEqual(top.channels.map(key), expected.slice(0, 10).map(key));
  for (const c of top.channels) assert.equal(c.messages, counts[names.indexOf(c.channel)], c.channel);
  assert.ok(top.channels.every((c) => c.tenant === 'demo' && c.subscribers === subs(c.channel)));
  assert.deepEqual(hub.busiest(10, 'other', now).channels, [], "another tenant's filter finds none of demo's channels");
  assert.equal(hub.busiest(100, undefined, now).channels.length, 60);

  // At least MIN_RATE_WINDOW_MS later the window ends: the counts returned are still this
  // window's, and the next call starts from zero, ranking by subscribers alone.
  const later = t0 + MIN_RATE_WINDOW_MS;
  assert.deepEqual(hub.busiest(10, 'demo', later).channels.map(key), expected.slice(0, 10).map(key));
  const fresh = hub.busiest(10, 'demo', later + 5);
  assert.equal(fresh.windowMs, 5);
  assert.ok(fresh.channels.every((c) => c.messages === 0));
  assert.deepEqual(fresh.channels.map((c) => c.subscribers), expected.map((c) => c.subscribers).sort((x, y) => y - x).slice(0, 10));
  // The next messages count in the new window only.
  await publishCounts(s, ['chat:c7'], [3]);
  await a.c.take(3, (f) => f.type === 'message' && f.channel === 'chat:c7');
  const next = hub.busiest(1, 'demo', later + 10);
  assert.deepEqual(next.channels.map((c) => [c.channel, c.messages]), [['chat:c7', 3]]);
});

test('admin: the page is served with a strict CSP and no inline script; its files are revalidated', async (t) => {
  const s = await startDev(t);
  // /admin sends the browser to /admin/ with a relative Location: a proxy's path prefix is kept.
  const moved = await fetch(`${s.url}/admin`, { redirect: 'manual' });
  assert.deepEqual([moved.status, moved.headers.get('location')], [302, 'admin/']);
  assert.equal(moved.headers.get('content-security-policy'), ADMIN_CSP);
  for (const path of ['/admin', '/admin/']) {
    const r = await fetch(s.url + path);
    assert.equal(r.status, 200, path);
    assert.equal(new URL(r.url).pathname, '/admin/');
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.headers.get('content-security-policy'), ADMIN_CSP);
    assert.match(ADMIN_CSP, /default-src 'self'/);
    assert.match(ADMIN_CSP, /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    const html = await r.text();
    // Every URL in the page is relative to it.
    assert.match(html, /<script type="module" src="admin.js"><\/script>/);
    assert.doesNotMatch(html, /(src|href)="\//);
    // Every script has a src, no element carries an inline handler or style.
    assert.equal((html.match(/<script\b/g) ?? []).length, 1);
    assert.doesNotMatch(html, /\son[a-z]+=|\sstyle=/i);
    assert.doesNotMatch(html, /test-admin-token/, 'no secret in the page');
  }
  for (const [path, type] of [['/admin/admin.js', 'text/javascript; charset=utf-8'], ['/admin/admin.css', 'text/css; charset=utf-8'], ['/admin/favicon.svg', 'image/svg+xml']]) {
    const r = await fetch(s.url + path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type'), type);
    const etag = r.headers.get('etag');
    assert.ok(etag);
    assert.ok((await r.arrayBuffer()).byteLength > 100);
    const again = await fetch(s.url + path, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304, `${path} revalidated`);
  }
  const js = await (await fetch(`${s.url}/admin/admin.js`)).text();
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|eval\(|new Function/, 'data is written as text, no code is made from strings');
  assert.doesNotMatch(js, /['`]\/admin/, 'the API is named relative to the page');
});

test('admin: every API route needs the admin token (401 {code, message} without it, with a wrong one, with a backend secret)', async (t) => {
  const s = await startDev(t);
  const routes: [string, string, unknown?][] = [
    ['GET', '/admin/api/overview'],
    ['GET', '/admin/api/channels'],
    ['GET', '/admin/api/channel?tenant=demo&channel=chat:a'],
    ['POST', '/admin/api/publish', { tenant: 'demo', channel: 'chat:a', data: 1 }],
    ['GET', '/admin/api/connections/test:abc'],
    ['DELETE', '/admin/api/connections/test:abc'],
  ];
  for (const [method, path, body] of routes) {
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, backend, { authorization: 'test-admin-token' }]) {
      const r = await http(s, method, path, body, headers);
      assert.equal(r.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
      assert.deepEqual(r.body, { code: 'unauthorized', message: 'Authorization: Bearer <adminToken> required' });
    }
  }
  // Nothing was published by the refused publish.
  const h = await http(s, 'GET', '/admin/api/channel?tenant=demo&channel=chat:a', undefined, admin);
  assert.equal(h.status, 200);
  assert.equal(h.body.last, 0);
});

test('admin: overview, inspector, publish, connection info and disconnect on one node', async (t) => {
  const s = await startDev(t);
  const { c, conn } = await nativeClient(t, s, 'alice');
  await subscribeAll(c, ['chat:room', 'logs:quiet'], 10);
  const site = await connect(t, wsUrl(s, '/ws?site=demo'));
  await site.opened;

  // The overview shows the sampler's last gather (every 2 s), not a gather of its own.
  const o = await eventually(async () => {
    const r = await http(s, 'GET', '/admin/api/overview', undefined, admin);
    assert.equal(r.status, 200, r.text);
    return r.body.totals.connections === 2 && r;
  }, 'the overview counts both connections', { timeoutMs: 5000, everyMs: 200 });
  assert.equal(o.body.engine, 'embedded');
  assert.deepEqual(o.body.nodes.map((n: any) => [n.node, n.role, n.status]), [['test', 'dev', 'ready']]);
  assert.equal(o.body.dialects.native, 1);
  assert.equal(o.body.dialects.site, 1);
  assert.ok(Object.keys(o.body.dialects).length >= 6, 'every dialect, idle ones at 0');
  assert.equal(o.body.nodes[0].dialects.native, 1);
  assert.equal(o.body.nodes[0].pid, process.pid);
  assert.ok(o.body.nodes[0].rss > 0 && o.body.nodes[0].heapUsed > 0);
  assert.deepEqual(o.body.tenants, ['demo', 'other']);
  assert.equal(o.body.sampling.on, true, 'one node samples from the start');

  // Publish from the admin API: the subscriber gets it, with the seq the API answered.
  const p = await http(s, 'POST', '/admin/api/publish', { tenant: 'demo', channel: 'chat:room', data: { text: 'from admin' } }, admin);
  assert.equal(p.status, 200, p.text);
  assert.deepEqual([p.body.tenant, p.body.channel, p.body.seq], ['demo', 'chat:room', 1]);
  const m = await c.nextWhere((f) => f.type === 'message');
  assert.deepEqual([m.channel, m.seq, m.data], ['chat:room', 1, { text: 'from admin' }]);
  for (let i = 2; i <= 4; i++) await http(s, 'POST', '/admin/api/publish', { tenant: 'demo', channel: 'chat:room', data: { i } }, admin);

  // The inspector: the newest `limit` messages, oldest first, and the presence list.
  const insp = await http(s, 'GET', '/admin/api/channel?tenant=demo&channel=chat:room&limit=2', undefined, admin);
  assert.equal(insp.status, 200, insp.text);
  assert.deepEqual(insp.body.messages.map((x: any) => [x.seq, x.data]), [[3, { i: 3 }], [4, { i: 4 }]]);
  assert.deepEqual([insp.body.last, insp.body.held, insp.body.complete, insp.body.namespace], [4, 4, true, 'chat']);
  assert.equal(insp.body.options.presence, true);
  assert.deepEqual(insp.body.presence, [{ conn, user: 'alice', info: { name: 'alice' } }]);
  const noPresence = await http(s, 'GET', '/admin/api/channel?tenant=demo&channel=logs:quiet', undefined, admin);
  assert.equal(noPresence.body.presence, null, 'presence is off in the logs namespace');

  // The busiest channels, fresh (a gather of their own).
  const busy = await http(s, 'GET', '/admin/api/channels?tenant=demo&limit=5', undefined, admin);
  assert.equal(busy.status, 200, busy.text);
  // (Their order depends on whether the server's own sampler just started a new window.)
  assert.deepEqual(busy.body.channels.map((x: any) => [x.tenant, x.channel, x.subscribers, x.nodes]).sort(), [['demo', 'chat:room', 1, 1], ['demo', 'logs:quiet', 1, 1]]);
  assert.equal((await http(s, 'GET', '/admin/api/channels?tenant=other', undefined, admin)).body.channels.length, 0);

  // The connection: described, then closed (the client sees 1000), then gone.
  const info = await http(s, 'GET', `/admin/api/connections/${encodeURIComponent(conn)}`, undefined, admin);
  assert.equal(info.status, 200, info.text);
  assert.deepEqual([info.body.conn, info.body.tenant, info.body.dialect, info.body.user, info.body.subscriptions], [conn, 'demo', 'native', 'alice', 2]);
  const del = await http(s, 'DELETE', `/admin/api/connections/${encodeURIComponent(conn)}`, undefined, admin);
  assert.deepEqual([del.status, del.body], [200, { status: 'ok' }]);
  assert.deepEqual(await c.closedWithin(2000), { code: 1000, reason: 'closed by backend' });
  const gone = await http(s, 'GET', `/admin/api/connections/${encodeURIComponent(conn)}`, undefined, admin);
  assert.deepEqual([gone.status, gone.body.code], [410, 'gone']);
});

test('admin: errors are {code, message} with the status of the code', async (t) => {
  const s = await startDev(t);
  const cases: [string, string, unknown, number, string][] = [
    ['GET', '/admin/api/channel?tenant=nope&channel=a', undefined, 404, 'unknown_tenant'],
    ['GET', '/admin/api/channel?channel=a', undefined, 400, 'bad_request'],
    ['GET', '/admin/api/channel?tenant=demo', undefined, 400, 'invalid_channel'],
    ['GET', '/admin/api/channel?tenant=demo&channel=a&limit=0', undefined, 400, 'bad_request'],
    ['GET', '/admin/api/channels?limit=101', undefined, 400, 'bad_request'],
    ['GET', '/admin/api/channels?tenant=nope', undefined, 404, 'unknown_tenant'],
    ['GET', '/admin/api/overview?since=-1', undefined, 400, 'bad_request'],
    ['POST', '/admin/api/publish', '[1]', 400, 'bad_request'],
    ['POST', '/admin/api/publish', '{"tenant":"demo","channel":"chat:a"', 400, 'bad_request'],
    ['POST', '/admin/api/publish', { tenant: 'demo', channel: 'chat:a' }, 400, 'bad_request'],
    ['POST', '/admin/api/publish', { tenant: 'demo', channel: 'chat:a', data: 'x'.repeat(70_000) }, 413, 'payload_too_large'],
    ['GET', '/admin/api/connections/not-a-connection', undefined, 410, 'gone'],
    ['GET', '/admin/api/nope', undefined, 404, 'not_found'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const r = await http(s, method, path, body, admin);
    assert.deepEqual([r.status, r.body?.code], [status, code], `${method} ${path}: ${r.text}`);
    assert.equal(typeof r.body.message, 'string');
  }
});
