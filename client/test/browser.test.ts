import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { eventually, launchChromium } from '@switchyard/testkit';
import { ROOT } from '../../cli/test/cli-process.js';
import { deliveryProblems, freePort, kill, mintToken, startDev, SteadyPublisher, tenantsFile, type Ack, type Dev } from './helpers.js';

// The BUILT client (client/dist, as a bundler or a <script type="module"> gets it) in Debian's
// Chromium, with the browser's own WebSocket, against a live `switchyard dev` on another
// origin; the server is SIGKILLed mid-stream and started again on the same port.

const PAGE = `<!doctype html><meta charset="utf-8"><title>switchyard client</title>
<script type="module">
  import { Client } from './index.js';
  window.start = (url, channel) => {
    const got = { messages: [], subscribed: [], disconnects: [], errors: [], states: [] };
    window.got = got;
    // This page's own server mints tokens, as a real app's backend would.
    const getToken = async () => (await (await fetch('/token')).json()).token;
    const client = new Client(url, { getToken, reconnectBaseMs: 100, reconnectMaxMs: 1000 });
    client.on('state', (s) => got.states.push(s));
    client.on('disconnected', (d) => got.disconnects.push(d));
    client.on('error', (e) => got.errors.push(e.codeName + ': ' + e.message));
    client.subscribe(channel, {
      onMessage: (m) => got.messages.push({ seq: m.seq, time: m.time, data: m.data, channel: m.channel }),
      onSubscribed: (s) => got.subscribed.push({ ...s, at: got.messages.length }),
    });
    client.connect();
    window.client = client;
    return typeof WebSocket;
  };
</script>`;

/** The app's server: the page, the built client next to it, and a token route that calls Switchyard with the backend secret. */
async function startSite(t: TestContext, dev: () => Dev): Promise<string> {
  const dist = join(ROOT, 'client/dist');
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://site').pathname;
      if (path === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      if (path === '/token') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: await mintToken(dev().url, { user: 'browser' }) }));
      const file = /^\/([a-z-]+\.js)$/.exec(path)?.[1];
      if (file !== undefined) return res.writeHead(200, { 'content-type': 'text/javascript' }).end(await readFile(join(dist, file)));
      res.writeHead(404).end();
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => {
    server.closeAllConnections(); // the browser keeps its connections alive
    server.close(() => r());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

interface Got {
  messages: { seq: number; data: { n: number }; channel: string; time: number }[];
  subscribed: { recovered: boolean; resumed: boolean; epoch: string; last: number; at: number }[];
  disconnects: { code: number; reason: string; reconnectInMs: number }[];
  errors: string[];
  states: string[];
}

test('browser: the built client in Chromium resumes after switchyard dev is SIGKILLed and restarted on the same port — messages before the kill and everything after, exactly once, in order', { timeout: 90_000 }, async (t) => {
  const file = tenantsFile(t);
  const port = await freePort();
  let dev = await startDev(t, file, port);
  const site = await startSite(t, () => dev);
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.context.newPage();
  await page.goto(site);
  await page.waitForFunction(() => typeof (globalThis as any).start === 'function');
  const channel = 'chat:browser';
  assert.equal(await page.evaluate(([url, ch]) => (globalThis as any).start(url, ch), [dev.ws(), channel] as const), 'function', 'the browser’s own WebSocket');
  const got = (): Promise<Got> => page.evaluate(() => (globalThis as any).got as Got);
  await eventually(async () => (await got()).subscribed.length === 1, 'subscribed in the page', { timeoutMs: 10_000 });

  const publisher = new SteadyPublisher(() => dev.url, channel, 40).start();
  t.after(() => publisher.stop());
  await eventually(async () => (await got()).messages.length >= 15, 'messages in the page', { timeoutMs: 10_000 });
  const killedAt = Date.now();
  await kill(dev.run);
  await eventually(async () => (await got()).disconnects.length >= 1, 'the page noticed');
  dev = await startDev(t, file, port);
  const restartedAt = Date.now();
  await eventually(async () => (await got()).subscribed.length === 2, 'resubscribed in the page', { timeoutMs: 10_000 });
  await eventually(() => publisher.acked.filter((a) => a.at > restartedAt).length >= 20, 'publishes after the restart', { timeoutMs: 10_000 });
  await publisher.stop();
  const last = publisher.acked.at(-1)!;
  await eventually(async () => (await got()).messages.some((m) => m.data.n === last.n), 'the last message in the page', { timeoutMs: 10_000 });

  const g = await got();
  const before: Ack[] = publisher.acked.filter((a) => a.at < killedAt);
  const after: Ack[] = publisher.acked.filter((a) => a.at > killedAt);
  const resumeAt = g.subscribed[1]!.at;
  const pre = g.messages.slice(0, resumeAt);
  const post = g.messages.slice(resumeAt);
  t.diagnostic(`in the page: ${pre.length} messages before the kill (${before.length} acknowledged), ${post.length} after the restart (${after.length} acknowledged); down ${restartedAt - killedAt} ms; ${g.disconnects.length} disconnect events (codes ${[...new Set(g.disconnects.map((d) => d.code))].join(', ')})`);
  assert.deepEqual(deliveryProblems(pre as any, before), [], 'before the kill');
  assert.deepEqual(deliveryProblems(post as any, after), [], 'after the restart');
  assert.deepEqual(post.map((m) => m.seq), post.map((_, i) => i + 1), 'the new epoch counts from 1, no gap, no duplicate');
  assert.ok(post.every((m) => m.channel === channel && typeof m.time === 'number'));
  const [first, resumed] = g.subscribed as [Got['subscribed'][0], Got['subscribed'][0]];
  assert.deepEqual([first.recovered, first.resumed], [true, false]);
  assert.deepEqual([resumed.recovered, resumed.resumed], [false, true], 'the page is told that history was lost');
  assert.notEqual(resumed.epoch, first.epoch);
  assert.equal(g.disconnects[0]!.code, 1006);
  assert.deepEqual(g.states.slice(0, 3), ['connecting', 'connected', 'disconnected']);
  assert.equal(g.states.at(-1), 'connected');
  await page.evaluate(() => (globalThis as any).client.close());
  assert.equal(await page.evaluate(() => (globalThis as any).client.state), 'closed');
  await browser.close(); // before the servers, whose connections it holds
});
