import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { eventually, withDeadline } from '@switchyard/testkit';
import { ROOT, type K8sObject } from './helm.js';
import { containerEnv, expandArgs, get, secretData, type DataObject, type Workload } from './objects.js';

/** The installed `switchyard` command, as the image's ENTRYPOINT runs it (built by `npm ci` / `tsc -b`). */
const BIN = join(ROOT, 'node_modules/.bin/switchyard');
const DEADLINE_MS = 20_000;

/**
 * The name Kubernetes gives a Deployment's pod: <deployment>-<pod-template-hash>-<5 random>,
 * with the part before the random suffix cut to 58 characters. The hash is at most 10
 * characters; the longest is used, so node ids are as long as they get.
 */
export function podNameOf(deployment: string): string {
  return `${`${deployment}-7c9f8d6b5d-`.slice(0, 58)}x2x9k`;
}

/** A process started by a test, killed when the test ends. */
interface Proc {
  readonly child: ChildProcess;
  readonly output: () => string;
}

function start(t: TestContext, cmd: string, args: readonly string[], env: Record<string, string>): Proc {
  // Only the rendered environment (plus PATH): nothing of the test runner's leaks in.
  const child = spawn(cmd, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  return { child, output: () => out };
}

/**
 * Starts the bundled nats-server as the rendered StatefulSet runs it: its nats.conf from the
 * ConfigMap and its args with $(VAR) expanded from its env (pod name, credentials from the
 * Secret). Only what a laptop cannot have is changed: loopback and a free port instead of
 * 0.0.0.0:4222, temp directories instead of the volumes, no monitoring port.
 */
export async function startRenderedNats(t: TestContext, objs: readonly K8sObject[], fullname: string): Promise<string> {
  const name = `${fullname}-nats`;
  const sts = get<Workload>(objs, 'StatefulSet', name);
  const container = sts.spec.template.spec.containers[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'sy-chart-nats-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = (get<DataObject>(objs, 'ConfigMap', `${name}-config`).data ?? {})['nats.conf'] ?? '';
  const local = conf
    .replace(/^listen: 0\.0\.0\.0:4222$/m, 'listen: 127.0.0.1:-1')
    .replace(/^http_port: .*$/m, '')
    .replace(/^pid_file: .*$/m, `pid_file: ${join(dir, 'nats.pid')}`)
    .replace(/^(\s*)store_dir: \/data$/m, `$1store_dir: ${join(dir, 'store')}`);
  if (local.includes('0.0.0.0:4222') || local.includes('/data\n')) throw new Error(`nats.conf changed shape; update startRenderedNats:\n${conf}`);
  writeFileSync(join(dir, 'nats.conf'), local);
  const env = containerEnv(objs, container, { name: `${name}-0` });
  const args = expandArgs(container.args ?? [], env).map((a) => (a === '/etc/nats-config/nats.conf' ? join(dir, 'nats.conf') : a));
  for (const a of args) if (a.includes('$(')) throw new Error(`unexpanded ${a} in the NATS args`);
  const portsDir = join(dir, 'ports');
  mkdirSync(portsDir);
  const nats = start(t, 'nats-server', [...args, '--ports_file_dir', portsDir], env);
  const port = await eventually(
    () => {
      if (nats.child.exitCode !== null) throw new Error(`nats-server exited ${nats.child.exitCode}: ${nats.output().slice(-800)}`);
      const file = readdirSync(portsDir).find((f) => f.endsWith('.ports'));
      if (file === undefined) return undefined;
      const ports = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as { nats: string[] };
      return Number(new URL(ports.nats[0]!).port);
    },
    'the rendered nats-server listens',
    { timeoutMs: DEADLINE_MS },
  );
  return `nats://127.0.0.1:${port}`;
}

export interface RunningRole {
  readonly url: string;
  readonly env: Record<string, string>;
  readonly output: () => string;
  /** The process, for the kubelet's signals. */
  readonly child: ChildProcess;
}

/**
 * Runs one rendered Switchyard Deployment as a local process: the container's args after the
 * image's ENTRYPOINT (`switchyard`), and exactly the environment the kubelet would give it
 * (ConfigMap, Secrets, downward API), except the listening address (loopback, a free port),
 * the NATS URL (the local server) and the tenants file's path (a temp file holding the
 * Secret's content). Resolves once it reported its port.
 */
export async function startRenderedRole(
  t: TestContext,
  objs: readonly K8sObject[],
  deploymentName: string,
  o: { natsUrl: string; podName: string; external?: Record<string, Record<string, string>> },
): Promise<RunningRole> {
  const d = get<Workload>(objs, 'Deployment', deploymentName);
  const pod = d.spec.template.spec;
  const c = pod.containers[0]!;
  const env = containerEnv(objs, c, { name: o.podName }, o.external);
  // The tenants file as the pod would see it: the Secret's item, mounted.
  const mount = c.volumeMounts!.find((m) => m.mountPath === '/etc/switchyard/tenants')!;
  const secretVolume = pod.volumes!.find((v) => v.name === mount.name)!.secret!;
  const source = o.external?.[secretVolume.secretName] ?? secretData(get(objs, 'Secret', secretVolume.secretName));
  const dir = mkdtempSync(join(tmpdir(), 'sy-chart-role-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const item of secretVolume.items ?? []) writeFileSync(join(dir, item.path), source[item.key] ?? '');
  const rendered = { ...env };
  env.SWITCHYARD_TENANTS = join(dir, env.SWITCHYARD_TENANTS!.replace('/etc/switchyard/tenants/', ''));
  env.SWITCHYARD_HOST = '127.0.0.1';
  env.SWITCHYARD_PORT = '0';
  env.SWITCHYARD_NATS = o.natsUrl;
  env.HOME = dir;
  const proc = start(t, BIN, c.args ?? [], env);
  const port = await withDeadline(
    new Promise<number>((resolve, reject) => {
      const check = (): void => {
        const m = /"port":(\d+)/.exec(proc.output());
        if (m) resolve(Number(m[1]));
      };
      proc.child.stdout!.on('data', check);
      proc.child.once('exit', (code) => reject(new Error(`${deploymentName} exited ${code}:\n${proc.output().slice(-1500)}`)));
      check();
    }),
    DEADLINE_MS,
    `${deploymentName} reports its port`,
  );
  return { url: `http://127.0.0.1:${port}`, env: rendered, output: proc.output, child: proc.child };
}

/** Waits until GET /readyz answers 200. */
export async function ready(role: RunningRole, what: string): Promise<void> {
  await eventually(
    async () => {
      const r = await fetch(`${role.url}/readyz`);
      return r.status === 200;
    },
    `${what} answers 200 on /readyz (output: ${role.output().slice(-600)})`,
    { timeoutMs: DEADLINE_MS, everyMs: 100 },
  );
}
