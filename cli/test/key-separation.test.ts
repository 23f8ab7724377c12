import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { connect, http, startDev, wsUrl } from './helpers.js';

// Issue 12, item 2: the attacks of the audit, through a live `dev`. An otter backend signs
// whatever presence string a client is admitted with, and a site server signs channel + token
// for its browsers; neither signature may work as a credential of another purpose.
const hmac = (key: string, data: string) => createHmac('sha256', key).update(data).digest();
const presenceKey = hmac('demo-client-secret', 'switchyard/otter-presence/v1').toString('hex');
const b64url = (s: string) => Buffer.from(s).toString('base64url');

test('key separation: an otter presence signature over a JWT signing input is no native token', async (t) => {
  const s = await startDev(t);
  const signingInput = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: 'admin' }))}`;
  const presenceSig = hmac(presenceKey, signingInput);

  // The otter backend's signature is good for what it was made for...
  const o = await connect(t, wsUrl(s, '/otter?tenant=demo'));
  await o.next();
  o.send({ command: 'auth', presence: signingInput, signature: presenceSig.toString('hex') });
  o.send({ command: 'sub', channel: 'x', signature: 'not-a-backend' });
  assert.deepEqual((await o.next()).error, 'invalid signature'); // the only answer: the auth passed silently

  // ...and refused as a native token's signature.
  const n = await connect(t, wsUrl(s, '/v1/ws?tenant=demo'));
  await n.next();
  n.send({ type: 'auth', id: 1, token: `${signingInput}.${presenceSig.toString('base64url')}` });
  const r = await n.nextWhere((f) => f.type === 'reply');
  assert.equal(r.error?.name, 'token_invalid', JSON.stringify(r));

  // A JWT signed with the raw tenant secret (what that presence signature used to be) is refused too.
  n.send({ type: 'auth', id: 2, token: `${signingInput}.${hmac('demo-client-secret', signingInput).toString('base64url')}` });
  assert.equal((await n.nextWhere((f) => f.type === 'reply' && f.id === 2)).error?.name, 'token_invalid');
});

test('key separation: a site channel auth is no otter presence signature for channel + token', async (t) => {
  const s = await startDev(t);
  const tok = await http(s, 'GET', '/token?site=demo');
  assert.equal(tok.status, 200, tok.text);
  const token = tok.body.token as string;
  // The seed's formula, with the raw secret: what a site server hands its browsers.
  const siteAuth = hmac('demo-client-secret', `room${token}`).toString('hex');
  const o = await connect(t, wsUrl(s, '/otter?tenant=demo'));
  await o.next();
  o.send({ command: 'auth', presence: `room${token}`, signature: siteAuth });
  assert.equal((await o.next()).error, 'invalid signature');
});

test('key separation: an otter presence signature for channel + token is no site channel auth', async (t) => {
  const s = await startDev(t);
  const token = (await http(s, 'GET', '/token?site=demo')).body.token as string;
  // What an otter backend hands a client admitted with presence "room<token>".
  const presenceSig = hmac(presenceKey, `room${token}`);
  const c = await connect(t, wsUrl(s, '/ws?site=demo'));
  c.send({ request: 'subscribe', req_id: 's1', body: { channel: 'room', after: 0, token, auth: presenceSig.toString('base64') } });
  const r = await c.next();
  assert.deepEqual(r, { response: 'error', req_id: 's1', body: 'auth does not match channel and token' });
});
