import { readFileSync } from 'node:fs';
import { isValidChannel } from '../model/channel.js';
import { parseOrigins } from '../http/cors.js';
import { purposeKey } from '../auth/hmac.js';
import {
  DEFAULT_BARTNET,
  DEFAULT_NAMESPACE,
  DEFAULT_MAX_CHANNELS,
  DEFAULT_IDEMPOTENCY_WINDOW_SECONDS,
  DEFAULT_OTTER,
  type BartnetOptions,
  type OtterOptions,
  type MonorailResource,
  type WebhookOptions,
  TENANT_ID_RE,
  type NamespaceOptions,
  type Tenant,
  type TenantRegistry,
} from '../model/tenant.js';

/** A tenants file that cannot be used; the message names every bad field. */
export class TenantsConfigError extends Error {
  constructor(readonly problems: readonly string[], source: string) {
    super(`invalid tenants config ${source}:\n  ${problems.join('\n  ')}`);
    this.name = 'TenantsConfigError';
  }
}

/** Reads and validates a tenants file (JSON; shape in docs/config.md). */
export function loadTenantsFile(path: string): TenantRegistry {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TenantsConfigError([`cannot read file: ${(err as Error).message}`], path);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new TenantsConfigError([`not valid JSON: ${(err as Error).message}`], path);
  }
  return parseTenants(raw, path);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const NAMESPACE_KEYS = new Set(['history', 'historyTtlSeconds', 'presence', 'clientPublish', 'delta', 'joinLeave']);
const TENANT_KEYS = new Set(['secret', 'postSecret', 'backendSecret', 'anonymous', 'namespaces', 'defaultNamespace', 'bartnet', 'otter', 'webhook', 'monorail', 'maxConnections', 'maxChannels', 'corsOrigins', 'idempotencyWindowSeconds']);

/** Validates a parsed tenants document. Unknown keys are errors: a typo must not pass silently. */
export function parseTenants(raw: unknown, source = '<inline>'): TenantRegistry {
  const problems: string[] = [];
  const bad = (path: string, msg: string): void => void problems.push(`${path}: ${msg}`);

  const secret = (o: Obj, key: string, path: string): string => {
    const v = o[key];
    if (typeof v !== 'string' || v.length < 8) bad(path === '' ? key : `${path}.${key}`, 'must be a string of at least 8 characters');
    return typeof v === 'string' ? v : '';
  };

  const namespace = (v: unknown, path: string, base: NamespaceOptions): NamespaceOptions => {
    if (!isObj(v)) {
      bad(path, 'must be an object');
      return base;
    }
    for (const k of Object.keys(v)) if (!NAMESPACE_KEYS.has(k)) bad(`${path}.${k}`, 'unknown key');
    const int = (k: 'history' | 'historyTtlSeconds', max: number): number => {
      const x = v[k];
      if (x === undefined) return base[k];
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > max) {
        bad(`${path}.${k}`, `must be an integer from 0 to ${max}`);
        return base[k];
      }
      return x;
    };
    const bool = (k: 'presence' | 'clientPublish' | 'delta' | 'joinLeave'): boolean => {
      const x = v[k];
      if (x === undefined) return base[k] === true;
      if (typeof x !== 'boolean') {
        bad(`${path}.${k}`, 'must be true or false');
        return base[k] === true;
      }
      return x;
    };
    const presence = bool('presence');
    const joinLeave = bool('joinLeave');
    if (joinLeave && !presence) bad(`${path}.joinLeave`, 'needs presence: true (join and leave are presence changes)');
    return Object.freeze({
      history: int('history', 1_000_000),
      historyTtlSeconds: int('historyTtlSeconds', 10 * 365 * 86400),
      presence,
      clientPublish: bool('clientPublish'),
      // Only when on: absent means off (the engines' internal namespaces leave it out too).
      ...(bool('delta') ? { delta: true } : {}),
      ...(joinLeave ? { joinLeave: true } : {}),
    });
  };

  const origins = (v: unknown, at: string): readonly string[] | undefined => {
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((o) => typeof o === 'string')) {
      bad(at, 'must be an array of origins ("https://app.example.com") or ["*"]');
      return undefined;
    }
    try {
      return Object.freeze(parseOrigins((v as string[]).join(','), at));
    } catch (err) {
      bad(at, (err as Error).message.replace(`${at}: `, ''));
      return undefined;
    }
  };
  const tenants = new Map<string, Tenant>();
  let adminToken = '';
  if (!isObj(raw)) {
    bad('(root)', 'must be a JSON object');
  } else {
    for (const k of Object.keys(raw)) if (k !== 'adminToken' && k !== 'tenants') bad(k, 'unknown key');
    adminToken = secret(raw, 'adminToken', '');
    if (!isObj(raw.tenants) || Object.keys(raw.tenants).length === 0) {
      bad('tenants', 'must be an object with at least one tenant');
    } else {
      for (const [id, t] of Object.entries(raw.tenants)) {
        const path = `tenants.${id}`;
        if (!TENANT_ID_RE.test(id)) bad(path, 'tenant id must be 1-64 characters of A-Z a-z 0-9 _ -');
        if (!isObj(t)) {
          bad(path, 'must be an object');
          continue;
        }
        for (const k of Object.keys(t)) if (!TENANT_KEYS.has(k)) bad(`${path}.${k}`, 'unknown key');
        if (t.anonymous !== undefined && typeof t.anonymous !== 'boolean') bad(`${path}.anonymous`, 'must be true or false');
        const defaultNamespace =
          t.defaultNamespace === undefined
            ? DEFAULT_NAMESPACE
            : namespace(t.defaultNamespace, `${path}.defaultNamespace`, DEFAULT_NAMESPACE);
        const namespaces = new Map<string, NamespaceOptions>();
        if (t.namespaces !== undefined) {
          if (!isObj(t.namespaces)) bad(`${path}.namespaces`, 'must be an object');
          else
            for (const [name, ns] of Object.entries(t.namespaces)) {
              if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
                bad(`${path}.namespaces.${name}`, 'namespace name must be 1-64 characters of A-Z a-z 0-9 _ -');
              }
              namespaces.set(name, namespace(ns, `${path}.namespaces.${name}`, defaultNamespace));
            }
        }
        let bartnet: BartnetOptions = DEFAULT_BARTNET;
        if (t.bartnet !== undefined) {
          const b = t.bartnet;
          const bp = `${path}.bartnet`;
          if (!isObj(b)) bad(bp, 'must be an object');
          else {
            for (const k of Object.keys(b)) if (k !== 'topics' && k !== 'credentialTtlSeconds') bad(`${bp}.${k}`, 'unknown key');
            let topics = DEFAULT_BARTNET.topics;
            if (b.topics !== undefined) {
              if (!Array.isArray(b.topics) || b.topics.length === 0 || !b.topics.every((x) => typeof x === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(x))) {
                bad(`${bp}.topics`, 'must be a non-empty array of topic names (1-64 characters of A-Z a-z 0-9 _ -)');
              } else topics = Object.freeze([...(b.topics as string[])]);
            }
            let ttl = DEFAULT_BARTNET.credentialTtlSeconds;
            if (b.credentialTtlSeconds !== undefined) {
              const x = b.credentialTtlSeconds;
              if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > 30 * 86400) bad(`${bp}.credentialTtlSeconds`, 'must be an integer from 1 to 2592000');
              else ttl = x;
            }
            bartnet = Object.freeze({ topics, credentialTtlSeconds: ttl });
          }
        }
        let otter: OtterOptions = DEFAULT_OTTER;
        if (t.otter !== undefined) {
          const o = t.otter;
          if (!isObj(o)) bad(`${path}.otter`, 'must be an object');
          else {
            for (const k of Object.keys(o)) if (k !== 'requireAuth') bad(`${path}.otter.${k}`, 'unknown key');
            if (o.requireAuth !== undefined && typeof o.requireAuth !== 'boolean') bad(`${path}.otter.requireAuth`, 'must be true or false');
            else otter = Object.freeze({ requireAuth: o.requireAuth === true });
          }
        }
        let webhook: WebhookOptions | undefined;
        if (t.webhook !== undefined) {
          const w = t.webhook;
          const wp = `${path}.webhook`;
          if (!isObj(w)) bad(wp, 'must be an object');
          else {
            for (const k of Object.keys(w)) if (!['url', 'timeoutMs', 'requireBearer', 'maxQueue', 'secret'].includes(k)) bad(`${wp}.${k}`, 'unknown key');
            const url = typeof w.url === 'string' ? normalizeUrl(w.url) : undefined;
            if (url === undefined) bad(`${wp}.url`, 'must be an http(s) URL (the scheme may be left out: http is assumed)');
            const num = (k: 'timeoutMs' | 'maxQueue', dflt: number, min: number, max: number): number => {
              const x = w[k];
              if (x === undefined) return dflt;
              if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
                bad(`${wp}.${k}`, `must be an integer from ${min} to ${max}`);
                return dflt;
              }
              return x;
            };
            if (w.requireBearer !== undefined && typeof w.requireBearer !== 'boolean') bad(`${wp}.requireBearer`, 'must be true or false');
            webhook = Object.freeze({
              url: url ?? '',
              timeoutMs: num('timeoutMs', 5000, 10, 120_000),
              requireBearer: w.requireBearer !== false,
              maxQueue: num('maxQueue', 100, 1, 100_000),
              signingKeys: webhookKeys(w.secret, `${wp}.secret`, t, bad),
            });
          }
        }
        const monorail = new Map<string, MonorailResource>();
        if (t.monorail !== undefined) {
          const mp = `${path}.monorail`;
          const m = t.monorail;
          if (!isObj(m) || !isObj(m.resources) || Object.keys(m).some((k) => k !== 'resources')) {
            bad(mp, 'must be {"resources": {<name>: {"type": "collection" | "topic", …}}}');
          } else {
            for (const [name, r] of Object.entries(m.resources)) {
              const rp = `${mp}.resources.${name}`;
              if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) bad(rp, 'resource name must be 1-64 characters of A-Z a-z 0-9 _ -');
              if (!isObj(r)) {
                bad(rp, 'must be an object');
                continue;
              }
              if (r.type === 'collection') {
                for (const k of Object.keys(r)) if (k !== 'type' && k !== 'idField') bad(`${rp}.${k}`, 'unknown key');
                if (r.idField !== undefined && (typeof r.idField !== 'string' || r.idField === '')) bad(`${rp}.idField`, 'must be a non-empty string');
                monorail.set(name, Object.freeze({ type: 'collection', idField: typeof r.idField === 'string' && r.idField !== '' ? r.idField : 'id' }));
              } else if (r.type === 'topic') {
                for (const k of Object.keys(r)) if (k !== 'type' && k !== 'channel') bad(`${rp}.${k}`, 'unknown key');
                if (r.channel !== undefined && !isValidChannel(r.channel)) bad(`${rp}.channel`, 'must be a valid channel name');
                monorail.set(name, Object.freeze({ type: 'topic', channel: typeof r.channel === 'string' ? r.channel : name }));
              } else {
                bad(`${rp}.type`, 'must be "collection" or "topic"');
              }
            }
          }
        }
        const limit = (key: 'maxConnections' | 'maxChannels', absent: number): number => {
          const x = t[key];
          if (x === undefined) return absent;
          if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 10_000_000) return x;
          bad(`${path}.${key}`, 'must be an integer from 0 (no limit) to 10000000');
          return absent;
        };
        if (typeof t.secret === 'string' && t.secret === t.backendSecret) {
          bad(`${path}.backendSecret`, 'must differ from secret (clients hold secret-signed credentials; backendSecret is for backends only)');
        }
        tenants.set(
          id,
          Object.freeze({
            id,
            secret: secret(t, 'secret', path),
            postSecret: secret(t, 'postSecret', path),
            backendSecret: secret(t, 'backendSecret', path),
            anonymous: t.anonymous === true,
            namespaces,
            defaultNamespace,
            bartnet,
            otter,
            webhook,
            monorail,
            maxConnections: limit('maxConnections', 0),
            maxChannels: limit('maxChannels', DEFAULT_MAX_CHANNELS),
            corsOrigins: origins(t.corsOrigins, `${path}.corsOrigins`),
            idempotencyWindowSeconds: idempotencyWindow(t.idempotencyWindowSeconds, `${path}.idempotencyWindowSeconds`, bad),
          }),
        );
      }
    }
  }
  if (problems.length > 0) throw new TenantsConfigError(problems, source);
  return Object.freeze({ adminToken, tenants });
}

/** An http(s) URL, with `http://` added when the scheme is left out (the WSaaS seed writes `localhost:80/websocket`). */
export function normalizeUrl(raw: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  try {
    const u = new URL(withScheme);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return withScheme.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

/**
 * The WSaaS seed's API_URI for a single-tenant deployment: the tenant's webhook URL (its
 * other webhook settings kept, or defaulted). Refused when the file has several tenants.
 */
export function withApiUri(reg: TenantRegistry, apiUri: string): TenantRegistry {
  if (reg.tenants.size !== 1) throw new TenantsConfigError(['API_URI: only for a single-tenant deployment; set webhook.url per tenant instead'], 'API_URI');
  const url = normalizeUrl(apiUri);
  if (url === undefined) throw new TenantsConfigError([`API_URI: not an http(s) URL: ${apiUri}`], 'API_URI');
  const [t] = [...reg.tenants.values()] as [Tenant];
  const signingKeys = Object.freeze([purposeKey(t.backendSecret, 'webhook-signature')]);
  const webhook: WebhookOptions = Object.freeze({ timeoutMs: 5000, requireBearer: true, maxQueue: 100, signingKeys, ...t.webhook, url });
  return Object.freeze({ adminToken: reg.adminToken, tenants: new Map([[t.id, Object.freeze({ ...t, webhook })]]) });
}

/** At most this many webhook secrets: the current one and those being rotated out. */
const MAX_WEBHOOK_SECRETS = 4;

/**
 * The keys that sign a tenant's webhook calls (WebhookOptions.signingKeys): `webhook.secret`, a
 * string or a list (rotation: every one signs), used as is; when absent, a key derived from
 * `backendSecret`, so every webhook is signed and a backend that holds its backendSecret can
 * verify with no new setting. An explicit secret must differ from the tenant's other secrets:
 * raw `secret` and `postSecret` sign seed-defined texts and `backendSecret` is a bearer, and a
 * key serves one purpose only (docs/security.md).
 */
function webhookKeys(v: unknown, at: string, t: Obj, bad: (path: string, msg: string) => void): readonly string[] {
  if (v === undefined) return Object.freeze([purposeKey(typeof t.backendSecret === 'string' ? t.backendSecret : '', 'webhook-signature')]);
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_WEBHOOK_SECRETS) {
    bad(at, `must be a string or a list of 1 to ${MAX_WEBHOOK_SECRETS} strings (the first is the current secret)`);
    return Object.freeze(['']);
  }
  const seen = new Set<string>();
  for (const [i, s] of list.entries()) {
    const p = Array.isArray(v) ? `${at}[${i}]` : at;
    if (typeof s !== 'string' || s.length < 16 || s.length > 1024) bad(p, 'must be a string of 16 to 1024 characters');
    else if (seen.has(s)) bad(p, 'appears twice');
    else if (s === t.secret || s === t.postSecret || s === t.backendSecret) bad(p, 'must differ from secret, postSecret and backendSecret (one key, one purpose)');
    seen.add(String(s));
  }
  return Object.freeze(list.map(String));
}

/** A tenant's `idempotencyWindowSeconds`: 1 s to a day (JetStream keeps every id of the window in memory). */
function idempotencyWindow(v: unknown, at: string, bad: (path: string, msg: string) => void): number {
  if (v === undefined) return DEFAULT_IDEMPOTENCY_WINDOW_SECONDS;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 86_400) return v;
  bad(at, 'must be an integer from 1 to 86400 (seconds)');
  return DEFAULT_IDEMPOTENCY_WINDOW_SECONDS;
}
