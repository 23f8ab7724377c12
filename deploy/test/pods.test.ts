import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { signClientToken } from '@switchyard/shared';
import { eventually, withDeadline } from '@switchyard/testkit';
import { helmBinary, render, type K8sObject } from './chart/helm.js';
import { get, secretData, type ServiceObject, type Workload } from './chart/objects.js';
import { kubeletStop, Prober, type ProbeSpec } from './chart/kubelet.js';
import { startRenderedNats, startRenderedRole, type RunningRole } from './chart/processes.js';
import { promtool, startPrometheus, type RuleGroup } from './prometheus/prometheus-server.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Issue 13, section 5, "The pods, run here": the chart's rendered workloads (the bundled NATS,
// the control API, two gateway pods) run as local processes with the environment, files and
// commands the kubelet would give them; their rendered probes run as the kubelet runs them;
// a backend publishes through the control API's Service and clients on both gateways receive;
// a real Prometheus scrapes the pods as the rendered ServiceMonitor says, with the rendered
// PrometheusRule's groups loaded; then one gateway gets the kubelet's shutdown (preStop,
// SIGTERM, the grace period) and drains.
const FULLNAME = 'sy-switchyard';
const DRAIN = { delaySeconds: 1, seconds: 3 };
const CHANNEL = 'pods:lobby';

type Message = { seq: number; n: number };

/** A native client that resumes on `fallback` after its gateway closes it; records what arrives. */
class Subscriber {
  readonly got: Message[] = [];
  readonly closes: { code: number; at: number }[] = [];
  epoch: string | undefined;
  private ws: WebSocket | undefined;
  private stopped = false;

  constructor(
    private readonly token: string,
    private readonly fallback: () => string,
  ) {}

  last(): number {
    return this.got.at(-1)?.seq ?? 0;
  }

  /** Connects to `url`, subscribes (resuming after the last seq), resolves once subscribed. */
  async open(url: string): Promise<void> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws?tenant=demo`);
    this.ws = ws;
    let subscribed: () => void = () => {};
    const done = new Promise<void>((r) => (subscribed = r));
    ws.on('message', (raw) => {
      const f = JSON.parse(String(raw));
      if (f.type === 'hello') {
        ws.send(JSON.stringify({ type: 'auth', id: 1, token: this.token }));
        const after = this.got.length > 0 ? { after: this.last(), ...(this.epoch ? { epoch: this.epoch } : {}) } : {};
        ws.send(JSON.stringify({ type: 'subscribe', id: 2, channel: CHANNEL, ...after }));
      } else if (f.type === 'reply' && f.id === 2) {
        assert.ok(f.result, `subscribe refused: ${JSON.stringify(f)}`);
        if (this.got.length > 0) assert.equal(f.result.recovered, true, 'the resume recovers');
        this.epoch = f.result.epoch;
        subscribed();
      } else if (f.type === 'message') {
        this.got.push({ seq: f.seq, n: f.data.n });
      }
    });
    ws.on('error', () => {
      // a refused or cut connection also ends in 'close', which reconnects
    });
    ws.on('close', (code) => {
      this.closes.push({ code, at: Date.now() });
      // A failed resume shows as missing messages in the final check.
      if (!this.stopped) this.open(this.fallback()).catch(() => {});
    });
    await withDeadline(done, 10_000, 'subscribed');
  }

  stop(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

test('pods: the rendered NATS, control API and two gateways run with their probes; traffic flows; the kubelet stops a gateway and it drains', { timeout: 120_000 }, async (t) => {
  await helmBinary();
  const probes = { periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 1 };
  const objs: K8sObject[] = await render({
    gateway: { replicas: 2, drain: DRAIN, readinessProbe: probes, livenessProbe: { periodSeconds: 1 } },
    controlApi: { readinessProbe: probes },
    metrics: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true } },
  });
  const natsUrl = await startRenderedNats(t, objs, FULLNAME);
  const apiName = `${FULLNAME}-control-api`;
  const gwName = `${FULLNAME}-gateway`;
  const api = await startRenderedRole(t, objs, apiName, { natsUrl, podName: `${apiName}-6d8f7c9b4d-q7w2e` });
  const gws: RunningRole[] = [];
  for (const suffix of ['a1b2c', 'd3e4f']) gws.push(await startRenderedRole(t, objs, gwName, { natsUrl, podName: `${gwName}-7c9f8d6b5d-${suffix}` }));

  // The kubelet's probes, from the rendered Deployments: port `http` is the container port,
  // mapped to where the local process listens.
  const probers: Prober[] = [];
  const probe = (role: RunningRole, deployment: string, kind: 'readinessProbe' | 'livenessProbe'): Prober => {
    const c = get<Workload>(objs, 'Deployment', deployment).spec.template.spec.containers[0]!;
    const spec = (c as unknown as Record<string, ProbeSpec>)[kind]!;
    assert.equal(spec.httpGet.port, 'http');
    assert.ok(c.ports?.some((p) => p.name === 'http'), 'the probe names a declared port');
    const p = new Prober(spec, role.url);
    probers.push(p);
    return p;
  };
  t.after(() => Promise.all(probers.map((p) => p.stop())));
  const readiness = [probe(api, apiName, 'readinessProbe'), ...gws.map((g) => probe(g, gwName, 'readinessProbe'))];
  const liveness = [probe(api, apiName, 'livenessProbe'), ...gws.map((g) => probe(g, gwName, 'livenessProbe'))];
  await eventually(() => readiness.every((p) => p.passing) && liveness.every((p) => p.passing), 'every pod ready and live by its rendered probes', { timeoutMs: 20_000, everyMs: 100 });

  // The Service of each role targets the port the probes use.
  for (const svc of [apiName, gwName]) {
    const s = get<ServiceObject>(objs, 'Service', svc);
    assert.equal(s.spec.ports[0]!.targetPort, 'http');
  }

  // Credentials from the rendered tenants Secret (the chart invented the demo tenant's).
  const tenantsSecret = secretData(get(objs, 'Secret', `${FULLNAME}-tenants`));
  const demo = JSON.parse(tenantsSecret['tenants.json']!).tenants.demo as { secret: string; backendSecret: string };
  const clients = [0, 1, 2, 3].map((i) => new Subscriber(signClientToken(demo.secret, { user: `u${i}` }), () => gws[1]!.url));
  t.after(() => clients.forEach((c) => c.stop()));
  for (const [i, c] of clients.entries()) await c.open(gws[i % 2]!.url);

  // A backend publishes through the control API, steadily, while one gateway drains.
  const acked: number[] = [];
  let publishing = true;
  const publisher = (async () => {
    for (let n = 1; publishing; n++) {
      const r = await fetch(`${api.url}/v1/publish`, {
        method: 'POST',
        headers: { authorization: `Bearer ${demo.backendSecret}` },
        body: JSON.stringify({ tenant: 'demo', channel: CHANNEL, data: { n } }),
      });
      if (r.status === 200) acked.push(n);
      await sleep(50);
    }
  })();
  await eventually(() => clients.every((c) => c.got.length >= 5), 'clients on both gateways receive', { timeoutMs: 10_000 });

  // A real Prometheus: the pods' port and path from the rendered ServiceMonitor, the rules
  // from the rendered PrometheusRule.
  const monitor = objs.find((o) => o.kind === 'ServiceMonitor') as unknown as { spec: { endpoints: { port: string; path?: string }[] } };
  assert.deepEqual(monitor.spec.endpoints.map((e) => [e.port, e.path ?? '/metrics']), [['http', '/metrics']]);
  const rule = objs.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: { groups: unknown[] } };
  const dir = mkdtempSync(join(tmpdir(), 'sy-pods-rules-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const rules = join(dir, 'rules.yml');
  writeFileSync(rules, JSON.stringify({ groups: rule.spec.groups })); // JSON is YAML
  const checked = await promtool(['check', 'rules', rules]);
  assert.equal(checked.code, 0, checked.out);
  const pods = [api, ...gws];
  const prom = await startPrometheus(t, { targets: pods.map((p) => p.url.replace('http://', '')), ruleFiles: [rules] });
  await eventually(async () => (await prom.query('up == 1')).length === pods.length, 'Prometheus scrapes every pod', { timeoutMs: 20_000, everyMs: 250 });
  const connections = await prom.query('sum(switchyard_connections{role="gateway"})');
  assert.equal(Number(connections[0]?.value[1]), clients.length, 'the scraped connection count is the clients\'');
  const groups = await prom.api<{ groups: RuleGroup[] }>('rules');
  const loaded = groups.groups.flatMap((g) => g.rules);
  assert.ok(loaded.length >= 10 && loaded.every((r) => r.health !== 'err' && r.lastError === undefined), 'the rendered rules load and evaluate');

  // The kubelet stops gateway 0: preStop (none by default: Switchyard drains by itself), SIGTERM, grace period.
  const pod = get<Workload>(objs, 'Deployment', gwName).spec.template.spec as unknown as { terminationGracePeriodSeconds: number; containers: { lifecycle?: { preStop?: { sleep?: { seconds: number } } } }[] };
  const stopping = kubeletStop(gws[0]!.child, { terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds, ...(pod.containers[0]!.lifecycle?.preStop ? { preStop: pod.containers[0]!.lifecycle.preStop } : {}) });
  const stopped = await stopping;
  assert.equal(stopped.code, 0, 'the drained gateway exits 0');
  assert.equal(stopped.killed, false, 'within the grace period');
  assert.ok(pod.terminationGracePeriodSeconds >= DRAIN.delaySeconds + DRAIN.seconds);

  // Its readiness probe failed within a period of SIGTERM; its clients were closed with 1012
  // after the delay, and resumed on the other gateway.
  const notReady = readiness[1]!.changes.find((c) => !c.passing && c.at >= stopped.sigtermAt);
  assert.ok(notReady !== undefined && notReady.at - stopped.sigtermAt < 2500, `not ready soon after SIGTERM (${notReady ? notReady.at - stopped.sigtermAt : 'never'} ms)`);
  const drained = clients.filter((_, i) => i % 2 === 0);
  for (const c of drained) {
    const close = c.closes[0];
    assert.equal(close?.code, 1012);
    assert.ok(close!.at - stopped.sigtermAt >= DRAIN.delaySeconds * 1000 - 100, 'not before the drain delay');
  }
  await sleep(1000);
  publishing = false;
  await publisher;
  const last = acked.at(-1)!;
  await eventually(() => clients.every((c) => (c.got.at(-1)?.n ?? 0) >= last), 'every client has every acknowledged message', { timeoutMs: 10_000 });
  for (const c of clients) {
    const ns = c.got.map((m) => m.n);
    const seqs = c.got.map((m) => m.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
    assert.equal(new Set(ns).size, ns.length, 'no duplicates');
    const first = ns[0]!;
    assert.deepEqual(acked.filter((n) => n >= first && !ns.includes(n)), [], 'no acknowledged message missing');
  }
  assert.ok(liveness.every((p) => p.changes.every((c) => c.passing || c.at >= stopped.sigtermAt)), 'no liveness failure before the stop');
  clients.forEach((c) => c.stop());
});
