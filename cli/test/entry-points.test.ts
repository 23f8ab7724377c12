/**
 * The embedded engine's processes never load the NATS client: `@switchyard/shared` (the
 * root entry), the gateway, the control API and the CLI reach @nats-io/* only through
 * `@switchyard/shared/nats`, which the CLI imports dynamically when --nats is given.
 *
 * Proof by observation: a child process registers a module-resolution hook that writes down
 * every URL it resolves, imports the entries (and makes an embedded engine the way the CLI
 * does), and exits; the test then reads the list.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEADLINE_MS = 60_000;

/** Runs in the hooks thread: appends each resolved URL to `data.file`, synchronously. */
const HOOK = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(file, r.url + '\\n');
  return r;
}`;

/** Every URL resolved while `body` (module code, top-level await allowed) runs in a fresh process. */
async function resolvedUrls(body: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-entry-'));
  const file = join(dir, 'resolved.txt');
  const script = [
    `import { register } from 'node:module';`,
    `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}), import.meta.url, { data: { file: ${JSON.stringify(file)} } });`,
    body,
  ].join('\n');
  try {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve)).finally(() => clearTimeout(timer));
    assert.equal(code, 0, `child failed: ${stderr.slice(-2000)}`);
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const nats = (urls: readonly string[]): string[] => urls.filter((u) => u.includes('@nats-io'));

test('the root entries and an embedded-engine CLI never load @nats-io/*', async () => {
  const urls = await resolvedUrls(`
    const shared = await import('@switchyard/shared');
    await import('@switchyard/gateway');
    await import('@switchyard/control-api');
    await import('switchyard/main');
    const { startServer } = await import('switchyard/server');
    const { createEngine } = await import('switchyard/engine');
    const log = shared.createLogger('silent');
    const engine = await createEngine('dev', {}, shared.loadTenantsFile('config/demo-tenants.json'), log);
    if (engine.kind !== 'embedded') throw new Error('expected the embedded engine, got ' + engine.kind);
    const server = await startServer({
      role: 'dev', host: '127.0.0.1', port: 0, nodeId: 'n1', tenants: shared.loadTenantsFile('config/demo-tenants.json'), log, engine,
      limits: { maxPayload: 1024, maxBufferedBytes: 1 << 20, maxSubscriptions: 10, idleTimeoutSeconds: 60 },
    });
    await server.close();
  `);
  // The hook saw the graph (so an empty list cannot pass), and none of it was NATS.
  for (const part of ['/shared/src/index.ts', '/gateway/src/', '/control-api/src/', '/cli/src/server.ts', '/cli/src/engine.ts']) {
    assert.ok(urls.some((u) => u.includes(part)), `resolved ${part}`);
  }
  assert.deepEqual(nats(urls), []);
});

test('--nats loads the NATS engine through @switchyard/shared/nats (the hook does see @nats-io)', async () => {
  const urls = await resolvedUrls(`
    const shared = await import('@switchyard/shared');
    const { createEngine } = await import('switchyard/engine');
    const config = { nats: ['nats://127.0.0.1:1'], natsPrefix: 'entry', natsReplicas: 1, nodeId: 'n1' };
    const engine = await createEngine('gateway', config, shared.loadTenantsFile('config/demo-tenants.json'), shared.createLogger('silent'));
    if (engine.kind !== 'nats') throw new Error('expected the NATS engine, got ' + engine.kind);
    await engine.close();
  `);
  assert.ok(urls.some((u) => u.includes('/shared/src/nats.ts')), 'resolved @switchyard/shared/nats');
  assert.notDeepEqual(nats(urls), []);
});
