import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { TenantsConfigError, parseTenants } from '@switchyard/shared';
import { TENANTS, testTenants } from '@switchyard/testkit';
import { connect, startDev, wsUrl } from './helpers.js';
import type { RunningServer } from '../src/server.js';
import { run } from './cli-process.js';

// Issue 16: browsers on another origin. The browser-facing routes (site GET /token and
// POST /post) answer preflights and carry Access-Control-Allow-Origin for the allowed
// origins; backend routes never do; WebSocket upgrades have their own origin check.
const APP = 'https://app.example';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (fetch would not let a test play a browser's Origin and preflight). */
function call(s: RunningServer, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(s.url + path, { method, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const preflight = (s: RunningServer, path: string, origin: string, method = 'GET', headers = ''): Promise<Answer> =>
  call(s, 'OPTIONS', path, { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) });

test('cors: off by default: no Access-Control-* header, preflights refused', async (t) => {
  const s = await startDev(t);
  const r = await call(s, 'GET', '/token?site=demo', { origin: APP });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  const p = await preflight(s, '/token?site=demo', APP);
  assert.equal(p.status, 403);
  assert.equal(p.headers['access-control-allow-origin'], undefined);
  assert.match(JSON.parse(p.body).message, /origin https:\/\/app.example may not call this endpoint/);
});

test('cors: --cors-origins answers preflights and marks the answers of the browser-facing routes, for the listed origins only', async (t) => {
  const s = await startDev(t, { corsOrigins: [APP, 'http://localhost:3000'] });
  const p = await preflight(s, '/token?site=demo', APP);
  assert.equal(p.status, 204);
  assert.equal(p.headers['access-control-allow-origin'], APP);
  assert.equal(p.headers['access-control-allow-methods'], 'GET, OPTIONS');
  assert.equal(p.headers['access-control-max-age'], '600');
  assert.equal(p.headers.vary, 'Origin');
  assert.equal(p.headers['access-control-allow-credentials'], undefined);

  const r = await call(s, 'GET', '/token?site=demo', { origin: APP });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], APP);
  assert.equal(r.headers.vary, 'Origin');
  assert.equal(typeof JSON.parse(r.body).token, 'string');

  // POST /post: a JSON body needs its content-type allowed; errors are marked too (the page reads them).
  const pp = await preflight(s, '/post?site=demo', APP, 'POST', 'content-type');
  assert.equal(pp.status, 204);
  assert.equal(pp.headers['access-control-allow-methods'], 'POST, OPTIONS');
  assert.equal(pp.headers['access-control-allow-headers'], 'content-type');
  const bad = await call(s, 'POST', '/post?site=demo', { origin: APP, 'content-type': 'application/json' }, '{}');
  assert.equal(bad.status, 400);
  assert.equal(bad.headers['access-control-allow-origin'], APP);

  // Another origin: the preflight is refused and nothing is marked, so its browser reads nothing.
  const evil = await preflight(s, '/token?site=demo', 'https://evil.example');
  assert.equal(evil.status, 403);
  assert.equal(evil.headers['access-control-allow-origin'], undefined);
  assert.equal((await call(s, 'GET', '/token?site=demo', { origin: 'https://evil.example' })).headers['access-control-allow-origin'], undefined);

  // Backend routes, which take a backend secret, never answer a preflight nor carry the header.
  for (const [method, path] of [['POST', '/v1/publish'], ['POST', '/bartnet/authorize'], ['GET', '/v1/history?tenant=demo&channel=x'], ['POST', '/v1/tokens']] as const) {
    const bp = await preflight(s, path, APP, method);
    assert.notEqual(bp.status, 204, path);
    assert.equal(bp.headers['access-control-allow-origin'], undefined, path);
    const br = await call(s, method, path, { origin: APP, authorization: 'Bearer demo-backend-secret' });
    assert.equal(br.headers['access-control-allow-origin'], undefined, path);
  }
});

test('cors: * allows any origin, without credentials and without Vary', async (t) => {
  const s = await startDev(t, { corsOrigins: ['*'] });
  const p = await preflight(s, '/token?site=demo', 'https://anyone.example');
  assert.equal(p.status, 204);
  assert.equal(p.headers['access-control-allow-origin'], '*');
  assert.equal(p.headers['access-control-allow-credentials'], undefined);
  assert.equal(p.headers.vary, undefined);
});

test('cors: a tenant\'s corsOrigins overrides --cors-origins for its site', async (t) => {
  const s = await startDev(t, { corsOrigins: [APP], tenants: testTenants({ corsOrigins: ['https://demo.example'] }) });
  assert.equal((await preflight(s, '/token?site=demo', 'https://demo.example')).status, 204);
  assert.equal((await preflight(s, '/token?site=demo', APP)).status, 403);
  assert.equal((await preflight(s, '/token?site=other', APP)).status, 204, 'other tenants keep the flag\'s list');
});

test('cors: origins are checked: in the tenants file and on the command line', async (t) => {
  const raw = structuredClone(TENANTS) as any;
  raw.tenants.demo.corsOrigins = ['https://app.example/path'];
  assert.throws(() => parseTenants(raw), (e) => e instanceof TenantsConfigError && /tenants\.demo\.corsOrigins.*not an origin: write it as https:\/\/app\.example/.test(e.message));
  const r = run(t, ['dev', '--port', '0', '--tenants', 'config/demo-tenants.json', '--cors-origins', 'app.example']);
  assert.equal(await r.exit, 2);
  assert.match(r.stderr(), /--cors-origins: "app.example" is not an origin/);
});

test('allowed-origins: a WebSocket upgrade from another page\'s origin is refused with 403; listed origins and non-browser clients connect', async (t) => {
  const s = await startDev(t, { limits: { maxPayload: 65536, maxBufferedBytes: 1 << 20, maxSubscriptions: 1000, idleTimeoutSeconds: 120, allowedOrigins: [APP] } });
  const upgrade = (origin?: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(s.url + '/ws?site=demo', {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...(origin ? { origin } : {}) },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        resolve(101);
      });
      req.on('error', reject);
      req.end();
    });
  assert.equal(await upgrade('https://evil.example'), 403);
  assert.equal(await upgrade(APP), 101);
  assert.equal(await upgrade(), 101);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  assert.equal((await c.next()).type, 'hello');
});
