import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelKey, isValidChannel, MAX_CHANNEL_LENGTH, resolveChannel } from '../src/model/channel.js';
import { parseTenants } from '../src/config/tenants.js';
import { ErrorCode, ProtocolError } from '../src/codes.js';
import type { Tenant } from '../src/model/tenant.js';

const registry = parseTenants({
  adminToken: 'channel-admin-token',
  tenants: {
    acme: {
      secret: 'acme-client-secret',
      postSecret: 'acme-post-secret',
      backendSecret: 'acme-backend-secret',
      namespaces: {
        chat: { history: 10, presence: true, clientPublish: true },
        live: { history: 0 },
        'x-y_z': { history: 3 },
      },
    },
    other: {
      secret: 'other-client-secret',
      postSecret: 'other-post-secret',
      backendSecret: 'other-backend-secret',
      defaultNamespace: { history: 7 },
    },
  },
});
const get = (id: string): Tenant => {
  const t = registry.tenants.get(id);
  if (t === undefined) throw new Error(`no tenant ${id}`);
  return t;
};
const acme = get('acme');
const other = get('other');

test('MAX_CHANNEL_LENGTH is 200', () => {
  assert.equal(MAX_CHANNEL_LENGTH, 200);
});

test('valid channel names', () => {
  for (const name of [
    'a',
    'room',
    'room 1 with spaces',
    ' ',
    'chat:room',
    'a/b/c',
    'a.b.c',
    'news.*',
    'news.>',
    '*',
    '>',
    'ünïcödé',
    '日本語のチャンネル',
    'emoji 🎉',
    'x'.repeat(200),
    '\u00a0nbsp', // U+00A0 is just past the C1 range
    'line\u2028sep', // not a control character under the rule
    ':leading-colon',
    'trailing-colon:',
    'a:b:c',
  ]) {
    assert.equal(isValidChannel(name), true, JSON.stringify(name));
  }
});

test('length limit counts UTF-16 code units', () => {
  assert.equal(isValidChannel('x'.repeat(201)), false);
  assert.equal(isValidChannel('🎉'.repeat(100)), true); // 200 code units
  assert.equal(isValidChannel('🎉'.repeat(100) + 'x'), false); // 201 code units
});

test('invalid channel names', () => {
  const bad: unknown[] = ['', 'x'.repeat(201), 'tab\there', 'new\nline', 'cr\r', 'nul\u0000', '\u001f', 'del\u007f', 'c1\u0080', 'c1\u009f', 'esc\u001b[0m'];
  for (const name of bad) assert.equal(isValidChannel(name), false, JSON.stringify(name));
});

test('non-strings are not channels', () => {
  for (const v of [undefined, null, 1, true, ['a'], { name: 'a' }, Symbol('a')]) {
    assert.equal(isValidChannel(v), false, String(typeof v));
  }
});

test('resolveChannel throws invalid_channel for bad names', () => {
  for (const name of ['', 'x'.repeat(201), 'a\nb', 42, null]) {
    assert.throws(
      () => resolveChannel(acme, name),
      (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.InvalidChannel,
      JSON.stringify(name),
    );
  }
});

test('channelKey format is tenant/name', () => {
  assert.equal(channelKey('acme', 'room'), 'acme/room');
  assert.equal(channelKey('acme', 'a/b'), 'acme/a/b');
  assert.equal(channelKey('t', 'chat:x y'), 't/chat:x y');
});

test('resolveChannel fills tenant, name and key', () => {
  const c = resolveChannel(acme, 'chat:room 1');
  assert.equal(c.tenant, 'acme');
  assert.equal(c.name, 'chat:room 1');
  assert.equal(c.key, 'acme/chat:room 1');
  assert.equal(c.key, channelKey('acme', 'chat:room 1'));
});

test('same name in two tenants gives different keys', () => {
  assert.notEqual(resolveChannel(acme, 'room').key, resolveChannel(other, 'room').key);
});

test('prefix before the first ":" selects a configured namespace', () => {
  const c = resolveChannel(acme, 'chat:room');
  assert.equal(c.namespace, 'chat');
  assert.equal(c.opts, acme.namespaces.get('chat'));
  assert.equal(c.opts.presence, true);

  const nested = resolveChannel(acme, 'chat:live:x');
  assert.equal(nested.namespace, 'chat', 'only the first ":" counts');

  const live = resolveChannel(acme, 'live:chat:x');
  assert.equal(live.namespace, 'live');
  assert.equal(live.opts.history, 0);

  assert.equal(resolveChannel(acme, 'x-y_z:1').namespace, 'x-y_z');
  assert.equal(resolveChannel(acme, 'chat:').namespace, 'chat');
});

test('a name without a configured prefix uses the tenant default namespace', () => {
  for (const name of ['chat', 'room', 'unknown:room', 'Chat:room', 'chat room:x', ' chat:x', ':chat', 'chat.x:y', 'a/chat:x']) {
    const c = resolveChannel(acme, name);
    assert.equal(c.namespace, '', name);
    assert.equal(c.opts, acme.defaultNamespace, name);
  }
  // `chat/x` has no colon at all
  assert.equal(resolveChannel(acme, 'chat/x').namespace, '');
});

test('the default namespace is the tenant own default', () => {
  const c = resolveChannel(other, 'chat:room'); // `other` has no chat namespace
  assert.equal(c.namespace, '');
  assert.equal(c.opts.history, 7);
  assert.equal(resolveChannel(acme, 'plain').opts.history, 100);
});
