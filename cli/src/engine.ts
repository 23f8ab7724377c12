import { EmbeddedEngine, type Engine, type Logger, type TenantRegistry } from '@switchyard/shared';
import type { CliConfig } from './options.js';
import type { Role } from './server.js';

/**
 * The engine a role runs on: NATS/JetStream when --nats is given (required by the cluster
 * roles), the embedded engine otherwise. The control API owns the streams; gateways answer
 * presence requests. The NATS engine is imported only here and only with --nats, so a
 * single-node process never loads the NATS client.
 */
export async function createEngine(role: Role, c: CliConfig, tenants: TenantRegistry, log: Logger): Promise<Engine> {
  if (c.nats === undefined) return embeddedEngine(tenants);
  const { NatsEngine } = await import('@switchyard/shared/nats');
  return new NatsEngine({
    servers: c.nats,
    tenants,
    log: log.child({ component: 'nats' }),
    prefix: c.natsPrefix,
    name: `switchyard-${role}-${c.nodeId}`,
    manageStreams: role !== 'gateway',
    servePresence: role !== 'control-api',
    node: c.nodeId,
    replicas: c.natsReplicas,
    ...(c.natsUser !== undefined ? { user: c.natsUser } : {}),
    ...(c.natsPass !== undefined ? { pass: c.natsPass } : {}),
    ...(c.natsToken !== undefined ? { token: c.natsToken } : {}),
    ...(c.natsTlsCa !== undefined ? { tlsCaFile: c.natsTlsCa } : {}),
  });
}

/** The embedded engine, holding each tenant to its `maxChannels`. */
export const embeddedEngine = (tenants: TenantRegistry): EmbeddedEngine =>
  new EmbeddedEngine({ channelLimit: (id) => tenants.tenants.get(id)?.maxChannels ?? 0 });
