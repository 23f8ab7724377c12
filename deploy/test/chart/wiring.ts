import assert from 'node:assert/strict';
import { OPTIONS } from '../../../cli/src/options.js';
import type { K8sObject } from './helm.js';
import { all, containerEnv, get, secretData, selects, type DataObject, type ServiceObject, type Workload } from './objects.js';

/** Every SWITCHYARD_* variable the CLI reads: one per flag (docs/config.md). */
export const KNOWN_VARIABLES = new Set(Object.keys(OPTIONS).map((flag) => `SWITCHYARD_${flag.toUpperCase().replace(/-/g, '_')}`));

export const TENANTS_PATH = '/etc/switchyard/tenants/tenants.json';

/** The two Switchyard roles as the chart names them. */
export function roles(objs: readonly K8sObject[], fullname: string): { role: 'gateway' | 'control-api'; deployment: Workload }[] {
  return (['gateway', 'control-api'] as const).map((role) => ({ role, deployment: get<Workload>(objs, 'Deployment', `${fullname}-${role}`) }));
}

/** The strings a Secret holds that must never appear anywhere but in Secrets: whole values and, for JSON, every string in it. */
function secretStrings(objs: readonly K8sObject[]): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  for (const s of all(objs, 'Secret')) {
    for (const [key, value] of Object.entries(secretData(s))) {
      if (key === 'user') continue; // a user name is not a secret (and "switchyard" is in many names)
      out.add(value);
      try {
        const parsed = JSON.parse(value) as unknown;
        // The secrets inside a tenants file; ids and namespace names are not secret.
        const t = parsed as { adminToken?: string; tenants?: Record<string, { secret?: string; postSecret?: string; backendSecret?: string }> };
        walk([t.adminToken, ...Object.values(t.tenants ?? {}).flatMap((x) => [x.secret, x.postSecret, x.backendSecret])]);
      } catch {
        // not JSON: the value itself was added
      }
    }
  }
  return [...out].filter((s) => typeof s === 'string' && s.length >= 8);
}

/**
 * What must hold for every value set: the wiring the product depends on. `fullname` is the
 * objects' name prefix; `natsReplicas` the bundled NATS size (undefined for an external one).
 */
export function checkWiring(objs: readonly K8sObject[], o: { fullname: string; natsReplicas?: number }): void {
  // No secret in any ConfigMap, and no credential-looking variable in a ConfigMap.
  const secrets = secretStrings(objs);
  for (const cm of all<DataObject>(objs, 'ConfigMap')) {
    for (const [key, value] of Object.entries(cm.data ?? {})) {
      assert.doesNotMatch(key, /PASS|TOKEN|SECRET|USER/i, `ConfigMap ${cm.metadata.name} carries ${key}, which belongs in a Secret`);
      for (const s of secrets) assert.ok(!value.includes(s), `ConfigMap ${cm.metadata.name} key ${key} contains a value of a Secret`);
    }
  }
  // Nor in the pod specs' plain env values.
  for (const w of [...all<Workload>(objs, 'Deployment'), ...all<Workload>(objs, 'StatefulSet')]) {
    for (const c of w.spec.template.spec.containers) {
      for (const e of c.env ?? []) {
        if (e.value !== undefined) for (const s of secrets) assert.ok(!e.value.includes(s), `${w.metadata.name} env ${e.name} holds a secret in plain text`);
      }
    }
  }

  for (const { role, deployment } of roles(objs, o.fullname)) {
    const name = deployment.metadata.name;
    const pod = deployment.spec.template.spec;
    assert.ok(selects(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels), `${name}: selector does not select its pods`);
    assert.equal(pod.enableServiceLinks, false, `${name}: enableServiceLinks must be false (SWITCHYARD_PORT=tcp://… otherwise)`);
    assert.equal(pod.automountServiceAccountToken, false, `${name}: no API token`);
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0]!;
    // The image's ENTRYPOINT is the CLI: the role is the only argument, no command.
    assert.equal(c.command, undefined, `${name}: must not override the image's ENTRYPOINT`);
    assert.deepEqual(c.args, [role], `${name}: args`);
    assert.deepEqual(c.ports?.map((p) => p.name), ['http'], `${name}: one port, named http`);
    assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: 'http' }, `${name}: liveness on /healthz`);
    assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: 'http' }, `${name}: readiness on /readyz`);
    // Security: non-root, read-only root filesystem, nothing extra.
    assert.equal(pod.securityContext?.runAsNonRoot, true, `${name}: pod runAsNonRoot`);
    assert.equal(pod.securityContext?.runAsUser, 10001, `${name}: the image's uid`);
    assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name}: read-only root FS`);
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name}: no privilege escalation`);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${name}: drop ALL capabilities`);
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    assert.ok(tmp && pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, `${name}: /tmp is an emptyDir`);
    // Rolling update never lowers capacity.
    assert.equal(deployment.spec.strategy?.type, 'RollingUpdate');
    assert.equal(deployment.spec.strategy?.rollingUpdate?.maxUnavailable, 0, `${name}: maxUnavailable 0`);
    // Checksums roll the pods on a change.
    for (const a of ['checksum/config', 'checksum/tenants', 'checksum/nats-auth']) {
      assert.match(deployment.spec.template.metadata.annotations?.[a] ?? '', /^[0-9a-f]{64}$/, `${name}: ${a}`);
    }

    // Environment: every variable is a flag the CLI knows, the drain and grace period agree.
    const names = [...(c.env ?? []).map((e) => e.name)];
    for (const from of c.envFrom ?? []) {
      if (from.configMapRef && objs.some((x) => x.kind === 'ConfigMap' && x.metadata.name === from.configMapRef!.name)) {
        names.push(...Object.keys(get<DataObject>(objs, 'ConfigMap', from.configMapRef.name).data ?? {}));
      }
    }
    for (const n of names.filter((x) => x.startsWith('SWITCHYARD_'))) assert.ok(KNOWN_VARIABLES.has(n), `${name}: ${n} is not a Switchyard flag (docs/config.md)`);
    const nodeId = c.env?.find((e) => e.name === 'SWITCHYARD_NODE_ID');
    assert.equal(nodeId?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', `${name}: node id from the pod name`);
    for (const secretVar of ['SWITCHYARD_NATS_USER', 'SWITCHYARD_NATS_PASS', 'SWITCHYARD_NATS_TOKEN']) {
      const e = c.env?.find((x) => x.name === secretVar);
      if (e !== undefined) assert.ok(e.valueFrom?.secretKeyRef, `${name}: ${secretVar} must come from a Secret`);
    }
    const value = (n: string): string | undefined => c.env?.find((e) => e.name === n)?.value;
    const delay = Number(value('SWITCHYARD_DRAIN_DELAY'));
    const spread = Number(value('SWITCHYARD_DRAIN_SECONDS'));
    const preStop = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    assert.ok(Number.isInteger(delay) && Number.isInteger(spread), `${name}: drain variables`);
    assert.ok((pod.terminationGracePeriodSeconds ?? 30) >= preStop + delay + spread + 5, `${name}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} < preStop ${preStop} + drain ${delay} + ${spread} + a margin`);
    if (role === 'gateway') assert.ok(value('SWITCHYARD_THREADS'), `${name}: SWITCHYARD_THREADS`);
    else assert.equal(value('SWITCHYARD_THREADS'), undefined, `${name}: the control API runs one thread`);

    // The tenants file: a Secret mounted read-only at the path SWITCHYARD_TENANTS names.
    const cfg = get<DataObject>(objs, 'ConfigMap', `${o.fullname}-config`).data ?? {};
    assert.equal(cfg.SWITCHYARD_TENANTS, TENANTS_PATH);
    const mount = c.volumeMounts?.find((m) => m.mountPath === '/etc/switchyard/tenants');
    assert.ok(mount?.readOnly, `${name}: tenants mounted read-only`);
    const vol = pod.volumes?.find((v) => v.name === mount!.name);
    assert.ok(vol?.secret, `${name}: tenants come from a Secret`);
    assert.deepEqual(vol!.secret!.items?.map((i) => i.path), ['tenants.json']);

    // The Service reaches these pods on the named port.
    const svc = get<ServiceObject>(objs, 'Service', name);
    assert.ok(selects(svc.spec.selector, deployment.spec.template.metadata.labels), `Service ${name} selects the pods`);
    assert.deepEqual(svc.spec.ports.map((p) => p.targetPort), ['http']);
    assert.ok(!objs.some((x) => x.kind === 'Service' && x !== svc && x.metadata.name !== `${name}-headless` && selects((x as ServiceObject).spec.selector, deployment.spec.template.metadata.labels)), `${name}: only its own Services select it`);
  }

  // NATS: bundled, or an external URL.
  const cfg = get<DataObject>(objs, 'ConfigMap', `${o.fullname}-config`).data ?? {};
  assert.ok(cfg.SWITCHYARD_NATS, 'SWITCHYARD_NATS is set');
  assert.doesNotMatch(cfg.SWITCHYARD_NATS!, /:\/\/[^/,]*@/, 'no credentials in SWITCHYARD_NATS');
  const sts = objs.find((x) => x.kind === 'StatefulSet') as Workload | undefined;
  if (o.natsReplicas === undefined) {
    assert.equal(sts, undefined, 'no bundled NATS');
  } else {
    const natsName = `${o.fullname}-nats`;
    assert.equal(sts?.metadata.name, natsName);
    assert.equal(sts!.spec.replicas, o.natsReplicas);
    assert.equal(cfg.SWITCHYARD_NATS, `nats://${natsName}:4222`);
    assert.equal(cfg.SWITCHYARD_NATS_REPLICAS, String(o.natsReplicas), 'SWITCHYARD_NATS_REPLICAS equals the NATS replicas');
    const client = get<ServiceObject>(objs, 'Service', natsName);
    assert.ok(selects(client.spec.selector, sts!.spec.template.metadata.labels));
    assert.deepEqual(client.spec.ports.map((p) => [p.port, p.targetPort]), [[4222, 'client']]);
    const headless = get<ServiceObject>(objs, 'Service', `${natsName}-headless`);
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(sts!.spec.serviceName, headless.metadata.name);
    const conf = get<DataObject>(objs, 'ConfigMap', `${natsName}-config`).data?.['nats.conf'] ?? '';
    assert.match(conf, /jetstream \{[^}]*store_dir: \/data/);
    const routes = [...conf.matchAll(/nats:\/\/(\S+):6222/g)].map((m) => m[1]);
    if (o.natsReplicas === 1) assert.deepEqual(routes, [], 'a single server has no routes');
    else assert.deepEqual(routes, Array.from({ length: o.natsReplicas }, (_, i) => `${natsName}-${i}.${natsName}-headless.${sts!.metadata.namespace}.svc`));
    assert.ok(headless.spec.ports.some((p) => p.port === 6222) === o.natsReplicas > 1, 'route port on the headless Service');
    const nats = sts!.spec.template.spec.containers[0]!;
    assert.equal(sts!.spec.template.spec.enableServiceLinks, false);
    assert.equal(nats.securityContext?.readOnlyRootFilesystem, true);
    assert.deepEqual(nats.securityContext?.capabilities?.drop, ['ALL']);
    assert.equal(sts!.spec.template.spec.securityContext?.runAsNonRoot, true);
    assert.match(nats.image, /^nats:2\.10\.\d+(-alpine)?$/, 'nats-server 2.10.x, pinned');
  }
}

/** The pod-template annotations of both Deployments. */
export function checksums(objs: readonly K8sObject[], fullname: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { role, deployment } of roles(objs, fullname)) {
    for (const [k, v] of Object.entries(deployment.spec.template.metadata.annotations ?? {})) if (k.startsWith('checksum/')) out[`${role} ${k}`] = v;
  }
  return out;
}

export { containerEnv };
