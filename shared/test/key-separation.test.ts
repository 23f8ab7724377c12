import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { purposeKey, type KeyPurpose } from '../src/auth/hmac.js';
import { issueBartnetCredential, verifyBartnetCredential } from '../src/auth/bartnet-credential.js';
import { ErrorCode, ProtocolError } from '../src/codes.js';
import { testTenants } from '@switchyard/testkit';

const PURPOSES: KeyPurpose[] = ['native-token', 'site-token', 'otter-presence', 'otter-backend', 'bartnet-credential'];

test('purposeKey: the documented derivation, one distinct key per purpose, none equal to the secret', () => {
  const keys = PURPOSES.map((p) => purposeKey('s3cret-s3cret', p));
  for (const [i, p] of PURPOSES.entries()) {
    assert.equal(keys[i], createHmac('sha256', 's3cret-s3cret').update(`switchyard/${p}/v1`).digest('hex'));
  }
  assert.equal(new Set([...keys, 's3cret-s3cret']).size, PURPOSES.length + 1);
  assert.notEqual(purposeKey('other-secret', 'native-token'), keys[0]);
});

test('bartnet credential: a MAC made with the raw tenant secret is refused', () => {
  const tenants = testTenants();
  const tenant = tenants.tenants.get('demo')!;
  const { credential } = issueBartnetCredential(tenant, 'cust');
  assert.equal(verifyBartnetCredential(tenants, credential).customer, 'cust');
  const exp = credential.split('--')[0];
  const rawMac = createHmac('sha256', tenant.secret).update(`bartnet/v1\ndemo\ncust\n${exp}`).digest();
  const forged = `${exp}--${Buffer.concat([Buffer.from('demo\ncust\n'), rawMac]).toString('base64url')}`;
  assert.throws(() => verifyBartnetCredential(tenants, forged), (e) => e instanceof ProtocolError && e.code === ErrorCode.TokenInvalid);
});
