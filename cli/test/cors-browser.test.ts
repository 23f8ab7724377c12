import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually, launchChromium } from '@switchyard/testkit';
import { backend, http, startDev } from './helpers.js';

// Issue 16, in a real browser: a page served from another origin than Switchyard gets a site
// token with fetch() (CORS), has its own server compute the channel's auth (seed 002), and
// subscribes over WebSocket. Without its origin in --cors-origins the browser refuses to read
// the token, exactly as users saw.

/** The site's own server: the page, and the channel auth only it can compute. */
async function startSite(t: import('node:test').TestContext): Promise<string> {
  const page = `<!doctype html><meta charset="utf-8"><title>site</title><script>
    window.got = [];
    window.run = async (sy) => {
      try {
        const r = await fetch(sy + '/token?site=demo');
        const { token } = await r.json();
        const auth = await (await fetch('/auth?channel=room&token=' + encodeURIComponent(token))).text();
        const ws = new WebSocket(sy.replace(/^http/, 'ws') + '/ws?site=demo');
        ws.onmessage = (e) => window.got.push(JSON.parse(e.data));
        ws.onopen = () => ws.send(JSON.stringify({ request: 'subscribe', req_id: 's', body: { channel: 'room', after: 0, token, auth } }));
        return 'ok';
      } catch (err) {
        return String(err);
      }
    };
  </script>`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://site');
    if (url.pathname === '/auth') {
      const auth = createHmac('sha256', 'demo-client-secret').update(`${url.searchParams.get('channel')}${url.searchParams.get('token')}`).digest('base64');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(auth);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => {
    server.closeAllConnections(); // the browser keeps its connections alive
    server.close(() => r());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('cors in Chromium: a page on another origin gets a site token and subscribes with it; without its origin allowed, the browser refuses', { timeout: 60_000 }, async (t) => {
  const site = await startSite(t);
  const allowed = await startDev(t, { corsOrigins: [site] });
  const closed = await startDev(t);
  // Switchyard on "localhost", the page on "127.0.0.1": other origins, as a deployment has.
  const sy = (s: { url: string }): string => s.url.replace('127.0.0.1', 'localhost');
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(site);

  assert.equal(await page.evaluate((u) => (globalThis as any).run(u), sy(allowed)), 'ok');
  await eventually(async () => (await page.evaluate(() => (globalThis as any).got.length)) >= 1, 'the subscribe answer');
  assert.deepEqual(await page.evaluate(() => (globalThis as any).got[0]), { response: 'ok', req_id: 's', body: null });
  const pub = await http(allowed, 'POST', '/v1/publish', { tenant: 'demo', channel: 'room', data: { hello: 'browser' } }, backend);
  assert.equal(pub.status, 200);
  await eventually(async () => (await page.evaluate(() => (globalThis as any).got.length)) >= 2, 'the message in the browser');
  const message = await page.evaluate(() => (globalThis as any).got[1]);
  assert.equal(message.message, 'room');
  assert.deepEqual(message.body, { hello: 'browser' });

  // The same page against a Switchyard that does not allow its origin: fetch fails in the browser.
  const refused = await page.evaluate((u) => (globalThis as any).run(u), sy(closed));
  assert.match(refused, /TypeError: Failed to fetch/);
  await browser.close(); // before the servers, whose connections it holds
});
