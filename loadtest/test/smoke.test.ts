import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

// Keeps the load generator working; benchmarks are not tests, so no timing is asserted.
test('loadtest: the quick run drives both servers, checks every delivery and prints the table', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/src/bench.ts', '--quick'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 0, out);
  assert.match(out, /\| fanout \| server CPU s per million deliveries \| [\d.]+ \| [\d.]+ \| [\d.]+× \|/);
  assert.match(out, /\| channels \| missing \/ duplicated \| 0 \/ 0 \| 0 \/ 0 \| \|/);
  assert.match(out, /\| idle \| RSS KB per subscribed connection \|/);
  assert.match(out, /\| churn \| failed cycles \| 0 \| 0 \| \|/);
  assert.match(out, /\| cluster-fanout \| whole system \(gateway \+ control API \+ nats-server\) CPU s per million deliveries \|/);
  assert.match(out, /\| cluster-fanout \| missing \/ duplicated \| 0 \/ 0 \| 0 \/ 0 \| \|/);
  assert.match(out, /\| resume \| missing \/ duplicated \| — \| 0 \/ 0 \| \|/);
  assert.match(out, /\| latency \| latency p99 ms \| [\d.]+ \| [\d.]+ \| [\d.]+× \|/);
  assert.match(out, /\| cluster-latency \| missing \/ duplicated \| 0 \/ 0 \| 0 \/ 0 \| \|/);
  // The threads comparison has its own table: one gateway thread against two.
  assert.match(out, /\| scenario \| metric \| gateway, 1 thread \| gateway, 2 threads \| ratio \|/);
  assert.match(out, /\| cluster-threads \| deliveries\/s \| \d+ \| \d+ \| [\d.]+× \|/);
  assert.match(out, /\| cluster-threads \| missing \/ duplicated \| 0 \/ 0 \| 0 \/ 0 \| \|/);
  // Closed loop: the publisher only goes on as the subscribers' progress is relayed to it.
  assert.match(out, /\| saturated-fanout \| deliveries\/s \| \d+ \| \d+ \| [\d.]+× \|/);
  assert.match(out, /\| saturated-channels \| missing \/ duplicated \| 0 \/ 0 \| 0 \/ 0 \| \|/);
  assert.match(out, /\| cluster-saturated \| missing \/ duplicated \| 0 \/ 0 \| 0 \/ 0 \| \|/);
  // The cluster gateway's memory per connection beside one node's, in the same shape. With
  // the quick run's 50 connections RSS moves by more than they cost (a GC can make it shrink,
  // and the figure negative): the row's shape is what is checked here.
  assert.match(out, /\| cluster-idle \(vs idle\) \| -?[\d.]+ \| -?[\d.]+ \| -?[\d.]+× \|\s+\|/);
  assert.match(out, /loss check: ok, 0 missing and 0 duplicated deliveries/);
});
