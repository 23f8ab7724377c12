import type { Values } from './helm.js';

/** A tenants file, as chart values (tenants.config). */
export const TENANTS = {
  adminToken: 'admin-token-for-tests',
  tenants: {
    demo: {
      secret: 'demo-client-secret',
      postSecret: 'demo-post-secret',
      backendSecret: 'demo-backend-secret',
      namespaces: {
        chat: { history: 100, historyTtlSeconds: 3600, presence: true, clientPublish: true },
        news: { history: 1000000, historyTtlSeconds: 86400 },
        live: { history: 0 },
      },
    },
  },
};

/** The value sets every test of the chart renders, lints and validates. */
export const VALUE_SETS: Record<string, Values> = {
  /** Nothing given: bundled single NATS with generated credentials, a generated demo tenant. */
  defaults: {},

  /** An external NATS cluster with credentials from values and a CA for TLS. */
  'external NATS': {
    tenants: { config: TENANTS },
    nats: {
      deploy: false,
      url: 'tls://nats-0.nats.messaging.svc:4222,tls://nats-1.nats.messaging.svc:4222',
      streamReplicas: 3,
      prefix: 'chat',
      auth: { user: 'switchyard', password: 'a-password-from-values' },
      tls: { caSecret: 'nats-ca', caKey: 'ca.crt' },
    },
    config: { logLevel: 'debug', maxConnectionsPerIp: 100 },
  },

  /** The bundled NATS as a 3-server JetStream cluster. */
  'bundled NATS, 3 replicas': {
    tenants: { json: JSON.stringify(TENANTS) },
    nats: { replicas: 3, persistence: { size: '20Gi', storageClassName: 'fast-ssd' }, jetstream: { maxFileStore: '18GB', maxMemoryStore: '256MB' } },
    gateway: { replicas: 3, threads: 2, resources: { requests: { cpu: '2', memory: '1Gi' } } },
  },

  /** Tenants and NATS credentials from Secrets the chart does not own. */
  'existing Secrets': {
    tenants: { existingSecret: 'switchyard-tenants-v2', existingSecretKey: 'tenants.prod.json' },
    nats: {
      deploy: false,
      url: 'nats://nats.messaging.svc:4222',
      auth: { existingSecret: 'nats-credentials', userKey: 'username', passwordKey: 'pw' },
    },
  },

  /** Every optional object on: HPAs (CPU and connections per pod), PDBs, monitoring, Ingress. */
  'HPA, PDB, ServiceMonitor, PrometheusRule, Ingress, dashboard': {
    tenants: { config: TENANTS },
    gateway: {
      autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 30, connectionsPerPod: { enabled: true, averageValue: '40000' } },
      pdb: { enabled: true, maxUnavailable: null, minAvailable: '50%' },
      headlessService: { enabled: true },
      preStopSleepSeconds: 3,
      service: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', annotations: { 'service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout': '3600' } },
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=768' }],
      extraEnvFrom: [{ configMapRef: { name: 'more-settings' } }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'realtime', effect: 'NoSchedule' }],
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'gateway' } } } }] } },
      podAnnotations: { 'example.com/team': 'realtime' },
    },
    controlApi: { autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 6 } },
    imagePullSecrets: [{ name: 'registry-credentials' }],
    image: { repository: 'registry.example.com/switchyard', tag: '0.1.0-rc.1' },
    nats: { replicas: 3 },
    ingress: {
      enabled: true,
      className: 'nginx',
      hosts: ['rt.example.com'],
      tls: [{ secretName: 'rt-example-tls', hosts: ['rt.example.com'] }],
      annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' },
      admin: true,
    },
    metrics: {
      serviceMonitor: { enabled: true, labels: { release: 'kube-prometheus-stack' }, interval: '15s' },
      prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } },
      dashboard: { enabled: true, annotations: { grafana_folder: 'Switchyard' } },
    },
  },
};

/** Secrets that 'existing Secrets' names, as a cluster would hold them (for resolving env). */
export const EXISTING_SECRETS: Record<string, Record<string, string>> = {
  'switchyard-tenants-v2': { 'tenants.prod.json': JSON.stringify(TENANTS) },
  'nats-credentials': { username: 'switchyard', pw: 'pw-from-an-existing-secret' },
};
