import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTenantsFile, parseTenants, TenantsConfigError } from '../src/config/tenants.js';
import { DEFAULT_NAMESPACE, type Tenant } from '../src/model/tenant.js';
import { resolveChannel } from '../src/model/channel.js';

const DEMO_PATH = fileURLToPath(new URL('../../config/demo-tenants.json', import.meta.url));

/** A valid document; each test clones and breaks it. */
function valid(): Record<string, any> {
  return {
    adminToken: 'admin-token-123',
    tenants: {
      demo: {
        secret: 'demo-client-secret',
        postSecret: 'demo-post-secret',
        backendSecret: 'demo-backend-secret',
        namespaces: {
          chat: { history: 100, historyTtlSeconds: 3600, presence: true, clientPublish: true },
          news: { history: 1000, historyTtlSeconds: 86400 },
          live: { history: 0 },
        },
      },
    },
  };
}

function tenantOf(reg: ReturnType<typeof parseTenants>, id: string): Tenant {
  const t = reg.tenants.get(id);
  assert.ok(t, `tenant ${id}`);
  return t;
}

/** Asserts that parsing throws a TenantsConfigError with a problem starting with `path`. */
function rejects(raw: unknown, path: string, msgPart?: RegExp): TenantsConfigError {
  let caught: unknown;
  try {
    parseTenants(raw);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TenantsConfigError, `expected TenantsConfigError for ${path}, got ${String(caught)}`);
  const hit = caught.problems.find((p) => p.startsWith(`${path}: `));
  assert.ok(hit, `no problem for ${path} in ${JSON.stringify(caught.problems)}`);
  if (msgPart) assert.match(hit, msgPart);
  assert.ok(caught.message.includes(path), 'message names the path');
  return caught;
}

test('the demo tenants file in the repo loads', () => {
  const reg = loadTenantsFile(DEMO_PATH);
  const raw = JSON.parse(readFileSync(DEMO_PATH, 'utf8'));
  assert.equal(reg.adminToken, raw.adminToken);
  assert.ok(reg.tenants.size >= 1);
  for (const [id, t] of reg.tenants) assert.equal(t.id, id);
});

test('parses the documented shape', () => {
  const reg = parseTenants(valid());
  assert.equal(reg.adminToken, 'admin-token-123');
  assert.deepEqual([...reg.tenants.keys()], ['demo']);
  const t = tenantOf(reg, 'demo');
  assert.equal(t.id, 'demo');
  assert.equal(t.secret, 'demo-client-secret');
  assert.equal(t.postSecret, 'demo-post-secret');
  assert.equal(t.backendSecret, 'demo-backend-secret');
  assert.equal(t.anonymous, false);
  assert.deepEqual(t.namespaces.get('chat'), { history: 100, historyTtlSeconds: 3600, presence: true, clientPublish: true });
  assert.deepEqual(t.defaultNamespace, DEFAULT_NAMESPACE);
});

test('namespace keys left out take the defaults', () => {
  const t = tenantOf(parseTenants(valid()), 'demo');
  assert.deepEqual(t.namespaces.get('news'), { history: 1000, historyTtlSeconds: 86400, presence: false, clientPublish: false });
  assert.deepEqual(t.namespaces.get('live'), { history: 0, historyTtlSeconds: 0, presence: false, clientPublish: false });
});

test('defaults: unknown prefixes resolve to the default namespace (history 100)', () => {
  const t = tenantOf(parseTenants(valid()), 'demo');
  for (const name of ['lobby', 'other:room', 'Chat:room', ':chat']) {
    const c = resolveChannel(t, name);
    assert.equal(c.namespace, '', name);
    assert.equal(c.opts.history, 100, name);
    assert.equal(c.opts.historyTtlSeconds, 0, name);
    assert.equal(c.opts.presence, false, name);
    assert.equal(c.opts.clientPublish, false, name);
  }
  assert.equal(resolveChannel(t, 'live:x').opts.history, 0);
  assert.equal(resolveChannel(t, 'news:x').opts.history, 1000);
});

test('a tenant with no namespaces is fine', () => {
  const doc = valid();
  delete doc.tenants.demo.namespaces;
  const t = tenantOf(parseTenants(doc), 'demo');
  assert.equal(t.namespaces.size, 0);
  assert.equal(resolveChannel(t, 'chat:x').opts.history, 100);
});

test('anonymous: true is kept', () => {
  const doc = valid();
  doc.tenants.demo.anonymous = true;
  assert.equal(tenantOf(parseTenants(doc), 'demo').anonymous, true);
});

test('defaultNamespace overrides the defaults and is inherited by namespaces', () => {
  const doc = valid();
  doc.tenants.demo.defaultNamespace = { history: 5, presence: true };
  doc.tenants.demo.namespaces = { a: { clientPublish: true }, b: { history: 7 } };
  const t = tenantOf(parseTenants(doc), 'demo');
  assert.deepEqual(t.defaultNamespace, { history: 5, historyTtlSeconds: 0, presence: true, clientPublish: false });
  assert.deepEqual(t.namespaces.get('a'), { history: 5, historyTtlSeconds: 0, presence: true, clientPublish: true });
  assert.deepEqual(t.namespaces.get('b'), { history: 7, historyTtlSeconds: 0, presence: true, clientPublish: false });
  assert.equal(resolveChannel(t, 'plain').opts.history, 5);
});

test('several tenants', () => {
  const doc = valid();
  doc.tenants['other_tenant-2'] = { secret: '12345678', postSecret: 'abcdefgh', backendSecret: 'ABCDEFGH' };
  const reg = parseTenants(doc);
  assert.deepEqual([...reg.tenants.keys()].sort(), ['demo', 'other_tenant-2']);
  assert.equal(tenantOf(reg, 'other_tenant-2').secret, '12345678');
});

test('bounds: history 0..1_000_000 and historyTtlSeconds 0..10 years are accepted', () => {
  const doc = valid();
  doc.tenants.demo.namespaces = {
    lo: { history: 0, historyTtlSeconds: 0 },
    hi: { history: 1_000_000, historyTtlSeconds: 10 * 365 * 86400 },
  };
  const t = tenantOf(parseTenants(doc), 'demo');
  assert.equal(t.namespaces.get('hi')?.history, 1_000_000);
  assert.equal(t.namespaces.get('hi')?.historyTtlSeconds, 315_360_000);
});

test('parsed registry is frozen', () => {
  const reg = parseTenants(valid());
  const t = tenantOf(reg, 'demo');
  assert.ok(Object.isFrozen(reg));
  assert.ok(Object.isFrozen(t));
  assert.ok(Object.isFrozen(t.namespaces.get('chat')));
});

// ---- rejections, each naming the field path ----

const badNamespaceValues: [string, unknown][] = [
  ['history', -1],
  ['history', 1.5],
  ['history', '100'],
  ['history', 1_000_001],
  ['history', null],
  ['historyTtlSeconds', -5],
  ['historyTtlSeconds', 10 * 365 * 86400 + 1],
  ['historyTtlSeconds', true],
  ['presence', 'yes'],
  ['presence', 1],
  ['clientPublish', null],
  ['clientPublish', 'true'],
];
for (const [key, value] of badNamespaceValues) {
  test(`rejects namespaces.chat.${key} = ${JSON.stringify(value)}`, () => {
    const doc = valid();
    doc.tenants.demo.namespaces.chat[key] = value;
    rejects(doc, `tenants.demo.namespaces.chat.${key}`, key.startsWith('history') ? /integer from 0 to/ : /true or false/);
  });
}

test('rejects a bad defaultNamespace field with its path', () => {
  const doc = valid();
  doc.tenants.demo.defaultNamespace = { history: -1 };
  rejects(doc, 'tenants.demo.defaultNamespace.history');
});

test('rejects a namespace that is not an object', () => {
  for (const v of ['x', 5, null, [1]]) {
    const doc = valid();
    doc.tenants.demo.namespaces.chat = v;
    rejects(doc, 'tenants.demo.namespaces.chat', /must be an object/);
  }
});

test('rejects namespaces that is not an object', () => {
  const doc = valid();
  doc.tenants.demo.namespaces = ['chat'];
  rejects(doc, 'tenants.demo.namespaces', /must be an object/);
});

test('rejects a bad namespace name', () => {
  for (const name of ['a:b', 'has space', 'a.b', '', 'x'.repeat(65)]) {
    const doc = valid();
    doc.tenants.demo.namespaces[name] = { history: 1 };
    rejects(doc, `tenants.demo.namespaces.${name}`, /namespace name/);
  }
});

test('rejects unknown keys at every level', () => {
  const root = valid();
  root.adminTokn = 'typo-typo-typo';
  rejects(root, 'adminTokn', /unknown key/);

  const tenant = valid();
  tenant.tenants.demo.secrte = 'typo-typo-typo';
  rejects(tenant, 'tenants.demo.secrte', /unknown key/);

  const ns = valid();
  ns.tenants.demo.namespaces.chat.histroy = 5;
  rejects(ns, 'tenants.demo.namespaces.chat.histroy', /unknown key/);

  const def = valid();
  def.tenants.demo.defaultNamespace = { presense: true };
  rejects(def, 'tenants.demo.defaultNamespace.presense', /unknown key/);
});

test('rejects short or missing secrets', () => {
  for (const key of ['secret', 'postSecret', 'backendSecret']) {
    for (const v of ['short', '1234567', '', undefined, 12345678]) {
      const doc = valid();
      if (v === undefined) delete doc.tenants.demo[key];
      else doc.tenants.demo[key] = v;
      rejects(doc, `tenants.demo.${key}`, /at least 8 characters/);
    }
  }
  const ok = valid();
  ok.tenants.demo.secret = '12345678'; // exactly 8
  assert.equal(tenantOf(parseTenants(ok), 'demo').secret, '12345678');
});

test('rejects a short or missing adminToken', () => {
  const short = valid();
  short.adminToken = 'short';
  const err = rejects(short, 'adminToken', /at least 8 characters/);
  assert.match(err.message, /adminToken/);
  const missing = valid();
  delete missing.adminToken;
  rejects(missing, 'adminToken');
});

test('rejects bad tenant ids', () => {
  for (const id of ['has space', 'a.b', 'a/b', 'ü', '', 'x'.repeat(65)]) {
    const doc = valid();
    doc.tenants[id] = { ...doc.tenants.demo };
    rejects(doc, `tenants.${id}`, /tenant id/);
  }
  const ok = valid();
  ok.tenants['x'.repeat(64)] = { ...ok.tenants.demo };
  assert.ok(parseTenants(ok).tenants.has('x'.repeat(64)));
});

test('rejects a tenant that is not an object', () => {
  const doc = valid();
  doc.tenants.demo = 'nope';
  rejects(doc, 'tenants.demo', /must be an object/);
});

test('rejects anonymous that is not a boolean', () => {
  const doc = valid();
  doc.tenants.demo.anonymous = 'yes';
  rejects(doc, 'tenants.demo.anonymous', /true or false/);
});

test('rejects missing, empty or non-object tenants', () => {
  for (const v of [undefined, {}, [], 'x', null]) {
    const doc = valid();
    if (v === undefined) delete doc.tenants;
    else doc.tenants = v;
    rejects(doc, 'tenants', /at least one tenant/);
  }
});

test('rejects a root that is not an object', () => {
  for (const v of [null, [], 'x', 42, undefined]) rejects(v, '(root)', /JSON object/);
});

test('reports every problem at once, and names the source', () => {
  const doc = valid();
  doc.tenants.demo.secret = 'x';
  doc.tenants.demo.namespaces.chat.history = -1;
  doc.extra = 1;
  let caught: unknown;
  try {
    parseTenants(doc, 'my-file.json');
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TenantsConfigError);
  assert.equal(caught.name, 'TenantsConfigError');
  assert.equal(caught.problems.length, 3);
  assert.match(caught.message, /my-file\.json/);
  for (const p of ['extra', 'tenants.demo.secret', 'tenants.demo.namespaces.chat.history']) {
    assert.ok(caught.message.includes(p), p);
  }
});

// ---- loadTenantsFile ----

test('loadTenantsFile: reads a valid file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tenants-'));
  try {
    const file = join(dir, 'tenants.json');
    writeFileSync(file, JSON.stringify(valid()));
    const reg = loadTenantsFile(file);
    assert.equal(tenantOf(reg, 'demo').namespaces.get('live')?.history, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadTenantsFile: a missing file is a TenantsConfigError naming the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tenants-'));
  try {
    const file = join(dir, 'does-not-exist.json');
    assert.throws(
      () => loadTenantsFile(file),
      (err: unknown) =>
        err instanceof TenantsConfigError &&
        err.message.includes(file) &&
        err.problems.length === 1 &&
        (err.problems[0] ?? '').startsWith('cannot read file'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadTenantsFile: invalid JSON is a TenantsConfigError', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tenants-'));
  try {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"adminToken": "admin-token-123", "tenants": {');
    assert.throws(
      () => loadTenantsFile(file),
      (err: unknown) =>
        err instanceof TenantsConfigError &&
        err.message.includes(file) &&
        (err.problems[0] ?? '').startsWith('not valid JSON'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadTenantsFile: valid JSON with bad content names the field and the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-tenants-'));
  try {
    const file = join(dir, 'bad-field.json');
    const doc = valid();
    doc.tenants.demo.namespaces.chat.history = 'lots';
    writeFileSync(file, JSON.stringify(doc));
    assert.throws(
      () => loadTenantsFile(file),
      (err: unknown) =>
        err instanceof TenantsConfigError &&
        err.message.includes(file) &&
        err.message.includes('tenants.demo.namespaces.chat.history'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a tenant backendSecret must differ from its secret', () => {
  assert.throws(
    () => parseTenants({ adminToken: 'admin-token-1', tenants: { t: { secret: 'same-secret-1', postSecret: 'post-secret-1', backendSecret: 'same-secret-1' } } }),
    /tenants\.t\.backendSecret: must differ from secret/,
  );
});

test('maxConnections: absent means no limit (0); an integer from 0 to 10000000 otherwise', () => {
  assert.equal(tenantOf(parseTenants(valid()), 'demo').maxConnections, 0);
  const ok = valid();
  ok.tenants.demo.maxConnections = 500;
  assert.equal(tenantOf(parseTenants(ok), 'demo').maxConnections, 500);
  for (const bad of [-1, 1.5, '10', 10_000_001]) {
    const raw = valid();
    raw.tenants.demo.maxConnections = bad;
    rejects(raw, 'tenants.demo.maxConnections', /must be an integer from 0 \(no limit\) to 10000000/);
  }
});
