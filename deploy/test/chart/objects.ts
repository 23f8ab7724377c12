import type { K8sObject } from './helm.js';

/* Typed views of the parts of rendered objects the tests read (the schemas were checked already). */

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
export interface Probe {
  httpGet?: { path: string; port: string | number };
  [k: string]: unknown;
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  configMap?: { name: string };
  emptyDir?: Record<string, unknown>;
}
export interface PodSpec {
  containers: Container[];
  enableServiceLinks?: boolean;
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  securityContext?: Record<string, unknown>;
  terminationGracePeriodSeconds?: number;
  volumes?: Volume[];
  topologySpreadConstraints?: { labelSelector?: { matchLabels?: Record<string, string> } }[];
  imagePullSecrets?: { name: string }[];
}
export interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    strategy?: { type: string; rollingUpdate?: { maxSurge: number | string; maxUnavailable: number | string } };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }[];
    serviceName?: string;
  };
}
export interface ServiceObject extends K8sObject {
  spec: { type?: string; clusterIP?: string; selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] };
}
export interface DataObject extends K8sObject {
  data?: Record<string, string>;
}

/** The one object of this kind whose name is `name`; throws listing what there is. */
export function get<T extends K8sObject = K8sObject>(objs: readonly K8sObject[], kind: string, name: string): T {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind}/${name}; rendered: ${objs.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as T;
}

export function all<T extends K8sObject = K8sObject>(objs: readonly K8sObject[], kind: string): T[] {
  return objs.filter((o) => o.kind === kind) as T[];
}

/** The data of a Secret, decoded. */
export function secretData(secret: K8sObject): Record<string, string> {
  const data = (secret as DataObject).data ?? {};
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/**
 * The environment a container gets, as the kubelet would build it from the rendered objects:
 * envFrom sources first, then env (which wins); secretKeyRef / configMapKeyRef read from the
 * rendered Secrets and ConfigMaps (or from `external`, for Secrets the chart does not own),
 * fieldRef from `pod`.
 */
export function containerEnv(
  objs: readonly K8sObject[],
  c: Container,
  pod: { name: string },
  external: Record<string, Record<string, string>> = {},
): Record<string, string> {
  const secret = (name: string): Record<string, string> => {
    const ext = external[name];
    if (ext !== undefined) return ext;
    return secretData(get(objs, 'Secret', name));
  };
  const configMap = (name: string): Record<string, string> => (get<DataObject>(objs, 'ConfigMap', name).data ?? {});
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, configMap(from.configMapRef.name));
    if (from.secretRef) Object.assign(env, secret(from.secretRef.name));
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) {
      if (e.valueFrom.fieldRef.fieldPath !== 'metadata.name') throw new Error(`${e.name}: fieldRef ${e.valueFrom.fieldRef.fieldPath} is not simulated`);
      env[e.name] = pod.name;
    } else if (e.valueFrom?.secretKeyRef) {
      const v = secret(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key];
      if (v === undefined) throw new Error(`${e.name}: Secret ${e.valueFrom.secretKeyRef.name} has no key ${e.valueFrom.secretKeyRef.key}`);
      env[e.name] = v;
    } else if (e.valueFrom?.configMapKeyRef) {
      const v = configMap(e.valueFrom.configMapKeyRef.name)[e.valueFrom.configMapKeyRef.key];
      if (v === undefined) throw new Error(`${e.name}: ConfigMap ${e.valueFrom.configMapKeyRef.name} has no key ${e.valueFrom.configMapKeyRef.key}`);
      env[e.name] = v;
    } else {
      env[e.name] = '';
    }
  }
  return env;
}

/** `$(VAR)` in a command or args entry, replaced as the kubelet does (an unknown name stays as written). */
export function expandArgs(args: readonly string[], env: Record<string, string>): string[] {
  return args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m));
}

/** Whether every label of `selector` is on `labels`. */
export function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
