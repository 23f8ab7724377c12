import { randomBytes } from 'node:crypto';
import { LOG_LEVELS, NODE_ID_RE, normalizeUrl, parseOrigins, type LogLevel, type Origins } from '@switchyard/shared';
import { splitNatsUrls, type NatsServers } from './nats-url.js';

/**
 * Every flag of every role, in one table. Each is also read from the environment as
 * SWITCHYARD_<FLAG> (upper case, dashes as underscores); a flag on the command line wins.
 */
export const OPTIONS = {
  port: { type: 'number', default: 8080, describe: 'HTTP/WebSocket port (0 = any free port; the chosen port is logged)' },
  host: { type: 'string', default: '0.0.0.0', describe: 'Address to listen on' },
  tenants: { type: 'string', describe: 'Tenants file (JSON; see docs/config.md). Required.' },
  'log-level': { type: 'string', default: 'info', choices: LOG_LEVELS, describe: 'Log level (JSON lines on stdout)' },
  'node-id': { type: 'string', describe: 'This node\'s id, part of every connection id (default: random)' },
  'max-payload': { type: 'number', default: 64 * 1024, describe: 'Largest client frame and message payload, in bytes' },
  'max-buffered-bytes': { type: 'number', default: 1024 * 1024, describe: 'Send buffer per connection before it is closed as a slow consumer (close code 4100), in bytes' },
  'max-subscriptions': { type: 'number', default: 1000, describe: 'Subscriptions one connection may hold' },
  'auth-timeout': { type: 'number', default: 10, describe: 'Seconds a connection that must authenticate (native, bartnet, otter with requireAuth) may stay open without it before it is closed with 4103 (0 = no limit)' },
  'max-connections-per-ip': { type: 'number', default: 0, describe: 'WebSocket connections one peer address may hold open on a gateway process; more are refused with HTTP 429 limit_exceeded (0 = no limit)' },
  'cors-origins': { type: 'string', describe: 'Origins (comma separated, exact scheme://host[:port]) or * whose browser pages may call the browser-facing REST routes (site GET /token and POST /post) from another origin; off by default. A tenant\'s corsOrigins overrides it' },
  'allowed-origins': { type: 'string', describe: 'Origins (comma separated) whose pages may open WebSockets; an upgrade whose Origin header names another is refused with 403. Requests without Origin (non-browser clients) are not checked. Off by default (any origin)' },
  'drain-delay': { type: 'number', default: 5, describe: 'On SIGTERM: seconds to keep serving with /readyz at 503 before closing connections, so load balancers stop sending new ones (0-3600)' },
  'drain-seconds': { type: 'number', default: 20, describe: 'On SIGTERM, after --drain-delay: seconds over which connections are closed (1012), evenly, so clients do not all reconnect at once (0 = at once; 0-3600). A second SIGTERM closes the rest at once' },
  'idle-timeout': { type: 'number', default: 120, describe: 'Seconds without traffic before a connection is closed (the server pings to keep live ones open; 0 = never)' },
  'public-url': { type: 'string', describe: 'Base URL of the control API as backends reach it; WSaaS ws_uris start with it (alias: WS_HOSTNAME; default: this server\'s URL)' },
  'hook-idle-timeout': { type: 'number', default: 120_000, describe: 'Idle timeout of WSaaS (/hook) connections, in ms (alias: WS_TIMEOUT; 0 = never; at least 8000 otherwise)' },
  threads: { type: 'string', default: '1', describe: 'Threads serving sockets, each with its own event loop behind one listening port: a number, or auto (the cores this process may use, capped by its cgroup CPU limit). More than 1 needs --nats' },
  nats: { type: 'string', describe: 'NATS URL(s), comma separated. Required by gateway and control-api; dev uses the embedded engine without it' },
  'nats-user': { type: 'string', describe: 'NATS user name (with --nats-pass)' },
  'nats-pass': { type: 'string', describe: 'NATS password' },
  'nats-token': { type: 'string', describe: 'NATS authentication token' },
  'nats-tls-ca': { type: 'string', describe: 'PEM file of the CA that signed the NATS servers\' certificates (turns TLS on)' },
  'nats-prefix': { type: 'string', default: 'sy', describe: 'Prefix of Switchyard\'s NATS subjects and stream names (deployments sharing one NATS use different ones)' },
  'nats-replicas': { type: 'number', default: 1, describe: 'JetStream replicas of each history stream (created by the control API)' },
} as const;

export interface CliConfig {
  readonly port: number;
  readonly host: string;
  readonly tenants: string;
  readonly logLevel: LogLevel;
  readonly nodeId: string;
  readonly maxPayload: number;
  readonly maxBufferedBytes: number;
  readonly maxSubscriptions: number;
  readonly idleTimeout: number;
  readonly authTimeout: number;
  readonly corsOrigins: Origins;
  readonly allowedOrigins: Origins;
  /** SIGTERM's drain: delay and spread, seconds. */
  readonly drainDelay: number;
  readonly drainSeconds: number;
  readonly maxConnectionsPerIp: number;
  readonly publicUrl: string | undefined;
  readonly hookIdleTimeoutMs: number;
  readonly nats: readonly string[] | undefined;
  readonly natsUser: string | undefined;
  readonly natsPass: string | undefined;
  readonly natsToken: string | undefined;
  readonly natsTlsCa: string | undefined;
  readonly natsPrefix: string;
  readonly natsReplicas: number;
  /** Event-loop threads behind the port: a count, or 'auto' (resolved at start). */
  readonly threads: number | 'auto';
}

type Parsed = Record<string, unknown>;

export const MAX_THREADS = 64;

/** Checks the parsed flags; returns every problem, naming the flag. */
export function checkOptions(a: Parsed): string[] {
  const problems: string[] = [];
  const int = (name: string, min: number, max: number): void => {
    const v = a[name];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) problems.push(`--${name} must be an integer from ${min} to ${max}`);
  };
  int('port', 0, 65535);
  int('max-payload', 64, 16 * 1024 * 1024);
  int('max-buffered-bytes', 1024, 1024 * 1024 * 1024);
  int('max-subscriptions', 1, 1_000_000);
  int('idle-timeout', 0, 960);
  int('auth-timeout', 0, 3600);
  for (const flag of ['cors-origins', 'allowed-origins']) {
    const v = a[flag];
    if (v === undefined) continue;
    try {
      if (typeof v !== 'string') throw new Error(`--${flag} must be a list of origins`);
      parseOrigins(v, `--${flag}`);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  int('drain-delay', 0, 3600);
  int('drain-seconds', 0, 3600);
  int('max-connections-per-ip', 0, 1_000_000);
  const idle = a['idle-timeout'];
  if (typeof idle === 'number' && idle > 0 && idle < 8) problems.push('--idle-timeout must be 0 (never) or from 8 to 960 seconds');
  if (typeof a.tenants !== 'string' || a.tenants === '') problems.push('--tenants FILE is required (or SWITCHYARD_TENANTS)');
  int('nats-replicas', 1, 5);
  int('hook-idle-timeout', 0, 960_000);
  const pub = a['public-url'];
  if (pub !== undefined && (typeof pub !== 'string' || normalizeUrl(pub) === undefined)) problems.push('--public-url must be an http(s) URL');
  const prefix = a['nats-prefix'];
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) problems.push('--nats-prefix must be 1-32 characters of A-Z a-z 0-9 _ -');
  const threads = a.threads;
  if (threads !== 'auto' && !(typeof threads === 'string' && /^\d+$/.test(threads) && Number(threads) >= 1 && Number(threads) <= MAX_THREADS)) {
    problems.push(`--threads must be auto or an integer from 1 to ${MAX_THREADS}`);
  }
  const id = a['node-id'];
  if (id !== undefined && (typeof id !== 'string' || !NODE_ID_RE.test(id))) {
    problems.push('--node-id must be 1-63 characters of A-Z a-z 0-9 _ -');
  }
  try {
    natsOf(a);
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

/** --nats split into servers without credentials, and the credentials from the URLs or the flags. */
function natsOf(a: Parsed): NatsServers | undefined {
  if (typeof a.nats !== 'string' || a.nats === '') return undefined;
  const flags = {
    ...(typeof a['nats-user'] === 'string' ? { user: a['nats-user'] } : {}),
    ...(typeof a['nats-pass'] === 'string' ? { pass: a['nats-pass'] } : {}),
    ...(typeof a['nats-token'] === 'string' ? { token: a['nats-token'] } : {}),
  };
  return splitNatsUrls(a.nats.split(',').map((u) => u.trim()), flags);
}

export function toConfig(a: Parsed): CliConfig {
  const nats = natsOf(a);
  return Object.freeze({
    port: a.port as number,
    host: a.host as string,
    tenants: a.tenants as string,
    logLevel: a['log-level'] as LogLevel,
    nodeId: (a['node-id'] as string | undefined) ?? randomBytes(4).toString('hex'),
    maxPayload: a['max-payload'] as number,
    maxBufferedBytes: a['max-buffered-bytes'] as number,
    maxSubscriptions: a['max-subscriptions'] as number,
    idleTimeout: a['idle-timeout'] as number,
    authTimeout: a['auth-timeout'] as number,
    corsOrigins: typeof a['cors-origins'] === 'string' ? parseOrigins(a['cors-origins'], '--cors-origins') : [],
    allowedOrigins: typeof a['allowed-origins'] === 'string' ? parseOrigins(a['allowed-origins'], '--allowed-origins') : [],
    drainDelay: a['drain-delay'] as number,
    drainSeconds: a['drain-seconds'] as number,
    maxConnectionsPerIp: a['max-connections-per-ip'] as number,
    publicUrl: typeof a['public-url'] === 'string' ? normalizeUrl(a['public-url']) : undefined,
    hookIdleTimeoutMs: a['hook-idle-timeout'] as number,
    nats: nats?.servers,
    natsUser: nats?.user ?? (a['nats-user'] as string | undefined),
    natsPass: nats?.pass ?? (a['nats-pass'] as string | undefined),
    natsToken: nats?.token ?? (a['nats-token'] as string | undefined),
    natsTlsCa: a['nats-tls-ca'] as string | undefined,
    natsPrefix: a['nats-prefix'] as string,
    natsReplicas: a['nats-replicas'] as number,
    threads: a.threads === 'auto' ? 'auto' : Number(a.threads),
  });
}
