import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@switchyard/testkit';

/** One series of an instant query: its labels and `[unix seconds, "value"]`. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One series of a range query. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** A rule as `/api/v1/rules` reports it. */
export interface LoadedRule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  duration?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  file: string;
  rules: LoadedRule[];
}

/** An active alert as `/api/v1/alerts` reports it. */
export interface ActiveAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

/** A real Prometheus server started by a test. */
export interface Prometheus {
  readonly url: string;
  /** `GET /api/v1/<path>`: the `data` of a successful answer; throws on an error answer. */
  api<T>(path: string, params?: Record<string, string | string[]>): Promise<T>;
  /** An instant query at now. */
  query(expr: string): Promise<Sample[]>;
  /** A range query, `start` and `end` in ms since the epoch, `step` in seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<RangeSeries[]>;
  /** What the server wrote on stderr (its log), the last 4000 characters. */
  log(): string;
  /** SIGTERM, SIGKILL after 5 s; removes the data directory. Idempotent. */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** `host:port` of every process to scrape, all in one job. */
  readonly targets: readonly string[];
  /** Absolute paths of rule files to load. */
  readonly ruleFiles: readonly string[];
  /** The scrape job's name (default `switchyard`). */
  readonly job?: string;
}

/** A free TCP port on 127.0.0.1 at the moment of asking. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts Debian's `prometheus` (never the packaged service) with a generated configuration:
 * one job scraping `targets` every second (scrape timeout 1 s, rule evaluation every
 * second), the rule files loaded, the TSDB in a temporary directory, the web API on a free
 * port of 127.0.0.1. Resolves once `/-/ready` answers 200; stopped when the test ends.
 * Prometheus applies new targets in batches every 5 s, so the first scrape comes up to
 * ~5 s after this resolves.
 */
export async function startPrometheus(t: TestContext, o: PrometheusOptions): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  // JSON is YAML: no YAML writer needed.
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: o.ruleFiles,
      scrape_configs: [{ job_name: o.job ?? 'switchyard', static_configs: [{ targets: o.targets }] }],
    }),
  );

  let child: ChildProcess | undefined;
  let stderr = '';
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const c = child;
    if (c !== undefined && c.exitCode === null && c.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
        c.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        c.kill('SIGTERM');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  t.after(stop);

  let url = '';
  // The free port may be taken between asking and binding: try again with another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    stderr = '';
    const c = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    let spawnError: Error | undefined;
    c.once('error', (err) => (spawnError = err));
    c.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    const state = await eventually(
      async () => {
        if (spawnError !== undefined || c.exitCode !== null || c.signalCode !== null) return 'exited';
        const res = await fetch(`${url}/-/ready`).catch(() => undefined);
        return res?.status === 200 ? 'ready' : false;
      },
      'prometheus answers /-/ready',
      { timeoutMs: 15_000, everyMs: 50 },
    );
    if (state === 'ready') break;
    if (spawnError !== undefined) throw new Error(`cannot run prometheus (Debian package "prometheus", which has promtool too): ${spawnError.message}`);
    if (attempt < 3 && /address already in use/.test(stderr)) continue;
    throw new Error(`prometheus exited (${c.exitCode ?? c.signalCode}): ${stderr}`);
  }

  const api = async <T>(path: string, params: Record<string, string | string[]> = {}): Promise<T> => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
    const res = await fetch(`${url}/api/v1/${path}?${qs}`);
    const body = (await res.json()) as { status: string; data?: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data as T;
  };
  return {
    url,
    api,
    async query(expr) {
      return (await api<{ result: Sample[] }>('query', { query: expr })).result;
    },
    async queryRange(expr, start, end, step) {
      const r = await api<{ result: RangeSeries[] }>('query_range', {
        query: expr,
        start: (start / 1000).toFixed(3),
        end: (end / 1000).toFixed(3),
        step: String(step),
      });
      return r.result;
    },
    log: () => stderr,
    stop,
  };
}

/** Runs `promtool` with `args`: its exit code and everything it printed. */
export function promtool(args: readonly string[], cwd?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', [...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd !== undefined ? { cwd } : {}) });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}
