import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { TENANTS } from '@switchyard/testkit';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDeadline } from './helpers.js';

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
/** The installed `switchyard` command (built by `npm ci`). */
export const BIN = join(ROOT, 'node_modules/.bin/switchyard');

/** A `switchyard` process started by a test, killed when the test ends if still running. */
export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/**
 * SIGTERM drains for 5 + 20 s by default; tests that do not check the drain stop at once
 * unless they set these themselves.
 */
const NO_DRAIN = { SWITCHYARD_DRAIN_DELAY: '0', SWITCHYARD_DRAIN_SECONDS: '0' };

export function run(t: TestContext, args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(BIN, args, { cwd: ROOT, env: { ...process.env, ...NO_DRAIN, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Waits for the JSON log line announcing the port. */
export async function listeningPort(r: Run, ms = 10_000): Promise<number> {
  return withDeadline(
    new Promise<number>((res, rej) => {
      const check = (): void => {
        const m = /"port":(\d+)/.exec(r.stdout());
        if (m) res(Number(m[1]));
      };
      r.child.stdout!.on('data', check);
      r.exit.then((code) => rej(new Error(`exited ${code}: ${r.stderr()}`)));
      check();
    }),
    ms,
    'server did not report its port',
  );
}

/** A `switchyard` role of a test cluster, started as its own process, and where it listens. */
export interface Proc {
  /** Unique in the test (the faults suite's `gw0#3`, for instance). */
  readonly name: string;
  readonly role: 'control-api' | 'gateway';
  readonly run: Run;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number;
}

/** `switchyard <role> <args…>` on loopback and a free port; resolves once it reported the port. */
export async function startProc(t: TestContext, name: string, role: Proc['role'], args: readonly string[]): Promise<Proc> {
  const r = run(t, [role, '--host', '127.0.0.1', '--port', '0', ...args]);
  const port = await listeningPort(r, 20_000);
  return { name, role, run: r, port, url: `http://127.0.0.1:${port}`, pid: r.child.pid as number };
}

/** The test tenants (testkit's TENANTS, or `tenants`) as a file for `--tenants`, removed when the test ends. */
export function tenantsFile(t: TestContext, tenants: unknown = TENANTS): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-tenants-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tenants.json');
  writeFileSync(file, JSON.stringify(tenants));
  return file;
}

export { freePort } from '@switchyard/testkit';
