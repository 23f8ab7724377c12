import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelFromToken, channelToken, Subjects } from '../src/engine/nats/subjects.js';
import { isValidChannel, resolveChannel } from '../src/model/channel.js';
import { seededRandom, tenantOf, testTenants } from '@switchyard/testkit';


const ALPHABET = [
  'a', 'Z', '0', '_', '-', ':', '.', '*', '>', ' ', '%', '/', '$', '~', '@', '\\', '"', '\u00e9', '\u00a0', '\u4e2d', '\u{1F600}', '\u200b', '\uFFFD', '+', '=', ',', '!',
];

function randomChannel(next: () => number): string {
  const len = 1 + Math.floor(next() * 40);
  let s = '';
  for (let i = 0; i < len; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

test('channel tokens: every valid channel name maps to one subject token and back (property, 20k cases)', () => {
  for (let seed = 1; seed <= 20_000; seed++) {
    const name = randomChannel(seededRandom(seed));
    if (!isValidChannel(name)) continue;
    const token = channelToken(name);
    assert.match(token, /^[^.*> \t\r\n]+$/, `seed ${seed}: token ${token} is not a single subject token`);
    assert.equal(channelFromToken(token), name, `seed ${seed}`);
  }
});

test('channel tokens: distinct names give distinct tokens; plain names stay readable', () => {
  const names = ['chat:room1', 'chat.room1', 'chat room1', 'chat%2Eroom1', 'a/b', 'a>b', 'a*b'];
  const tokens = names.map(channelToken);
  assert.equal(new Set(tokens).size, names.length);
  assert.equal(channelToken('chat:room1'), 'chat:room1');
  assert.equal(channelToken('acme/discovery'), 'acme/discovery');
  assert.equal(channelToken('a.b c'), 'a%2Eb%20c');
  assert.equal(channelToken('100%'), '100%25');
});

test('channel tokens: malformed tokens are refused, never mis-decoded', () => {
  for (const bad of ['a%2', 'a%zz', 'a.b', 'a b', '%e9']) assert.throws(() => channelFromToken(bad), `token ${bad}`);
});

test('subjects and stream names per tenant namespace', () => {
  const t = tenantOf(testTenants(), 'demo');
  const s = new Subjects('sy');
  const chat = resolveChannel(t, 'chat:a.b');
  const plain = resolveChannel(t, 'lobby');
  assert.equal(s.history(chat), 'sy.h.demo.chat.chat:a%2Eb');
  assert.equal(s.live(chat), 'sy.live.demo.chat.chat:a%2Eb');
  assert.equal(s.up(chat), 'sy.up.demo.chat:a%2Eb');
  assert.equal(s.history(plain), 'sy.h.demo.~.lobby');
  assert.equal(s.stream('demo', 'chat'), 'SY_4_demo_chat');
  assert.equal(s.stream('demo', ''), 'SY_4_demo_~');
  // Tenant lengths keep stream names unambiguous.
  assert.notEqual(s.stream('a_b', 'c'), s.stream('a', 'b_c'));
});
