import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { eventually, withDeadline } from '@switchyard/testkit';
import { envOf, execForm, finalStage } from './image/dockerfile.js';

// Issue 13, section 1. No Docker engine runs on these machines, so the image is checked by
// doing what its runtime stage does: the same COPYs from the context and from the build
// stage (the compiled dist of this checkout), the same `npm ci --omit=dev`, the same
// ENTRYPOINT and ENV, with the result made read-only. It must start and serve, which proves
// the image holds everything it needs and writes nothing outside /tmp.
const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const DOCKERFILE = join(ROOT, 'deploy/docker/Dockerfile');

test('image: the runtime stage of deploy/docker/Dockerfile, replayed here, starts read-only and serves', { timeout: 240_000 }, async (t) => {
  const stage = finalStage(DOCKERFILE);
  const workdir = stage.find((i) => i.op === 'WORKDIR')?.args[0];
  assert.equal(workdir, '/app');
  assert.deepEqual(execForm(stage, 'ENTRYPOINT'), ['switchyard']);
  assert.deepEqual(execForm(stage, 'CMD'), ['gateway']);
  assert.equal(stage.find((i) => i.op === 'STOPSIGNAL')?.args[0], 'SIGTERM');
  assert.equal(stage.find((i) => i.op === 'USER')?.args[0], '10001:10001', 'runs as a non-root user');
  const env = envOf(stage);
  assert.equal(env.HOME, '/tmp');

  const root = mkdtempSync(join(tmpdir(), 'sy-image-'));
  const app = join(root, 'app');
  const bin = join(root, 'usr/local/bin');
  mkdirSync(app, { recursive: true });
  mkdirSync(bin, { recursive: true });
  t.after(() => {
    execFileSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  });
  const into = (dest: string): string => (dest.startsWith('/') ? join(root, dest) : join(app, dest));

  for (const i of stage) {
    if (i.op === 'COPY') {
      const dest = i.args.at(-1) as string;
      for (const src of i.args.slice(0, -1)) {
        // --from=build copies the build stage's /src: this checkout, built by `tsc -b`.
        const from = i.flags.from === 'build' ? join(ROOT, src.replace(/^\/src\//, '')) : join(ROOT, src);
        assert.ok(existsSync(from), `COPY source ${src} exists (run npx tsc -b first)`);
        const to = dest.endsWith('/') ? join(into(dest), src.split('/').pop() as string) : into(dest);
        mkdirSync(dirname(to), { recursive: true });
        cpSync(from, to, { recursive: true });
      }
    } else if (i.op === 'RUN') {
      for (const cmd of i.text.split('&&').map((c) => c.trim())) {
        if (cmd.startsWith('npm ci ')) {
          assert.match(cmd, /--omit=dev/);
          execFileSync('npm', [...cmd.split(/\s+/).slice(1), '--prefer-offline'], { cwd: app, stdio: 'ignore' });
        } else if (cmd === 'ln -s /app/cli/bin/switchyard.js /usr/local/bin/switchyard') {
          symlinkSync(join(app, 'cli/bin/switchyard.js'), join(bin, 'switchyard'));
        } else if (!/^(npm cache clean --force|groupadd .*|useradd .*)$/.test(cmd)) {
          assert.fail(`a RUN step this test cannot replay: ${cmd}`);
        }
      }
    }
  }

  // Production dependencies and compiled JS only.
  for (const dev of ['typescript', 'tsx', '@types/node']) assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} is not in the image`);
  for (const src of ['shared/src', 'gateway/src', 'cli/src', 'control-api/src']) assert.ok(!existsSync(join(app, src)), `${src} is not in the image`);

  execFileSync('chmod', ['-R', 'a-w', app]);
  const child = spawn('switchyard', ['dev', '--tenants', join(ROOT, 'config/demo-tenants.json'), '--port', '0'], {
    cwd: '/',
    env: { PATH: `${bin}:${process.env.PATH}`, ...env, SWITCHYARD_DRAIN_DELAY: '0', SWITCHYARD_DRAIN_SECONDS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(() => void child.kill('SIGKILL'));
  const port = await eventually(() => Number(/"port":(\d+)/.exec(out)?.[1]) || undefined, `the image's switchyard reports its port (${out.slice(0, 400)})`, { timeoutMs: 15_000 });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, 'ready');
  const hello = await withDeadline(new Promise<string>((res, rej) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/ws?tenant=demo`);
    ws.once('message', (m) => { res(String(m)); ws.close(); });
    ws.once('error', rej);
  }), 5000, 'a WebSocket hello');
  assert.equal(JSON.parse(hello).type, 'hello');
  // The admin page (issue 14): its static files are in the image, served with their CSP, and
  // its API answers with the tenants file's adminToken.
  for (const [path, type] of [['/admin', 'text/html'], ['/admin/admin.js', 'text/javascript'], ['/admin/admin.css', 'text/css']] as const) {
    const r = await fetch(`${base}${path}`);
    assert.equal(r.status, 200, `${path} is served from the image`);
    assert.match(r.headers.get('content-type') ?? '', new RegExp(`^${type}`));
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'.*frame-ancestors 'none'/);
    assert.ok((await r.text()).length > 500, `${path} has its content`);
  }
  const overview = await fetch(`${base}/admin/api/overview`, { headers: { authorization: 'Bearer demo-admin-token' } });
  assert.equal(overview.status, 200);
  assert.equal(((await overview.json()) as { engine: string }).engine, 'embedded');
  child.kill('SIGTERM');
  assert.equal(await withDeadline(exit, 10_000, 'exit after SIGTERM'), 0);
  assert.doesNotMatch(out, /EACCES|EROFS|read-only/i, 'nothing tried to write outside /tmp');
});
