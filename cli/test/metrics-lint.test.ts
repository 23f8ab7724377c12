import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startCluster } from './cluster-helpers.js';
import { signClientToken } from '@switchyard/shared';
import { connect, http, publish, startDev, wsUrl } from './helpers.js';
import type { RunningServer } from '../src/server.js';

/** `promtool check metrics` on an exposition: its exit code and what it printed. */
function promtool(exposition: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
    child.stdin.end(exposition);
  });
}

async function lint(s: RunningServer, what: string): Promise<void> {
  const m = await http(s, 'GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.text, /switchyard_nodejs_active_handles\{/, `${what}: the per-type gauges stay`);
  const r = await promtool(m.text);
  assert.equal(r.code, 0, `${what}: promtool check metrics said:\n${r.out}`);
}

test('promtool check metrics passes on every role: dev, and a cluster\'s control API and gateway', async (t) => {
  await lint(await startDev(t), 'dev');
  const cl = await startCluster(t, 1);
  await lint(cl.control.server, 'control-api');
  await lint(cl.gateways[0]!.server, 'gateway');
});

test('history reads and "could not recover" are counted; the embedded engine never reconnects', async (t) => {
  const s = await startDev(t);
  for (let i = 0; i < 3; i++) await publish(s, 'chat:r', i);
  const c = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await c.next();
  c.send({ type: 'auth', id: 1, token: signClientToken('demo-client-secret', { user: 'u' }) });
  await c.next();
  c.send({ type: 'subscribe', id: 2, channel: 'chat:r', after: 1, epoch: 'another-run' });
  const r = await c.nextWhere((f) => f.id === 2);
  assert.equal(r.result.recovered, false);
  const m = (await http(s, 'GET', '/metrics')).text;
  assert.match(m, /switchyard_unrecovered_subscribes_total\{role="dev"\} 1\n/);
  assert.match(m, /switchyard_history_reads_total\{role="dev"\} 2\n/, 'the resume read, then the whole history');
  assert.match(m, /switchyard_broker_reconnects_total\{role="dev"\} 0\n/);
});
