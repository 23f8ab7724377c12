import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signClientToken } from '@switchyard/shared';
import { eventually, launchChromium } from '@switchyard/testkit';
import { freePort, listeningPort, run, tenantsFile, type Run } from './cli-process.js';

// Issue 14, SSE in a real browser: Chromium's own EventSource, on a page of another origin,
// streams two channels from a `switchyard dev` process. The stream is ended by a backend
// (the browser reconnects by itself with Last-Event-ID and resumes, recovered, with nothing
// lost), then the server is killed and restarted (the browser keeps retrying, and is told
// that the restarted server could not recover what it held).

const CHANNELS = ['chat:b1', 'logs:b2'];
const BACKEND = { authorization: 'Bearer demo-backend-secret', 'content-type': 'application/json' };

async function startPage(t: TestContext): Promise<string> {
  const page = `<!doctype html><meta charset="utf-8"><title>sse</title><script>
    window.got = []; window.subscribed = []; window.closes = []; window.errors = 0;
    window.start = (url) => {
      const es = new EventSource(url);
      es.onmessage = (e) => window.got.push({ ...JSON.parse(e.data), id: e.lastEventId });
      es.addEventListener('subscribed', (e) => window.subscribed.push(JSON.parse(e.data)));
      es.addEventListener('close', (e) => window.closes.push(JSON.parse(e.data)));
      es.onerror = () => window.errors++;
      window.es = es;
    };
  </script>`;
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(page));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('sse in Chromium: EventSource resumes with Last-Event-ID after the stream ends, and keeps retrying through a server restart', { timeout: 90_000 }, async (t) => {
  const tenants = tenantsFile(t);
  const site = await startPage(t);
  const start = (port: number): Run => run(t, ['dev', '--host', '127.0.0.1', '--port', String(port), '--tenants', tenants, '--cors-origins', site]);
  const port = await freePort();
  let server = start(port);
  await listeningPort(server);
  // Switchyard on "localhost", the page on "127.0.0.1": other origins, as in a deployment.
  const sy = `http://localhost:${port}`;
  const publish = async (channel: string, i: number): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/publish`, { method: 'POST', headers: BACKEND, body: JSON.stringify({ tenant: 'demo', channel, data: { i } }) });
    assert.equal(res.status, 200);
    return ((await res.json()) as { seq: number }).seq;
  };

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(site);
  const token = signClientToken('demo-client-secret', { user: 'browser', exp: Math.floor(Date.now() / 1000) + 3600 });
  const url = `${sy}/v1/sse?tenant=demo${CHANNELS.map((c) => `&channel=${c}`).join('')}&token=${token}`;
  await page.evaluate((u) => (globalThis as any).start(u), url);
  const state = (): Promise<{ got: { channel: string; seq: number; data: { i: number } }[]; subscribed: { conn: string; channels: { recovered: boolean; epoch: string }[] }[]; closes: { code: number }[] }> =>
    page.evaluate(() => ({ got: (globalThis as any).got, subscribed: (globalThis as any).subscribed, closes: (globalThis as any).closes }));
  await eventually(async () => (await state()).subscribed.length === 1, 'the first subscribed event', { timeoutMs: 10_000 });

  // Phase 1: a backend ends the stream mid-flow; the browser comes back by itself and resumes.
  const sent: number[] = [];
  let i = 0;
  const publishSome = async (n: number): Promise<void> => {
    for (let k = 0; k < n; k++, i++) {
      await publish(CHANNELS[i % 2] as string, i);
      sent.push(i);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await publishSome(20);
  const { conn } = (await state()).subscribed[0]!;
  const closing = fetch(`http://127.0.0.1:${port}/v1/connections/${encodeURIComponent(conn)}`, { method: 'DELETE', headers: BACKEND });
  await publishSome(30); // published while the browser is away (its retry is 1 s)
  assert.equal((await closing).status, 200);
  await eventually(async () => (await state()).subscribed.length === 2, 'the browser reconnected by itself', { timeoutMs: 10_000 });
  await publishSome(20);
  await eventually(async () => (await state()).got.length === sent.length, `all ${sent.length} messages in the page`, { timeoutMs: 10_000 });
  let s = await state();
  assert.deepEqual(s.closes, [{ code: 1000, reason: 'closed by backend' }]);
  assert.deepEqual(s.subscribed[1]!.channels.map((c) => c.recovered), [true, true], 'resumed from Last-Event-ID');
  // Order holds per channel (a resume replays one channel, then the next).
  const perChannel = (got: { channel: string; data: { i: number } }[], ch: string): number[] => got.filter((m) => m.channel === ch).map((m) => m.data.i);
  const sentTo = (list: number[], ch: string): number[] => list.filter((n) => CHANNELS[n % 2] === ch);
  for (const ch of CHANNELS) assert.deepEqual(perChannel(s.got, ch), sentTo(sent, ch), `${ch}: every message once, in order, across the reconnect`);

  // Phase 2: the server is killed and restarted on its port; the browser retries until it is back.
  server.child.kill('SIGKILL');
  await server.exit;
  await eventually(async () => (await page.evaluate(() => (globalThis as any).errors)) >= 2, 'the browser saw the server go', { timeoutMs: 10_000 });
  server = start(port);
  await listeningPort(server);
  await eventually(async () => (await state()).subscribed.length === 3, 'the browser reconnected to the restarted server', { timeoutMs: 15_000 });
  s = await state();
  assert.deepEqual(s.subscribed[2]!.channels.map((c) => c.recovered), [false, false], 'the restarted server says what it could not recover');
  assert.notEqual(s.subscribed[2]!.channels[0]!.epoch, s.subscribed[0]!.channels[0]!.epoch, 'a new epoch');
  const before = sent.length;
  await publishSome(20);
  await eventually(async () => (await state()).got.length === sent.length, 'the messages after the restart in the page', { timeoutMs: 10_000 });
  s = await state();
  for (const ch of CHANNELS) assert.deepEqual(perChannel(s.got.slice(before), ch), sentTo(sent.slice(before), ch), `${ch} after the restart: every message once, in order`);
  assert.deepEqual(s.got.slice(before).filter((m) => m.channel === CHANNELS[0]).map((m) => m.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'seqs started again');
  await browser.close();
});
