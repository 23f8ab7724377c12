import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhook, webhookSignedText, WEBHOOK_TOLERANCE_SECONDS } from '../src/auth/webhook-signature.js';
import { purposeKey } from '../src/auth/hmac.js';
import { parseTenants, TenantsConfigError, withApiUri } from '../src/config/tenants.js';
import { TENANTS } from '@switchyard/testkit';

/** The documented formula, computed independently of the module. */
const hex = (key: string, text: string): string => createHmac('sha256', key).update(text, 'utf8').digest('hex');
const BODY = '{"ws_uri":"http://127.0.0.1:8080/v1/connections/n%3Aabc","data":"h\u00e9llo \u{1F600}"}';

test('signWebhook: t=<seconds>,v1=<hex HMAC of "<t>.<METHOD>.<body>"> per key, in order; pure', () => {
  const h = signWebhook(['key-one-0123456789', 'key-two-0123456789'], 'put', BODY, 1_700_000_000);
  assert.equal(
    h,
    `t=1700000000,v1=${hex('key-one-0123456789', `1700000000.PUT.${BODY}`)},v1=${hex('key-two-0123456789', `1700000000.PUT.${BODY}`)}`,
  );
  assert.equal(signWebhook(['key-one-0123456789', 'key-two-0123456789'], 'PUT', BODY, 1_700_000_000), h, 'same inputs, same header');
  // Bytes and the string they encode sign alike (the body is sent as UTF-8).
  assert.equal(signWebhook(['k'.repeat(16)], 'POST', Buffer.from(BODY, 'utf8'), 5), signWebhook(['k'.repeat(16)], 'POST', BODY, 5));
  // A body-less call signs the empty body.
  assert.equal(signWebhook(['k'.repeat(16)], 'DELETE', '', 7), `t=7,v1=${hex('k'.repeat(16), '7.DELETE.')}`);
  assert.equal(webhookSignedText(7, 'delete', '').toString(), '7.DELETE.');
  assert.throws(() => signWebhook([], 'PUT', BODY, 1), /no key/);
});

test('verifyWebhook: ok within the window with any configured key; stale, tampered, wrong key, wrong method and junk refused', () => {
  const now = 1_700_000_000;
  const keys = ['new-secret-0123456789', 'old-secret-0123456789'];
  const h = signWebhook(keys, 'PUT', BODY, now);
  assert.equal(verifyWebhook(h, 'PUT', BODY, ['new-secret-0123456789'], { now }), 'ok');
  assert.equal(verifyWebhook(h, 'PUT', BODY, ['old-secret-0123456789'], { now }), 'ok', 'a backend still on the old secret');
  assert.equal(verifyWebhook(h, 'PUT', BODY, ['other-secret-0123456789'], { now }), 'mismatch');
  assert.equal(verifyWebhook(h, 'PUT', BODY.replace('llo', 'llO'), keys, { now }), 'mismatch', 'one changed byte');
  assert.equal(verifyWebhook(h, 'DELETE', BODY, keys, { now }), 'mismatch', 'a PUT replayed as a DELETE');
  assert.equal(verifyWebhook(h, 'PUT', BODY, keys, { now: now + WEBHOOK_TOLERANCE_SECONDS }), 'ok');
  assert.equal(verifyWebhook(h, 'PUT', BODY, keys, { now: now + WEBHOOK_TOLERANCE_SECONDS + 1 }), 'stale');
  assert.equal(verifyWebhook(h, 'PUT', BODY, keys, { now: now - WEBHOOK_TOLERANCE_SECONDS - 1 }), 'stale', 'from the future too');
  // A re-dated header: the old signature no longer matches its new t.
  assert.equal(verifyWebhook(h.replace(`t=${now}`, `t=${now + 60}`), 'PUT', BODY, keys, { now }), 'mismatch');
  for (const junk of [undefined, '', 't=1', `v1=${'0'.repeat(64)}`, 't=abc,v1=00', 't=-5,v1=00']) {
    assert.equal(verifyWebhook(junk, 'PUT', BODY, keys, { now }), 'malformed', String(junk));
  }
  // A later scheme beside v1 is ignored; upper-case hex is accepted.
  assert.equal(verifyWebhook(`${h.toUpperCase().replace('T=', 't=').replaceAll('V1=', 'v1=')},v2=zzz`, 'PUT', BODY, keys, { now }), 'ok');
});

const withWebhook = (webhook: unknown, demo: Record<string, unknown> = {}) =>
  parseTenants({ ...TENANTS, tenants: { ...TENANTS.tenants, demo: { ...TENANTS.tenants.demo, ...demo, webhook } } });

test('tenants: webhook.secret absent = one key derived from backendSecret (purpose webhook-signature), distinct from every other purpose', () => {
  const keys = withWebhook({ url: 'localhost:3000/hook' }).tenants.get('demo')!.webhook!.signingKeys;
  const derived = hex('demo-backend-secret', 'switchyard/webhook-signature/v1');
  assert.deepEqual(keys, [derived]);
  assert.equal(purposeKey('demo-backend-secret', 'webhook-signature'), derived);
  for (const p of ['native-token', 'site-token', 'otter-presence', 'otter-backend', 'bartnet-credential'] as const) {
    assert.notEqual(purposeKey('demo-backend-secret', p), derived, p);
  }
  // API_URI on a file without a webhook signs the same way.
  const single = parseTenants({ adminToken: 'test-admin-token', tenants: { demo: TENANTS.tenants.demo } });
  assert.deepEqual(withApiUri(single, 'localhost:3000/hook').tenants.get('demo')!.webhook!.signingKeys, [derived]);
  // …and keeps an explicit secret.
  const explicit = parseTenants({ adminToken: 'test-admin-token', tenants: { demo: { ...TENANTS.tenants.demo, webhook: { url: 'h:1', secret: 'whsec-0123456789abcdef' } } } });
  assert.deepEqual(withApiUri(explicit, 'localhost:3000/x').tenants.get('demo')!.webhook!.signingKeys, ['whsec-0123456789abcdef']);
});

test('tenants: webhook.secret is a string or a list of 1-4 (rotation), used as is, in order', () => {
  assert.deepEqual(withWebhook({ url: 'h:1', secret: 'whsec-0123456789abcdef' }).tenants.get('demo')!.webhook!.signingKeys, ['whsec-0123456789abcdef']);
  assert.deepEqual(withWebhook({ url: 'h:1', secret: ['whsec-new-0123456789', 'whsec-old-0123456789'] }).tenants.get('demo')!.webhook!.signingKeys, [
    'whsec-new-0123456789',
    'whsec-old-0123456789',
  ]);
});

test('tenants: a bad webhook.secret is refused, naming its path', () => {
  const cases: [unknown, string][] = [
    ['short', 'tenants.demo.webhook.secret: must be a string of 16 to 1024 characters'],
    [42, 'tenants.demo.webhook.secret: must be a string or a list of 1 to 4 strings (the first is the current secret)'],
    [[], 'tenants.demo.webhook.secret: must be a string or a list of 1 to 4 strings (the first is the current secret)'],
    [['a'.repeat(16), 'b'.repeat(16), 'c'.repeat(16), 'd'.repeat(16), 'e'.repeat(16)], 'tenants.demo.webhook.secret: must be a string or a list of 1 to 4 strings (the first is the current secret)'],
    [['whsec-0123456789abcdef', 7], 'tenants.demo.webhook.secret[1]: must be a string of 16 to 1024 characters'],
    [['whsec-0123456789abcdef', 'whsec-0123456789abcdef'], 'tenants.demo.webhook.secret[1]: appears twice'],
    ['demo-backend-secret-long', 'tenants.demo.webhook.secret: must differ from secret, postSecret and backendSecret (one key, one purpose)'],
  ];
  for (const [secret, problem] of cases) {
    assert.throws(
      () => withWebhook({ url: 'h:1', secret }, { backendSecret: 'demo-backend-secret-long' }),
      (e) => e instanceof TenantsConfigError && e.problems.includes(problem),
      `${JSON.stringify(secret)} → ${problem}`,
    );
  }
});
