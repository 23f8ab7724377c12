import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startNatsServer } from '@switchyard/testkit';
import { redact, splitNatsUrls } from '../src/nats-url.js';
import { listeningPort, run } from './cli-process.js';
import { http, withDeadline } from './helpers.js';

test('splitNatsUrls: credentials leave the URLs for the options; conflicts are refused without naming the secret', () => {
  assert.deepEqual(splitNatsUrls(['nats://a:4222', 'b:4222']), { servers: ['nats://a:4222', 'b:4222'] });
  assert.deepEqual(splitNatsUrls(['nats://sy:p%40ss@a:4222', 'tls://sy:p%40ss@b:4223']), { servers: ['nats://a:4222', 'tls://b:4223'], user: 'sy', pass: 'p@ss' });
  assert.deepEqual(splitNatsUrls(['s3cr3t@a:4222']), { servers: ['nats://a:4222'], token: 's3cr3t' });
  assert.deepEqual(splitNatsUrls(['nats://a:4222'], { user: 'u', pass: 'p' }), { servers: ['nats://a:4222'], user: 'u', pass: 'p' });
  assert.deepEqual(splitNatsUrls(['nats://u:p@a:4222'], { user: 'u', pass: 'p' }), { servers: ['nats://a:4222'], user: 'u', pass: 'p' });
  assert.throws(() => splitNatsUrls(['nats://u:SECRET1@a', 'nats://u:SECRET2@b']), (e: Error) => /different credentials/.test(e.message) && !/SECRET/.test(e.message));
  assert.throws(() => splitNatsUrls(['nats://u:SECRET1@a'], { user: 'u', pass: 'SECRET2' }), (e: Error) => /give them once/.test(e.message) && !/SECRET/.test(e.message));
  assert.equal(redact('nats://u:secret@host:4222'), 'nats://***@host:4222');
});

test('a cluster role given nats://user:pass@… authenticates with them, and no log line holds the password', async (t) => {
  const nats = await startNatsServer({ user: 'sy', pass: 'p@ss-w0rd' });
  t.after(() => nats.stop());
  const url = `nats://sy:${encodeURIComponent('p@ss-w0rd')}@127.0.0.1:${nats.port}`;
  const r = run(t, ['control-api', '--port', '0', '--host', '127.0.0.1', '--tenants', 'config/demo-tenants.json', '--nats', url, '--log-level', 'debug']);
  const port = await listeningPort(r);
  await withDeadline(
    (async () => {
      for (;;) {
        if ((await http({ url: `http://127.0.0.1:${port}` } as never, 'GET', '/readyz')).status === 200) return;
        await new Promise((res) => setTimeout(res, 100));
      }
    })(),
    15_000,
    'ready with the URL credentials',
  );
  const wrong = run(t, ['control-api', '--port', '0', '--host', '127.0.0.1', '--tenants', 'config/demo-tenants.json', '--nats', `nats://sy:not-it@127.0.0.1:${nats.port}`]);
  await listeningPort(wrong);
  await new Promise((res) => setTimeout(res, 1500)); // a few failed attempts, logged
  for (const out of [r.stdout() + r.stderr(), wrong.stdout() + wrong.stderr()]) {
    assert.ok(!out.includes('p@ss-w0rd') && !out.includes('p%40ss-w0rd') && !out.includes('not-it'), 'no password in the logs');
  }
  assert.match(wrong.stdout(), /NATS not reachable yet; retrying/);
});
