import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { K8sObject } from './helm.js';

/** A model class of kubernetes-models: validate() checks the object against the API's JSON schema. */
interface Model {
  validate(): void;
}

/**
 * Every kind the chart may render, by apiVersion/kind, with the model that validates it: the
 * Kubernetes OpenAPI schemas (kubernetes-models) and, for the Prometheus Operator's CRDs,
 * their openAPIV3Schema (@kubernetes-models/prometheus-operator). A kind missing here fails
 * the test, so no rendered object escapes validation.
 */
const MODELS: Record<string, new (data: never) => Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * Validates one rendered object; throws naming the object and every problem. Besides the API
 * schema, checks what the API server checks by other means and the schemas do not carry:
 * object names (DNS-1123; Services DNS-1035 labels), label values, and the 63-character limit
 * on names that become labels or hostnames.
 */
export function validateObject(obj: K8sObject): void {
  const id = `${obj.kind}/${obj.metadata?.name}`;
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (Model === undefined) throw new Error(`${id}: no schema known for ${obj.apiVersion} ${obj.kind}; add its model to deploy/test/chart/validate.ts`);
  try {
    new Model(obj as never).validate();
  } catch (err) {
    throw new Error(`${id} (${obj.apiVersion}) fails the Kubernetes schema: ${(err as Error).message}`);
  }
  const name = obj.metadata.name;
  const problems: string[] = [];
  if (!(name.length <= 253 && DNS_SUBDOMAIN.test(name))) problems.push(`name "${name}" is not a DNS-1123 subdomain`);
  if ((obj.kind === 'Service' || obj.kind === 'StatefulSet') && !(name.length <= 63 && DNS_LABEL.test(name))) problems.push(`name "${name}" must be a DNS-1035 label (at most 63)`);
  if (obj.kind === 'StatefulSet' && name.length > 52) problems.push(`StatefulSet name "${name}" is longer than 52 (its pods' controller-revision-hash label would pass 63)`);
  const labelSets = [obj.metadata.labels, (obj as { spec?: { template?: { metadata?: { labels?: Record<string, string> } } } }).spec?.template?.metadata?.labels];
  for (const labels of labelSets) {
    for (const [k, v] of Object.entries(labels ?? {})) {
      if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`label ${k}="${String(v)}" is not a valid label value`);
    }
  }
  if (problems.length > 0) throw new Error(`${id}: ${problems.join('; ')}`);
}
