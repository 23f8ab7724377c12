import { loadTenantsFile, withApiUri, type Logger, type TenantRegistry } from '@switchyard/shared';
import { createEngine } from './engine.js';
import type { CliConfig } from './options.js';
import type { Role, ServerOptions } from './server.js';

/** The tenants file named by the config, with the WSaaS seed's API_URI applied (throws TenantsConfigError). */
export function loadTenants(c: CliConfig): TenantRegistry {
  const tenants = loadTenantsFile(c.tenants);
  return process.env.API_URI !== undefined ? withApiUri(tenants, process.env.API_URI) : tenants;
}

/** What `startServer` gets from the command line: one place, for the process and for each of its threads. */
export async function serverOptions(role: Role, c: CliConfig, tenants: TenantRegistry, log: Logger, nodeId = c.nodeId): Promise<ServerOptions> {
  return {
    engine: await createEngine(role, { ...c, nodeId }, tenants, log),
    ...(c.publicUrl !== undefined ? { publicUrl: c.publicUrl } : {}),
    corsOrigins: c.corsOrigins,
    hookIdleTimeoutSeconds: c.hookIdleTimeoutMs === 0 ? 0 : Math.max(8, Math.ceil(c.hookIdleTimeoutMs / 1000)),
    role,
    host: c.host,
    port: c.port,
    nodeId,
    tenants,
    log,
    limits: {
      maxPayload: c.maxPayload,
      maxBufferedBytes: c.maxBufferedBytes,
      maxSubscriptions: c.maxSubscriptions,
      idleTimeoutSeconds: c.idleTimeout,
      authTimeoutSeconds: c.authTimeout,
      maxConnectionsPerIp: c.maxConnectionsPerIp,
      allowedOrigins: c.allowedOrigins,
    },
  };
}
