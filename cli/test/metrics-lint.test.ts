import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startCluster } from './cluster-helpers.js';
import { http, startDev } from './helpers.js';
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
