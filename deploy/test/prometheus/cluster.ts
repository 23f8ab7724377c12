import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, startNatsServer, TENANTS, type NatsServer } from '@switchyard/testkit';
import { startProc, type Proc as BaseProc } from '../../../cli/test/cli-process.js';

/** The WSaaS tenant added to the test fixture, whose webhook is `Cluster.webhook`. */
export const HOOK_TENANT = 'hooks';

/** The `--max-buffered-bytes` of gateway g2 (the smallest allowed is 1024): slow consumers are closed early there. */
export const G2_MAX_BUFFERED_BYTES = 65_536;

/** One Switchyard process of the cluster. */
export interface Proc extends BaseProc {
  /** `127.0.0.1:<port>`: the Prometheus target, and the `instance` label of its series. */
  readonly target: string;
}

export interface Cluster {
  readonly nats: NatsServer;
  readonly prefix: string;
  readonly control: Proc;
  readonly g1: Proc;
  /** A gateway with `--max-buffered-bytes` G2_MAX_BUFFERED_BYTES. */
  readonly g2: Proc;
  readonly procs: readonly Proc[];
  /** Calls the WSaaS backend answered, by method. */
  readonly webhookCalls: Record<string, number>;
  /** Resolves when every process answers `/readyz` 200. */
  allReady(timeoutMs?: number): Promise<void>;
}

/** A WSaaS backend: admits every connection (`{"code":"OK"}`), takes every frame and close. */
function webhookBackend(calls: Record<string, number>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const m = req.method ?? '?';
      calls[m] = (calls[m] ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(m === 'POST' ? '{"code":"OK"}' : '{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}/websocket` });
    });
  });
}

/**
 * A real cluster of separate processes on free ports: nats-server (JetStream), a
 * `switchyard control-api` and two `switchyard gateway`s with a unique `--nats-prefix`, given
 * the test tenants (`TENANTS`) plus a WSaaS tenant whose webhook is a local node:http
 * backend. Resolves once every process answers `/readyz` 200. Everything stops when the
 * test ends.
 */
export async function startCluster(t: TestContext): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-prom-cluster-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const webhookCalls: Record<string, number> = {};
  const hook = await webhookBackend(webhookCalls);
  t.after(
    () =>
      new Promise<void>((resolve) => {
        hook.server.close(() => resolve());
        // Keep-alive sockets of the gateways' webhook calls would hold close() open.
        hook.server.closeAllConnections();
      }),
  );

  const tenantsFile = join(dir, 'tenants.json');
  writeFileSync(
    tenantsFile,
    JSON.stringify({
      ...TENANTS,
      tenants: {
        ...TENANTS.tenants,
        [HOOK_TENANT]: {
          secret: 'hooks-client-secret',
          postSecret: 'hooks-post-secret',
          backendSecret: 'hooks-backend-secret',
          webhook: { url: hook.url, timeoutMs: 2000 },
        },
      },
    }),
  );

  const nats = await startNatsServer();
  t.after(() => nats.stop());
  const prefix = `prom${randomBytes(4).toString('hex')}`;
  const common = ['--nats', nats.url, '--nats-prefix', prefix, '--tenants', tenantsFile, '--log-level', 'info'];
  const proc = async (name: string, role: Proc['role'], extra: string[] = []): Promise<Proc> => {
    const p = await startProc(t, name, role, [...common, '--node-id', name, ...extra]);
    return { ...p, target: `127.0.0.1:${p.port}` };
  };
  const [control, g1, g2] = await Promise.all([
    proc('cp', 'control-api'),
    proc('g1', 'gateway'),
    proc('g2', 'gateway', ['--max-buffered-bytes', String(G2_MAX_BUFFERED_BYTES)]),
  ]);
  const procs = [control, g1, g2];

  const allReady = async (timeoutMs = 20_000): Promise<void> => {
    await eventually(
      async () => {
        const codes = await Promise.all(procs.map((p) => fetch(`${p.url}/readyz`).then((r) => r.status, () => 0)));
        return codes.every((c) => c === 200) || undefined;
      },
      'every process answers /readyz 200',
      { timeoutMs, everyMs: 50 },
    );
  };
  await allReady();
  return { nats, prefix, control, g1, g2, procs, webhookCalls, allReady };
}
