import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { BucketHistogram } from '../src/bucket-histogram.js';
import { aggregateMetrics } from '../src/metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES = [0, 0.0005, 0.001, 0.002, 0.05, 0.1, 0.7, 1, 3, 1e9];

function registries(): { ours: Registry; theirs: Registry; h: BucketHistogram; p: Histogram } {
  const ours = new Registry();
  const theirs = new Registry();
  for (const r of [ours, theirs]) r.setDefaultLabels({ role: 'gateway' });
  const h = new BucketHistogram('x_seconds', 'How long.', BUCKETS, ours);
  const p = new Histogram({ name: 'x_seconds', help: 'How long.', buckets: BUCKETS, registers: [theirs] });
  return { ours, theirs, h, p };
}

test("BucketHistogram: the same exposition as prom-client's Histogram for the same observations", async () => {
  const { ours, theirs, h, p } = registries();
  assert.equal(await ours.metrics(), await theirs.metrics(), 'empty');
  for (const v of VALUES) {
    h.observe(v);
    p.observe(v);
  }
  const text = await ours.metrics();
  assert.equal(text, await theirs.metrics());
  assert.match(text, /x_seconds_bucket\{le="0.01",role="gateway"\} 4\n/);
  assert.match(text, /x_seconds_count\{role="gateway"\} 10\n/);
});

test('BucketHistogram: summed across the registries of several threads', async () => {
  const a = registries();
  const b = registries();
  for (const v of VALUES) {
    a.h.observe(v);
    a.p.observe(v);
    b.h.observe(v * 2);
    b.p.observe(v * 2);
  }
  const ours = await aggregateMetrics([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]);
  const theirs = await aggregateMetrics([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]);
  assert.equal(ours, theirs);
  assert.match(ours, /x_seconds_count\{role="gateway"\} 20\n/);
});
