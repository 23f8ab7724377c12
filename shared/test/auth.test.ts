import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { channelAllowed, signClientToken, verifyClientToken } from '../src/auth/client-token.js';
import {
  issueSiteToken,
  SITE_TOKEN_TTL_SECONDS,
  siteChannelAuth,
  sitePostAuth,
  verifySiteToken,
} from '../src/auth/site-token.js';
import { bearerMatches, hmacBase64, hmacHex, hmacSha256, safeEqual } from '../src/auth/hmac.js';
import { ErrorCode, ProtocolError } from '../src/codes.js';

const SECRET = 'tenant-client-secret';
const NOW = 1_700_000_000_000; // a whole second

const b64url = (s: string): string => Buffer.from(s).toString('base64url');
/** The documented derivation (docs/security.md), computed independently of purposeKey. */
const keyOf = (secret: string, purpose: string): string => createHmac('sha256', secret).update(`switchyard/${purpose}/v1`).digest('hex');
const TOKEN_KEY = keyOf(SECRET, 'native-token');
/** Builds a JWT by hand, signed correctly with `key` (the tenant secret's native-token key). */
function jwt(header: unknown, payload: unknown, key = TOKEN_KEY): string {
  const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

const isCode = (code: ErrorCode) => (err: unknown): boolean => err instanceof ProtocolError && err.code === code;

// ---- client tokens ----

test('client token: sign/verify round trip with all claims', () => {
  const claims = { user: 'alice', exp: NOW / 1000 + 60, info: { name: 'Alice', n: [1, 2] }, channels: ['chat:*', 'news'] };
  const token = signClientToken(SECRET, claims);
  assert.equal(token.split('.').length, 3);
  assert.deepEqual(verifyClientToken(SECRET, token, NOW), claims);
});

test('client token: round trip with no claims', () => {
  const token = signClientToken(SECRET, {});
  assert.deepEqual(verifyClientToken(SECRET, token, NOW), {});
});

test('client token: is a standard HS256 JWT', () => {
  const token = signClientToken(SECRET, { user: 'bob', exp: 2_000_000_000 });
  const [h, p, s] = token.split('.') as [string, string, string];
  assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'HS256', typ: 'JWT' });
  assert.deepEqual(JSON.parse(Buffer.from(p, 'base64url').toString()), { sub: 'bob', exp: 2_000_000_000 });
  assert.equal(s, createHmac('sha256', TOKEN_KEY).update(`${h}.${p}`).digest('base64url'));
});

test('client token: a hand-built JWT from another library verifies', () => {
  const token = jwt({ typ: 'JWT', alg: 'HS256' }, { sub: 'carol', iat: 1, channels: ['a'] });
  assert.deepEqual(verifyClientToken(SECRET, token, NOW), { user: 'carol', channels: ['a'] });
});

test('client token: wrong secret → token_invalid', () => {
  const token = signClientToken(SECRET, { user: 'alice' });
  assert.throws(() => verifyClientToken('another-secret', token, NOW), isCode(ErrorCode.TokenInvalid));
});

test('client token: bad signature → token_invalid', () => {
  const token = signClientToken(SECRET, { user: 'alice' });
  const [h, p, s] = token.split('.') as [string, string, string];
  const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
  assert.throws(() => verifyClientToken(SECRET, `${h}.${p}.${flipped}`, NOW), isCode(ErrorCode.TokenInvalid));
  assert.throws(() => verifyClientToken(SECRET, `${h}.${p}.`, NOW), isCode(ErrorCode.TokenInvalid));
  assert.throws(() => verifyClientToken(SECRET, `${h}.${p}.${s}x`, NOW), isCode(ErrorCode.TokenInvalid));
});

test('client token: tampered payload → token_invalid', () => {
  const token = signClientToken(SECRET, { user: 'alice', channels: ['public'] });
  const [h, , s] = token.split('.') as [string, string, string];
  const forged = b64url(JSON.stringify({ sub: 'admin', channels: ['*'] }));
  assert.throws(() => verifyClientToken(SECRET, `${h}.${forged}.${s}`, NOW), isCode(ErrorCode.TokenInvalid));
});

test('client token: alg other than HS256 → token_invalid, even when the MAC is right', () => {
  for (const alg of ['none', 'HS512', 'RS256', 'hs256', undefined]) {
    const token = jwt({ alg, typ: 'JWT' }, { sub: 'alice' });
    assert.throws(
      () => verifyClientToken(SECRET, token, NOW),
      (err: unknown) => isCode(ErrorCode.TokenInvalid)(err) && /alg/.test((err as Error).message),
      String(alg),
    );
  }
  // alg: none with an empty signature
  const none = `${b64url(JSON.stringify({ alg: 'none' }))}.${b64url(JSON.stringify({ sub: 'x' }))}.`;
  assert.throws(() => verifyClientToken(SECRET, none, NOW), isCode(ErrorCode.TokenInvalid));
});

test('client token: expired → token_expired', () => {
  const exp = NOW / 1000;
  const token = signClientToken(SECRET, { user: 'alice', exp });
  assert.throws(
    () => verifyClientToken(SECRET, token, NOW),
    (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.TokenExpired,
  );
  assert.throws(() => verifyClientToken(SECRET, token, NOW + 60_000), isCode(ErrorCode.TokenExpired));
  assert.deepEqual(verifyClientToken(SECRET, token, NOW - 1), { user: 'alice', exp });
});

test('client token: default clock is Date.now', () => {
  const past = signClientToken(SECRET, { exp: Math.floor(Date.now() / 1000) - 10 });
  assert.throws(() => verifyClientToken(SECRET, past), isCode(ErrorCode.TokenExpired));
  const future = signClientToken(SECRET, { exp: Math.floor(Date.now() / 1000) + 600 });
  assert.ok(verifyClientToken(SECRET, future).exp);
});

test('client token: garbage input → token_invalid', () => {
  const garbage: unknown[] = [
    '',
    'abc',
    'a.b',
    'a.b.c',
    'a.b.c.d',
    '...',
    undefined,
    null,
    42,
    {},
    ['a', 'b', 'c'],
    'x'.repeat(8193),
  ];
  for (const g of garbage) {
    assert.throws(() => verifyClientToken(SECRET, g, NOW), isCode(ErrorCode.TokenInvalid), JSON.stringify(g)?.slice(0, 40));
  }
});

test('client token: correctly signed but undecodable or ill-typed claims → token_invalid', () => {
  const sign = (h: string, p: string): string =>
    `${h}.${p}.${createHmac('sha256', TOKEN_KEY).update(`${h}.${p}`).digest('base64url')}`;
  const header = b64url(JSON.stringify({ alg: 'HS256' }));
  const cases = [
    sign(header, b64url('not json')),
    sign(b64url('{'), b64url('{}')),
    jwt({ alg: 'HS256' }, [1, 2]),
    jwt({ alg: 'HS256' }, 'str'),
    jwt({ alg: 'HS256' }, null),
    jwt(null, {}),
    jwt({ alg: 'HS256' }, { sub: 5 }),
    jwt({ alg: 'HS256' }, { exp: '9999999999' }),
    jwt({ alg: 'HS256' }, { channels: 'chat:*' }),
    jwt({ alg: 'HS256' }, { channels: ['ok', 3] }),
  ];
  for (const t of cases) assert.throws(() => verifyClientToken(SECRET, t, NOW), isCode(ErrorCode.TokenInvalid), t);
});

test('client token: errors are ProtocolErrors, not temporary', () => {
  try {
    verifyClientToken(SECRET, 'nope', NOW);
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.temporary, false);
  }
});

test('channelAllowed: absent patterns allow everything', () => {
  assert.equal(channelAllowed(undefined, 'anything'), true);
});

test('channelAllowed: empty pattern list allows nothing', () => {
  assert.equal(channelAllowed([], 'room'), false);
});

test('channelAllowed: exact patterns', () => {
  const p = ['room', 'chat:general'];
  assert.equal(channelAllowed(p, 'room'), true);
  assert.equal(channelAllowed(p, 'chat:general'), true);
  assert.equal(channelAllowed(p, 'room2'), false);
  assert.equal(channelAllowed(p, 'roo'), false);
  assert.equal(channelAllowed(p, 'Room'), false);
  assert.equal(channelAllowed(p, 'chat:general:x'), false);
});

test('channelAllowed: prefix* patterns', () => {
  const p = ['chat:*', 'user.42.*'];
  assert.equal(channelAllowed(p, 'chat:general'), true);
  assert.equal(channelAllowed(p, 'chat:'), true);
  assert.equal(channelAllowed(p, 'user.42.inbox'), true);
  assert.equal(channelAllowed(p, 'chat'), false);
  assert.equal(channelAllowed(p, 'news:x'), false);
  assert.equal(channelAllowed(p, 'user.43.inbox'), false);
  assert.equal(channelAllowed(['*'], 'whatever at all'), true);
});

test('channelAllowed: `*` only counts at the end', () => {
  assert.equal(channelAllowed(['a*b'], 'a*b'), true);
  assert.equal(channelAllowed(['a*b'], 'axxb'), false);
});

// ---- site tokens ----

const SITE = 'mysite';
const SITE_SECRET = 'site-secret-xyz';

test('site token: issue/verify round trip', () => {
  const { token, expires } = issueSiteToken(SITE, SITE_SECRET, 300, NOW);
  assert.equal(expires, 300);
  assert.doesNotThrow(() => verifySiteToken(SITE, SITE_SECRET, token, NOW));
  assert.doesNotThrow(() => verifySiteToken(SITE, SITE_SECRET, token, NOW + 299_999));
});

test('site token: default ttl is SITE_TOKEN_TTL_SECONDS', () => {
  assert.equal(SITE_TOKEN_TTL_SECONDS, 300);
  const { token, expires } = issueSiteToken(SITE, SITE_SECRET);
  assert.equal(expires, 300);
  assert.doesNotThrow(() => verifySiteToken(SITE, SITE_SECRET, token));
});

test('site token: shape is base64 of site.exp.nonce.mac', () => {
  const { token } = issueSiteToken(SITE, SITE_SECRET, 60, NOW);
  assert.match(token, /^[A-Za-z0-9+/]+=*$/);
  const parts = Buffer.from(token, 'base64').toString('utf8').split('.');
  assert.equal(parts.length, 4);
  assert.equal(parts[0], SITE);
  assert.equal(parts[1], String(NOW / 1000 + 60));
});

test('site tokens are unique per issue', () => {
  const a = issueSiteToken(SITE, SITE_SECRET, 60, NOW).token;
  const b = issueSiteToken(SITE, SITE_SECRET, 60, NOW).token;
  assert.notEqual(a, b);
});

test('site token: wrong site → token_invalid', () => {
  const { token } = issueSiteToken(SITE, SITE_SECRET, 300, NOW);
  assert.throws(() => verifySiteToken('othersite', SITE_SECRET, token, NOW), isCode(ErrorCode.TokenInvalid));
  assert.throws(() => verifySiteToken('mysit', SITE_SECRET, token, NOW), isCode(ErrorCode.TokenInvalid));
});

test('site token: wrong secret → token_invalid', () => {
  const { token } = issueSiteToken(SITE, SITE_SECRET, 300, NOW);
  assert.throws(() => verifySiteToken(SITE, 'another-secret', token, NOW), isCode(ErrorCode.TokenInvalid));
});

test('site token: forged expiry (re-encoded with a later exp) → token_invalid', () => {
  const { token } = issueSiteToken(SITE, SITE_SECRET, 1, NOW);
  const [site, , nonce, mac] = Buffer.from(token, 'base64').toString('utf8').split('.');
  const forged = Buffer.from(`${site}.${NOW / 1000 + 99_999}.${nonce}.${mac}`).toString('base64');
  assert.throws(() => verifySiteToken(SITE, SITE_SECRET, forged, NOW + 10_000), isCode(ErrorCode.TokenInvalid));
});

test('site token: a channel auth MAC is not a valid token MAC', () => {
  const body = `${SITE}.${NOW / 1000 + 300}.nonce`;
  const mac = createHmac('sha256', SITE_SECRET).update(body).digest('base64url');
  const token = Buffer.from(`${body}.${mac}`).toString('base64');
  assert.throws(() => verifySiteToken(SITE, SITE_SECRET, token, NOW), isCode(ErrorCode.TokenInvalid));
});

test('site token: expired → token_expired (via nowMs)', () => {
  const { token } = issueSiteToken(SITE, SITE_SECRET, 300, NOW);
  assert.throws(() => verifySiteToken(SITE, SITE_SECRET, token, NOW + 300_000), isCode(ErrorCode.TokenExpired));
  assert.throws(() => verifySiteToken(SITE, SITE_SECRET, token, NOW + 3_600_000), isCode(ErrorCode.TokenExpired));
  const zero = issueSiteToken(SITE, SITE_SECRET, 0, NOW).token;
  assert.throws(() => verifySiteToken(SITE, SITE_SECRET, zero, NOW), isCode(ErrorCode.TokenExpired));
});

test('site token: garbage → token_invalid', () => {
  const garbage: unknown[] = [
    undefined,
    null,
    42,
    '',
    'x'.repeat(513),
    'not base64 !!!',
    Buffer.from('mysite').toString('base64'),
    Buffer.from('mysite.1.2').toString('base64'),
    Buffer.from('mysite.1.2.3.4').toString('base64'),
    Buffer.from(`${SITE}.9999999999.nonce.bogusmac`).toString('base64'),
  ];
  for (const g of garbage) {
    assert.throws(() => verifySiteToken(SITE, SITE_SECRET, g, NOW), isCode(ErrorCode.TokenInvalid), String(g).slice(0, 40));
  }
});

test('siteChannelAuth = base64(HMAC-SHA256(secret, channel + token))', () => {
  const token = issueSiteToken(SITE, SITE_SECRET, 300, NOW).token;
  for (const channel of ['private-room', 'chat:日本', 'a b']) {
    const expected = createHmac('sha256', SITE_SECRET).update(channel + token, 'utf8').digest('base64');
    assert.equal(siteChannelAuth(SITE_SECRET, channel, token), expected);
  }
  // fixed vector: standard alphabet with padding
  const v = siteChannelAuth('key', 'chan', 'tok');
  assert.equal(v, createHmac('sha256', 'key').update('chantok').digest('base64'));
  assert.equal(v.length, 44);
  assert.ok(v.endsWith('='));
  assert.notEqual(siteChannelAuth('key', 'chan', 'tok'), siteChannelAuth('key', 'chan2', 'tok'));
});

test('sitePostAuth = base64(HMAC-SHA256(postSecret, token))', () => {
  const token = issueSiteToken(SITE, SITE_SECRET, 300, NOW).token;
  assert.equal(sitePostAuth('post-secret', token), createHmac('sha256', 'post-secret').update(token).digest('base64'));
  assert.notEqual(sitePostAuth('post-secret', token), sitePostAuth('other-secret', token));
});

// ---- hmac helpers ----

test('hmac helpers agree with node:crypto', () => {
  const ref = createHmac('sha256', 'k').update('data ü', 'utf8');
  const digest = ref.digest();
  assert.deepEqual(hmacSha256('k', 'data ü'), digest);
  assert.equal(hmacBase64('k', 'data ü'), digest.toString('base64'));
  assert.equal(hmacHex('k', 'data ü'), digest.toString('hex'));
  // RFC 4231 test case 2
  assert.equal(
    hmacHex('Jefe', 'what do ya want for nothing?'),
    '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  );
});

test('safeEqual', () => {
  assert.equal(safeEqual('', ''), true);
  assert.equal(safeEqual('abc', 'abc'), true);
  assert.equal(safeEqual('abc', 'abd'), false);
  assert.equal(safeEqual('abc', 'ab'), false);
  assert.equal(safeEqual('ab', 'abc'), false);
  assert.equal(safeEqual('é', 'é'), true);
  assert.equal(safeEqual('é', 'e'), false); // different byte lengths, must not throw
  assert.equal(safeEqual('ab', 'é'), false); // same byte length, different content
});

test('bearerMatches', () => {
  const s = 'backend-secret';
  assert.equal(bearerMatches(`Bearer ${s}`, s), true);
  assert.equal(bearerMatches(`Bearer ${s}  `, s), true);
  assert.equal(bearerMatches(`Bearer  ${s}`, s), true);
  assert.equal(bearerMatches(`Bearer wrong`, s), false);
  assert.equal(bearerMatches(`Bearer ${s}x`, s), false);
  assert.equal(bearerMatches(`bearer ${s}`, s), false);
  assert.equal(bearerMatches(`Basic ${s}`, s), false);
  assert.equal(bearerMatches(s, s), false);
  assert.equal(bearerMatches('', s), false);
  assert.equal(bearerMatches('Bearer ', s), false);
});
