import type { TestContext } from 'node:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TENANTS } from '@switchyard/testkit';
import { listeningPort, run, type Run } from '../cli-process.js';

/** A `switchyard dev` child process under fuzz, with what it logged that a fuzz run must never cause. */
export interface FuzzServer {
  base: string;
  readonly pid: number;
  readonly run: Run;
  /** Log lines at level error or above, or naming an unhandled rejection or uncaught exception, in order. */
  readonly problems: LogProblem[];
  /** Called once per problem line as it arrives (the fuzzer snapshots what it just sent). */
  onProblem: (p: LogProblem) => void;
  /** Set when the process exited (it must not, until the test ends it). */
  exited: { code: number | null; signal: NodeJS.Signals | null; at: number } | undefined;
  /** Resident set size now, in kB (VmRSS of /proc/<pid>/status). */
  rssKb(): number;
}

export interface LogProblem {
  readonly at: number;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

/**
 * Starts `switchyard dev --port 0` on a temporary tenants file: the test fixture, with a
 * `webhook` for demo (the WSaaS backend at `webhookUrl`; a queue deep enough for the fuzzer's
 * windows of frames).
 */
export async function startFuzzServer(t: TestContext, webhookUrl: string): Promise<FuzzServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-fuzz-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tenants.json');
  const demo = { ...TENANTS.tenants.demo, webhook: { url: webhookUrl, timeoutMs: 10_000, maxQueue: 1000 } };
  writeFileSync(file, JSON.stringify({ ...TENANTS, tenants: { ...TENANTS.tenants, demo } }));
  const r = run(t, ['dev', '--port', '0', '--host', '127.0.0.1', '--node-id', 'fuzz', '--log-level', 'info', '--tenants', file]);
  const server: FuzzServer = {
    base: '',
    pid: r.child.pid!,
    run: r,
    problems: [],
    onProblem: () => {},
    exited: undefined,
    rssKb: () => rssKb(r.child.pid!),
  };
  r.exit.then((code) => (server.exited = { code, signal: r.child.signalCode, at: Date.now() }));
  const scan = (stream: 'stdout' | 'stderr', bad: (line: string) => boolean) => {
    let partial = '';
    r.child[stream]!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (!bad(line)) continue;
        const p = { at: Date.now(), stream, line: line.slice(0, 4000) };
        server.problems.push(p);
        server.onProblem(p);
      }
    });
  };
  scan('stdout', badLogLine);
  scan('stderr', badStderrLine);
  server.base = `http://127.0.0.1:${await listeningPort(r)}`;
  return server;
}

/**
 * A log line at level error (50) or fatal (60), or whose message names an unhandled rejection
 * or uncaught exception. stdout carries JSON lines only: any other line came from a crash or a
 * stray console call.
 */
export function badLogLine(line: string): boolean {
  if (line.trim() === '') return false;
  let entry: { level?: unknown; msg?: unknown };
  try {
    entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
  } catch {
    return true;
  }
  return (typeof entry.level === 'number' && entry.level >= 50) || /unhandled|uncaught/i.test(String(entry.msg ?? ''));
}

/** stderr has the banner and uWS's corked-write warning (docs/dialects/wsaas.md); an error or a stack is a problem. */
export function badStderrLine(line: string): boolean {
  return /\b(error|unhandled|uncaught|fatal|abort(ed)?|segmentation)\b|^\s+at .+:\d+:\d+\)?$/i.test(line);
}

export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]);
}
