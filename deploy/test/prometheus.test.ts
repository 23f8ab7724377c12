import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, withDeadline } from '@switchyard/testkit';
import { startCluster } from './prometheus/cluster.js';
import { interpolate, labelValuesQuery, loadDashboard, panelQueries, panelsOf, type PanelQuery } from './prometheus/dashboard.js';
import { promtool, startPrometheus, type ActiveAlert, type RuleGroup } from './prometheus/prometheus-server.js';
import { startTraffic } from './prometheus/traffic.js';

// Issue 13, section 4: the Grafana dashboard and the Prometheus alert rules, checked
// against a real Prometheus (Debian's `prometheus`) scraping a real cluster under traffic.
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const FILES = join(ROOT, 'deploy/helm/switchyard/files');
const DASHBOARD = join(FILES, 'switchyard-dashboard.json');
const GRAFANA_LINK = join(ROOT, 'deploy/grafana/switchyard.json');
const RULES = join(FILES, 'switchyard-rules.yaml');
const RULES_TESTS = join(ROOT, 'deploy/test/prometheus/rules-tests.yaml');

test('dashboard and rules, statically: one dashboard file behind the symlink, a well-formed dashboard, promtool check rules and the rules\' unit tests pass', async () => {
  assert.ok(lstatSync(GRAFANA_LINK).isSymbolicLink(), 'deploy/grafana/switchyard.json is a symlink');
  assert.equal(readlinkSync(GRAFANA_LINK), '../helm/switchyard/files/switchyard-dashboard.json', 'a relative link');
  assert.equal(realpathSync(GRAFANA_LINK), realpathSync(DASHBOARD));

  const d = loadDashboard(GRAFANA_LINK);
  assert.equal(d.uid, 'switchyard');
  assert.ok(d.schemaVersion >= 36 && d.schemaVersion <= 41, `schemaVersion ${d.schemaVersion}`);
  const vars = d.templating.list;
  assert.deepEqual(
    vars.map((v) => [v.name, v.type]),
    [
      ['datasource', 'datasource'],
      ['role', 'query'],
      ['instance', 'query'],
    ],
  );
  assert.equal((vars[0] as { query?: unknown }).query, 'prometheus');
  for (const v of vars.slice(1)) {
    assert.ok(labelValuesQuery(v), `${v.name} is a label_values query`);
    assert.equal(v.includeAll, true, `${v.name} offers All`);
    assert.equal(v.allValue, '.*', `${v.name}: All is .*`);
  }

  const panels = panelsOf(d);
  const ids = new Set<number>();
  const taken: { x: number; y: number; w: number; h: number; title: string }[] = [];
  for (const p of [...d.panels]) {
    assert.ok(!ids.has(p.id), `panel id ${p.id} is unique`);
    ids.add(p.id);
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24, `${p.title}: inside the 24 columns`);
    for (const o of taken) {
      const overlap = g.x < o.x + o.w && o.x < g.x + g.w && g.y < o.y + o.h && o.y < g.y + g.h;
      assert.ok(!overlap, `${p.title} does not overlap ${o.title}`);
    }
    taken.push({ ...g, title: p.title });
  }
  for (const p of panels) {
    assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: datasource is the variable`);
    assert.ok((p.targets ?? []).length > 0, `${p.title} has queries`);
    const refIds = new Set<string>();
    for (const t of p.targets ?? []) {
      assert.equal(t.datasource?.uid, '${datasource}', `${p.title} ${t.refId}: datasource is the variable`);
      assert.ok(!refIds.has(t.refId), `${p.title}: refId ${t.refId} is unique`);
      refIds.add(t.refId);
      assert.match(t.expr, /switchyard_/, `${p.title} ${t.refId} reads a Switchyard metric`);
      // Every selector of a Switchyard metric honours both variables, so the dashboard
      // narrows to the chosen role and instances everywhere.
      for (const sel of t.expr.matchAll(/switchyard_\w+(\{[^}]*\})?/g)) {
        assert.match(sel[1] ?? '', /role=~"\$role".*instance=~"\$instance"/, `${p.title} ${t.refId}: ${sel[0]} selects $role and $instance`);
      }
    }
  }

  const check = await promtool(['check', 'rules', RULES]);
  assert.equal(check.code, 0, `promtool check rules:\n${check.out}`);
  // rule_files in the unit tests are relative to the tests file.
  const unit = await promtool(['test', 'rules', RULES_TESTS], dirname(RULES_TESTS));
  assert.equal(unit.code, 0, `promtool test rules:\n${unit.out}`);
});

test(
  'a real Prometheus scraping a cluster (nats-server, control API, two gateways) under traffic: every dashboard query returns data, the rules load and evaluate, NATS loss raises the NATS alerts',
  { timeout: 120_000 },
  async (t) => {
    const t0 = Date.now();
    const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const cl = await startCluster(t);
    const prom = await startPrometheus(t, { targets: cl.procs.map((p) => p.target), ruleFiles: [RULES] });
    const traffic = await startTraffic(cl);
    t.after(() => traffic.stop());
    const startedAt = Date.now();

    // Prometheus takes new targets in 5 s batches: wait for samples of all three.
    await eventually(async () => (await prom.query('count(up{job="switchyard"} == 1)'))[0]?.value[1] === '3', 'Prometheus scrapes the three processes', {
      timeoutMs: 20_000,
      everyMs: 200,
    });
    const from = Date.now() - 2000;
    const scrapingAt = Date.now();

    // The events the steady traffic does not make: resumes, a slow consumer, NATS going away.
    assert.deepEqual(await traffic.resumes(), [true, false], 'a resume in the same epoch recovers, one from another epoch does not');
    const slow = await withDeadline(traffic.slowConsumer(), 20_000, 'slow consumer closed');
    assert.equal(slow.code, 4100, 'the slow consumer is closed with 4100');

    const outageAt = Date.now();
    await cl.nats.kill();
    const seen = await eventually(
      async () => {
        const { alerts } = await prom.api<{ alerts: ActiveAlert[] }>('alerts');
        const names = new Set(alerts.map((a) => a.labels.alertname));
        return names.has('SwitchyardNatsUnreachable') && names.has('SwitchyardGatewayNotReady') && alerts;
      },
      'with nats-server killed, SwitchyardNatsUnreachable and SwitchyardGatewayNotReady go pending',
      { timeoutMs: 15_000, everyMs: 200 },
    );
    const alertsAtOutage = [...new Set(seen.map((a) => `${a.labels.alertname} ${a.state}`))].sort();
    await cl.nats.restart();
    await cl.allReady();
    const recoveredAt = Date.now();
    await eventually(
      async () => Number((await prom.query('sum(switchyard_broker_reconnects_total)'))[0]?.value[1]) >= 3,
      'Prometheus sees every process reconnect to NATS',
      { timeoutMs: 10_000, everyMs: 200 },
    );

    // Every panel query, interpolated as Grafana does, over the run: at least one series,
    // with a value that is a number and not 0 at some step (an all-NaN or all-0 panel
    // shows nothing happening, which is not what this traffic does).
    const d = loadDashboard(DASHBOARD);
    const queries = panelQueries(d);
    const checked = await eventually(
      async () => {
        const end = Date.now();
        const results = await Promise.all(queries.map(async (q) => ({ q, series: await prom.queryRange(q.expr, from, end, 1) })));
        const problems: string[] = [];
        for (const { q, series } of results) {
          const values = series.flatMap((s) => s.values.map(([, v]) => Number(v)));
          if (series.length === 0) problems.push(`${describe(q)}: no series`);
          else if (!values.some((v) => Number.isFinite(v) && v !== 0)) problems.push(`${describe(q)}: ${series.length} series, no non-zero number`);
        }
        if (problems.length > 0) throw new Error(`${problems.length} of ${queries.length} panel queries without data:\n  ${problems.join('\n  ')}`);
        return results;
      },
      'every panel query of the dashboard returns data',
      { timeoutMs: 20_000, everyMs: 500 },
    );

    // The variables' own queries list what is there.
    const values: Record<string, string[]> = {};
    for (const v of d.templating.list) {
      const lv = labelValuesQuery(v);
      if (lv === undefined) continue;
      const series = await prom.api<Record<string, string>[]>('series', { 'match[]': interpolate(lv.selector, d.templating.list), start: String(from / 1000) });
      values[v.name] = [...new Set(series.map((s) => s[lv.label]!))].sort();
    }
    assert.deepEqual(values, { role: ['control-api', 'gateway'], instance: cl.procs.map((p) => p.target).sort() });

    // The rules: loaded from the file, evaluated without error, and every metric they read
    // exists in the real scrape (a misspelt name would make an alert that never fires).
    const { groups } = await prom.api<{ groups: RuleGroup[] }>('rules');
    const rules = groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 6, `${rules.length} rules loaded`);
    assert.ok(groups.every((g) => realpathSync(g.file) === realpathSync(RULES)));
    for (const r of rules) {
      assert.equal(r.type, 'alerting', `${r.name} is an alert`);
      assert.match(r.labels?.severity ?? '', /^(critical|warning)$/, `${r.name} has a severity`);
      assert.ok((r.annotations?.summary ?? '') !== '' && (r.annotations?.description ?? '') !== '', `${r.name} has a summary and a description`);
      assert.ok((r.duration ?? 0) > 0, `${r.name} has a for:`);
    }
    await eventually(
      async () => {
        const now = (await prom.api<{ groups: RuleGroup[] }>('rules')).groups.flatMap((g) => g.rules);
        const bad = now.filter((r) => r.health !== 'ok' || (r.lastError ?? '') !== '').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
        if (bad.length > 0) throw new Error(bad.join('; '));
        return true;
      },
      'every rule evaluated without error',
      { timeoutMs: 5000, everyMs: 200 },
    );
    const names = [...new Set(rules.flatMap((r) => [...r.query.matchAll(/\b(switchyard_\w+|up)\b(?!\s*\()/g)].map((m) => m[1]!)))].sort();
    const missing: string[] = [];
    for (const name of names) {
      const series = await prom.api<unknown[]>('series', { 'match[]': name, start: String(from / 1000) });
      if (series.length === 0) missing.push(name);
    }
    assert.deepEqual(missing, [], 'every metric the rules read is scraped');

    await traffic.stop();
    const c = traffic.counts;
    t.diagnostic(`processes up in ${secs(startedAt - t0)}, first scrapes of all three ${secs(scrapingAt - startedAt)} later; whole test ${secs(Date.now() - t0)}`);
    t.diagnostic(`slow consumer closed with ${slow.code} after ${slow.rounds} round(s) of 100 × 60 KB; NATS away ${secs(recoveredAt - outageAt)}, alerts then: ${alertsAtOutage.join(', ')}`);
    t.diagnostic(`traffic: ${c.restPublishes} REST publishes (${c.restRefused} refused), ${c.wsPublishes} WebSocket publishes (${c.wsRefused} refused), ${traffic.delivered()} deliveries to the steady subscribers, ${c.hookConnections} WSaaS connections with ${c.hookFrames} frames (backend saw ${JSON.stringify(cl.webhookCalls)}), ${c.badRequests} bad requests`);
    t.diagnostic(`${panelsOf(d).length} panels, ${queries.length} queries, each with data: ${checked.map(({ q, series }) => `${q.panel}/${q.refId} ${series.length}`).join('; ')}`);
    t.diagnostic(`${rules.length} rules in ${groups.length} groups loaded and evaluated; ${names.length} metrics they read all scraped: ${names.join(', ')}`);
  },
);

function describe(q: PanelQuery): string {
  return `"${q.panel}" ${q.refId} (${q.expr})`;
}
