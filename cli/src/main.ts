import yargs from 'yargs';
import { TenantsConfigError, createLogger, logUnhandledRejections } from '@switchyard/shared';
import { OPTIONS, checkOptions, toConfig, type CliConfig } from './options.js';
import { loadTenants, serverOptions } from './server-options.js';
import { startServer, type Drain, type Role } from './server.js';
import { autoThreads } from './threads.js';
import { startThreads } from './threaded.js';

const ROLES: Record<Role, string> = {
  dev: 'Run gateway + control API + embedded engine in one process on one port (no broker needed)',
  gateway: 'Run a gateway node of a cluster: WebSocket endpoints (needs --nats)',
  'control-api': 'Run a control-API replica of a cluster: REST API, creates the JetStream streams (needs --nats)',
};

/**
 * SWITCHYARD_<FLAG> variables of known flags, as flags placed before the command line's own
 * (the last occurrence wins, so a flag given on the command line beats the environment).
 * Unknown SWITCHYARD_* variables are ignored: platforms set some (Kubernetes service links).
 */
export function envFlags(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  // The WSaaS seed's own variables, as aliases (a SWITCHYARD_ variable or a flag wins).
  if (env.LOG_LEVEL !== undefined) out.push(`--log-level=${env.LOG_LEVEL.toLowerCase()}`);
  if (env.WS_HOSTNAME !== undefined) out.push(`--public-url=${env.WS_HOSTNAME}`);
  if (env.WS_TIMEOUT !== undefined) out.push(`--hook-idle-timeout=${env.WS_TIMEOUT}`);
  for (const flag of Object.keys(OPTIONS)) {
    const v = env[`SWITCHYARD_${flag.toUpperCase().replaceAll('-', '_')}`];
    if (v !== undefined) out.push(`--${flag}=${v}`);
  }
  return out;
}

/** The longest --node-id of a gateway with several threads: `-<thread>` (up to `-64`) must fit in 63. */
const MAX_THREADED_NODE_ID = 60;

/** The `switchyard` command. Resolves with the exit code once the server has stopped (or failed to start). */
export async function main(argv: string[]): Promise<number> {
  let role: Role | undefined;
  let parsed: Record<string, unknown> | undefined;
  let cli = yargs([...envFlags(process.env), ...argv])
    .scriptName('switchyard')
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .options(OPTIONS as never)
    .strictOptions()
    .demandCommand(1, 'Name a command: dev, gateway or control-api')
    .recommendCommands()
    .epilogue('Every flag is also an environment variable: SWITCHYARD_<FLAG>, e.g. SWITCHYARD_MAX_PAYLOAD=65536. See docs/config.md.')
    .help()
    .version(false);
  for (const [name, describe] of Object.entries(ROLES) as [Role, string][]) {
    cli = cli.command(name, describe, {}, (a) => {
      role = name;
      parsed = a as Record<string, unknown>;
    });
  }
  let failure: string | undefined;
  cli = cli.fail((msg, err) => {
    failure = msg ?? err?.message ?? 'invalid arguments';
  });
  await cli.parseAsync();
  if (failure !== undefined) {
    console.error(`switchyard: ${failure}\nRun 'switchyard --help' for the options.`);
    return 2;
  }
  if (role === undefined || parsed === undefined) return 0; // --help
  const problems = checkOptions(parsed);
  if (problems.length > 0) {
    console.error(`switchyard: invalid options:\n  ${problems.join('\n  ')}`);
    return 2;
  }
  return run(role, toConfig(parsed));
}

async function run(role: Role, c: CliConfig): Promise<number> {
  if (role !== 'dev' && c.nats === undefined) {
    console.error(`switchyard ${role}: --nats URL (or SWITCHYARD_NATS) is required; run 'switchyard dev' for a single node without NATS.`);
    return 2;
  }
  let threads = c.threads === 'auto' ? autoThreads() : c.threads;
  if (threads > 1 && role !== 'gateway') {
    if (c.threads !== 'auto') {
      console.error(
        role === 'dev'
          ? `switchyard dev: --threads ${threads} needs a cluster: the embedded engine keeps every channel in one thread. Run 'switchyard gateway --nats URL --threads ${threads}' beside a control API (docs/cluster.md).`
          : `switchyard ${role}: --threads applies to the gateway role; run more control-API replicas instead.`,
      );
      return 2;
    }
    threads = 1; // auto: only gateways run several threads
  }
  if (threads > 1 && c.nodeId.length > MAX_THREADED_NODE_ID) {
    // Each thread is node `<node-id>-<thread>`, which must still be a node id.
    console.error(`switchyard ${role}: with --threads ${threads}, --node-id must be at most ${MAX_THREADED_NODE_ID} characters (each thread adds -<n>); '${c.nodeId}' has ${c.nodeId.length}.`);
    return 2;
  }
  let tenants;
  try {
    tenants = loadTenants(c);
  } catch (err) {
    console.error(`switchyard: ${err instanceof TenantsConfigError ? err.message : String(err)}`);
    return 2;
  }
  const log = createLogger(c.logLevel, { node: c.nodeId });
  logUnhandledRejections(log);
  if (role === 'gateway' && c.publicUrl === undefined && [...tenants.tenants.values()].some((t) => t.webhook !== undefined)) {
    // A gateway serves no /v1/connections: ws_uris must point at the control API.
    log.warn('WSaaS webhooks are configured but --public-url (WS_HOSTNAME) is not: ws_uris will point at this gateway, which cannot serve them; set it to the control API address');
  }
  const server = threads > 1 ? await startThreads(role, c, threads, log) : await startServer(await serverOptions(role, c, tenants, log));
  const ws = server.url.replace(/^http/, 'ws');
  const tenant = [...tenants.tenants.keys()][0] ?? 'demo';
  const lines = [`Switchyard ${role} is running on port ${server.port} (${server.engine.kind} engine${threads > 1 ? `, ${threads} threads` : ''}). Try:`];
  if (role !== 'control-api') {
    lines.push(
      `  native protocol:  ${ws}/v1/ws?tenant=${tenant}`,
      `  site protocol:    ${ws}/ws?site=${tenant}`,
      `  other dialects:   ${ws}/bartnet  ${ws}/otter?tenant=${tenant}  ${ws}/monorail/<resource>?tenant=${tenant}  ${ws}/hook/<path>?tenant=<id>`,
      `  event stream:     curl -N '${server.url}/v1/sse?tenant=${tenant}&channel=chat:lobby' -H 'Authorization: Bearer <token>'`,
    );
  }
  if (role !== 'gateway') {
    lines.push(
      `  site token:       curl '${server.url}/token?site=${tenant}'`,
      `  publish (REST):   curl -X POST ${server.url}/v1/publish -H 'Authorization: Bearer <backendSecret>' -d '{"tenant":"${tenant}","channel":"chat:lobby","data":{"text":"hi"}}'`,
      `  admin page:       ${server.url}/admin (asks for the adminToken)`,
    );
  }
  lines.push(`  health, metrics:  ${server.url}/healthz  ${server.url}/readyz  ${server.url}/metrics`, 'Stop with Ctrl-C.');
  console.error(lines.join('\n'));
  return new Promise<number>((resolve) => {
    if ('failed' in server) {
      // A thread that dies takes the process down: the orchestrator restarts it whole.
      void server.failed.then((why) => {
        log.error({ reason: why }, 'a gateway thread failed; shutting down');
        void server.close().finally(() => resolve(1));
      });
    }
    let stopping = false;
    const stop = (signal: string, drain?: Drain): void => {
      if (stopping) {
        // A second signal: what is left of the drain goes at once.
        log.info({ signal }, 'closing the remaining connections at once');
        server.hurry();
        return;
      }
      stopping = true;
      log.info({ signal, ...drain }, drain === undefined ? 'shutting down' : 'draining: not ready, then closing connections over the drain window');
      server.close(drain).then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(0);
        },
      );
    };
    // SIGTERM (orchestrators): a drain. SIGINT (Ctrl-C in a terminal): at once.
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM', { delayMs: c.drainDelay * 1000, spreadMs: c.drainSeconds * 1000 }));
  });
}
