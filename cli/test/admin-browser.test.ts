import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { signClientToken } from '@switchyard/shared';
import { TENANTS, eventually, launchChromium } from '@switchyard/testkit';
import { ROOT, listeningPort, run, tenantsFile } from './cli-process.js';
import { connect, type Client } from './helpers.js';

// Issue 14, part 3, in a real browser (Debian's Chromium through playwright-core) against a
// live `switchyard dev` process: sign in with the admin token, watch the figures and charts
// move while the test publishes, inspect a channel, publish from the form to a real WebSocket
// client, look that client up and disconnect it, and check where the token is kept.
//
// SWITCHYARD_ADMIN_SCREENSHOT=docs/admin.png makes it run longer traffic first and save the
// screenshot the docs show there.

const SHOT = process.env.SWITCHYARD_ADMIN_SCREENSHOT;
const TOKEN_KEY = 'switchyard-admin-token';
const BACKEND = { authorization: 'Bearer demo-backend-secret' };

async function nativeClient(t: TestContext, base: string, user: string, channels: readonly string[]): Promise<{ c: Client; conn: string }> {
  const c = await connect(t, `${base.replace(/^http/, 'ws')}/v1/ws?tenant=demo`);
  const hello = await c.next();
  c.send({ type: 'auth', id: 1, token: signClientToken('demo-client-secret', { user, info: { name: user } }) });
  assert.ok((await c.nextWhere((f) => f.id === 1)).result);
  for (const [i, channel] of channels.entries()) {
    c.send({ type: 'subscribe', id: 10 + i, channel });
    assert.ok((await c.nextWhere((f) => f.id === 10 + i)).result);
  }
  return { c, conn: hello.conn as string };
}

const text = async (page: Page, selector: string): Promise<string> => ((await page.textContent(selector)) ?? '').trim();
const num = (s: string): number => Number(s.replace(/,/g, ''));
const stored = (page: Page): Promise<[string | null, string | null]> =>
  page.evaluate((k) => {
    const g = globalThis as any; // runs in the page
    return [g.localStorage.getItem(k), g.sessionStorage.getItem(k)] as [string | null, string | null];
  }, TOKEN_KEY);

test('admin page in Chromium: sign in, live figures and charts, inspector, publish form, connection lookup and disconnect, token storage', { timeout: SHOT ? 240_000 : 120_000 }, async (t) => {
  const dev = run(t, ['dev', '--host', '127.0.0.1', '--port', '0', '--tenants', tenantsFile(t), '--node-id', 'dev1']);
  const base = `http://127.0.0.1:${await listeningPort(dev)}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 'dev ready');

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  // Anything the page logs as an error (a CSP refusal would be one), except the browser's own
  // line for the 401 of the wrong token and the 410 of a closed connection.
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (401|410)/.test(m.text())) problems.push(m.text());
  });

  // Sign in: a wrong token is refused on the page; the right one, without "remember".
  await page.goto(`${base}/admin`);
  assert.equal(new URL(page.url()).pathname, '/admin/');
  await page.fill('#token', 'not-the-admin-token');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => ((globalThis as any).document.querySelector('#login-error')?.textContent ?? '') !== '');
  assert.equal(await text(page, '#login-error'), 'That token is not the admin token.');
  assert.ok(await page.isHidden('#app'));
  await page.fill('#token', TENANTS.adminToken);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app', { state: 'visible' });
  assert.deepEqual(await stored(page), [null, TENANTS.adminToken], 'not in localStorage: "remember" was not ticked');
  assert.doesNotMatch(page.url(), /token/i);

  // Traffic: subscribers on three channels, a backend publishing to them.
  const alice = await nativeClient(t, base, 'alice', ['chat:admin', 'news:world']);
  await nativeClient(t, base, 'bob', ['chat:admin', 'chat:lobby']);
  const seqs: number[] = [];
  let publishing = true;
  let round = 0;
  const publisher = (async () => {
    while (publishing) {
      round++;
      // A rate that varies, so the charts have a shape.
      const n = 1 + Math.round(2 + 2 * Math.sin(round / 15));
      const messages = [...Array.from({ length: n }, (_, i) => ({ channel: 'chat:admin', data: { round, i } })), { channel: round % 3 === 0 ? 'chat:lobby' : 'news:world', data: { round } }];
      const r = await fetch(`${base}/v1/publish`, { method: 'POST', headers: BACKEND, body: JSON.stringify({ tenant: 'demo', messages }) });
      assert.equal(r.status, 200);
      const body = (await r.json()) as { results: { channel: string; seq: number }[] };
      for (const x of body.results) if (x.channel === 'chat:admin') seqs.push(x.seq);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  t.after(() => (publishing = false));

  // The figures move: publishes/s above 0, and the charts gain points (the page polls every 2 s).
  const points = async (id: string): Promise<number> => Number(await page.getAttribute(id, 'data-points'));
  await eventually(async () => num(await text(page, '#stat-in')) > 0 && num(await text(page, '#stat-out')) > 0, 'publishes/s and deliveries/s shown above 0', { timeoutMs: 15_000, everyMs: 200 });
  const p1 = await points('#chart-in');
  await eventually(async () => (await points('#chart-in')) > p1, 'the publishes chart gains a point', { timeoutMs: 10_000, everyMs: 200 });
  const p2 = await points('#chart-in');
  await eventually(async () => (await points('#chart-in')) > p2, 'and another', { timeoutMs: 10_000, everyMs: 200 });
  assert.ok(num((await page.getAttribute('#chart-in', 'data-last')) ?? '') > 0, 'the last publishes point is above 0');
  assert.ok(num((await page.getAttribute('#chart-out', 'data-last')) ?? '') > 0, 'the last deliveries point is above 0');
  assert.ok((await page.locator('#chart-in polyline').count()) >= 1);
  // The nodes table and the dialects, from the data.
  assert.equal(await page.getAttribute('#nodes tr[data-node="dev1"]', 'data-status'), 'ready');
  assert.equal(await text(page, '#dialects tr[data-dialect="native"] td.total'), '2');
  assert.equal(await text(page, '#dialects tr[data-dialect="native"] td.subs'), '4', 'alice and bob hold two subscriptions each');
  assert.equal(await text(page, '#dialects tr[data-dialect="native"] td[data-node="dev1"]'), '2 / 4');
  if (SHOT !== undefined) await new Promise((r) => setTimeout(r, 90_000)); // a longer history for the docs' picture

  // The busiest channels: chat:admin (2 subscribers) first; a click opens it in the inspector.
  await page.waitForSelector('#busiest tr[data-channel="chat:admin"]');
  assert.equal(await page.getAttribute('#busiest tbody tr:first-child', 'data-channel'), 'chat:admin');
  assert.equal(await text(page, '#busiest tr[data-channel="chat:admin"] td:nth-child(3)'), '2');
  const seen = seqs.at(-1) as number;
  await page.click('#busiest tr[data-channel="chat:admin"]');
  await page.waitForSelector(`#inspect-history tr[data-seq="${seen}"]`);
  const last = num(await text(page, '#inspect-last'));
  assert.ok(last >= seen);
  const shown = await page.$$eval('#inspect-history tbody tr', (rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
  assert.deepEqual(shown, Array.from({ length: Math.min(50, last) }, (_, i) => last - i), 'the newest 50, newest first, with their seqs');
  assert.ok(shown.every((s) => seqs.includes(s)), 'every seq shown was published');
  assert.deepEqual((await page.$$eval('#inspect-presence li', (li) => li.map((x) => x.textContent ?? ''))).map((s) => s.split(' ')[0]).sort(), ['alice', 'bob']);
  publishing = false;
  await publisher;

  // Publish from the form: the WebSocket client gets the message with the seq the page shows.
  await page.selectOption('#publish-tenant', 'demo');
  await page.fill('#publish-channel', 'chat:admin');
  await page.fill('#publish-data', '{"from":"the admin page","n":1}');
  await page.click('#publish-form button[type=submit]');
  await page.waitForSelector('#publish-result[data-seq]');
  const seq = Number(await page.getAttribute('#publish-result', 'data-seq'));
  assert.match(await text(page, '#publish-result'), new RegExp(`^Published to demo / chat:admin: seq ${seq} at `));
  const got = await alice.c.nextWhere((f) => f.type === 'message' && f.seq === seq, 5000);
  assert.deepEqual([got.channel, got.data], ['chat:admin', { from: 'the admin page', n: 1 }]);

  // Look the client up and take the docs' screenshot with everything filled in.
  await page.fill('#conn-id', alice.conn);
  await page.click('#conn-form button[type=submit]');
  await page.waitForSelector('#conn-info');
  assert.deepEqual(
    await page.$$eval('#conn-info dd', (dd) => Object.fromEntries(dd.map((d) => [d.getAttribute('data-field'), d.textContent]))).then((f) => [f.conn, f.tenant, f.dialect, f.user, f.subscriptions]),
    [alice.conn, 'demo', 'native', 'alice', '2'],
  );
  const dir = mkdtempSync(join(tmpdir(), 'sy-admin-shot-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const shot = SHOT !== undefined ? resolve(ROOT, SHOT) : join(dir, 'admin.png');
  await page.screenshot({ path: shot, fullPage: true });
  const png = readFileSync(shot);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  t.diagnostic(`screenshot ${shot}: ${png.length} bytes`);

  // Disconnect: the client sees the close; the page says so.
  await page.click('#disconnect');
  assert.deepEqual(await alice.c.closedWithin(5000), { code: 1000, reason: 'closed by backend' });
  await page.waitForFunction(() => ((globalThis as any).document.querySelector('#conn-status')?.textContent ?? '').startsWith('Disconnected'));
  assert.equal(await text(page, '#conn-status'), `Disconnected ${alice.conn}.`);

  // The token stays for this tab (a reload needs no sign-in), never in localStorage; signing
  // out forgets it; "remember" keeps it in localStorage.
  await page.reload();
  await page.waitForSelector('#app', { state: 'visible' });
  assert.deepEqual(await stored(page), [null, TENANTS.adminToken]);
  await page.click('#logout');
  await page.waitForSelector('#login', { state: 'visible' });
  assert.deepEqual(await stored(page), [null, null]);
  await page.fill('#token', TENANTS.adminToken);
  await page.check('#remember');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app', { state: 'visible' });
  assert.deepEqual(await stored(page), [TENANTS.adminToken, TENANTS.adminToken]);
  // A new tab of the same browser finds the remembered token.
  const second = await browser.context.newPage();
  await second.goto(`${base}/admin`);
  await second.waitForSelector('#app', { state: 'visible' });
  await second.click('#logout');
  assert.deepEqual(await stored(second), [null, null]);

  assert.deepEqual(problems, [], 'no script error, no CSP refusal');
  await browser.close(); // before the server, whose connections it holds
});
