import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testTenants, eventually } from '@switchyard/testkit';
import { startCore } from './harness.js';

/** A webhook that admits every connection and records each call as `METHOD body`. */
async function webhook(t: import('node:test').TestContext): Promise<{ url: string; calls: string[]; auth: string[] }> {
  const calls: string[] = [];
  const auth: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      calls.push(`${req.method} ${body}`);
      auth.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":"OK"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ws`, calls, auth };
}

test('wsaas (seed 003): connect → POST, frames → PUT in order, close → DELETE; nothing is ever answered on the socket', async (t) => {
  const hook = await webhook(t);
  const core = startCore({ tenants: testTenants({ webhook: { url: hook.url } }) });
  const c = await core.connect('wsaas', '/hook/room/1?tenant=demo', { authorization: 'Bearer user-token' });
  const uri = `http://control.test/v1/connections/${encodeURIComponent(c.s.id)}`;
  assert.deepEqual(hook.calls, [`POST {"ws_uri":"${uri}","path":"/hook/room/1?tenant=demo"}`]);
  assert.deepEqual(hook.auth, ['Bearer user-token']);
  await c.send('hello');
  await c.send(Buffer.from([1, 2, 255]), true);
  await c.send('{"not":"parsed"}');
  c.close();
  await eventually(() => hook.calls.length === 5, 'every call reached the webhook');
  assert.deepEqual(hook.calls.slice(1), [
    `PUT {"ws_uri":"${uri}","data":"hello"}`,
    `PUT {"ws_uri":"${uri}","data":"AQL/","binary":true}`,
    `PUT {"ws_uri":"${uri}","data":"{\\"not\\":\\"parsed\\"}"}`,
    `DELETE {"ws_uri":"${uri}"}`,
  ]);
  assert.deepEqual(c.take(), [], 'the core answers nothing itself');
});
