import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { createLogger } from '@switchyard/shared';
import { NatsEngine } from '@switchyard/shared/nats';
import { startServer, type RunningServer, type Role } from '../src/server.js';
import { startNatsServer, type NatsServer } from '@switchyard/testkit';
import { tenants } from './helpers.js';

export interface Node {
  readonly server: RunningServer;
  readonly engine: NatsEngine;
  /** Stops the node without any goodbye: sockets cut, NATS connection dropped, no cleanup. */
  crash(): Promise<void>;
}

export interface Cluster {
  readonly nats: NatsServer;
  readonly prefix: string;
  readonly control: Node;
  readonly gateways: Node[];
  /** Starts one more gateway on the same NATS. */
  addGateway(id: string): Promise<Node>;
}

const LIMITS = { maxPayload: 64 * 1024, maxBufferedBytes: 1024 * 1024, maxSubscriptions: 1000, idleTimeoutSeconds: 120 };

async function startNode(closers: (() => Promise<void>)[], nats: NatsServer, prefix: string, role: Role, nodeId: string): Promise<Node> {
  const log = createLogger('silent');
  const engine = new NatsEngine({
    servers: [nats.url],
    tenants: tenants(),
    log,
    prefix,
    name: nodeId,
    manageStreams: role !== 'gateway',
    servePresence: role !== 'control-api',
    presenceStallMs: 30,
  });
  const server = await startServer({ role, host: '127.0.0.1', port: 0, nodeId, tenants: tenants(), log, limits: LIMITS, engine });
  let crashed = false;
  closers.push(async () => {
    if (!crashed) await server.close();
  });
  await engine.whenStarted();
  return {
    server,
    engine,
    async crash() {
      crashed = true;
      await engine.abort();
      await server.close();
    },
  };
}

/** A real nats-server with JetStream, a control API and `gateways` gateway nodes, all on free ports. */
export async function startCluster(t: TestContext, gateways = 2): Promise<Cluster> {
  const nats = await startNatsServer();
  const closers: (() => Promise<void>)[] = [];
  // Nodes first (they drain their NATS connections), the NATS server last.
  t.after(async () => {
    for (const c of closers.reverse()) await c();
    await nats.stop();
  });
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const control = await startNode(closers, nats, prefix, 'control-api', 'cp');
  const nodes: Node[] = [];
  for (let i = 1; i <= gateways; i++) nodes.push(await startNode(closers, nats, prefix, 'gateway', `g${i}`));
  return {
    nats,
    prefix,
    control,
    gateways: nodes,
    async addGateway(id) {
      const n = await startNode(closers, nats, prefix, 'gateway', id);
      nodes.push(n);
      return n;
    },
  };
}
