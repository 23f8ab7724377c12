import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

// Keeps the scale scenario working at a tiny size (2 gateways, 200 connections); no timing is asserted.
test('loadtest: the quick scale run connects, idles with pings, broadcasts to everyone and prints the table', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/src/scale.ts', '--quick'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => {
    // SIGTERM first: the coordinator then stops the gateways, nats-server and its workers.
    const soft = setTimeout(() => child.kill('SIGTERM'), 60_000);
    const hard = setTimeout(() => child.kill('SIGKILL'), 80_000);
    child.once('exit', (c) => {
      clearTimeout(soft);
      clearTimeout(hard);
      resolve(c);
    });
  });
  assert.equal(code, 0, out);
  assert.match(out, /\| connect \| subscribed connections \(per gateway\) \| 200 \(100, 100\) \|/);
  assert.match(out, /\| connect \| failed connections \| 0 \|/);
  assert.match(out, /\| connect \| connect rate, connections subscribed per s \| \d+ \|/);
  assert.match(out, /\| connect \| gateway RSS KB per connection, after connecting: median \| [\d.—-]+ \(per gateway: /);
  // The quick run's idle timeout (8 s) makes the gateways ping within its 6 s window.
  assert.match(out, /\| idle \| window s \/ gateway ping interval s \/ pings answered per connection \| 6 \/ ~4 \/ [1-9][\d.]* \|/);
  assert.match(out, /\| idle \| gateways CPU s per minute, summed \| [\d.]+ \(per gateway: /);
  assert.match(out, /\| idle \| nats-server CPU s per minute \| [\d.]+ \|/);
  assert.match(out, /\| idle \| connections closed during the window \| 0 \|/);
  assert.match(out, /\| broadcast \| broadcasts × deliveries each \| 2 × 200 \|/);
  assert.match(out, /\| broadcast \| time from send to subscriber ms, p50 \/ p99 \/ max over subscribers \(median of 2\) \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \|/);
  assert.match(out, /\| broadcast \| gateways CPU s per million deliveries \| [\d.]+ \|/);
  assert.match(out, /\| broadcast \| missing \/ duplicated, each broadcast \| 0 \/ 0, 0 \/ 0 \|/);
  assert.match(out, /\| run \| connections closed before teardown \| 0 \|/);
  assert.match(out, /scale check: ok, 200 connections, 0 failed, 0 closed, 0 missing and 0 duplicated deliveries/);
});
