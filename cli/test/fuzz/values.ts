import { pack } from './msgpack.js';
import { Bin, Ext, Obj, Raw, toJson, type Node } from './node.js';
import type { Rng } from './rng.js';

/** A number as JSON text with no JS value (1e400, NaN, -0, 2^64) and the closest msgpack value. */
const num = (json: string, mp: number | bigint): Raw => new Raw(json, pack(mp));

/** Numbers at the edges: sign, integer bounds, precision, overflow, and spellings JSON forbids. */
export const NUMBERS: readonly Node[] = [
  0, 1, -1, 2, 0.5, -1.5, 100, 255, 256, 65535, 65536,
  2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53), 1.7976931348623157e308, 5e-324, 1e21, 123456789.123,
  num('-0', -0), num('1e400', Infinity), num('-1e400', -Infinity), num('1e-400', 0), num('NaN', NaN), num('Infinity', Infinity),
  num('9007199254740993', 9007199254740993n), num('18446744073709551615', 2n ** 64n - 1n), num('-9223372036854775808', -(2n ** 63n)),
  num('1E2', 100), num('1.0', 1), num('01', 1), num('0x10', 16), num('1.', 1), num('.5', 0.5), num('+1', 1), num('1e', 1), num('--1', 1),
];

/** Strings at the edges: empty, control and format characters, lone surrogates, channel-name bounds, prototype names. */
export const STRINGS: readonly string[] = [
  '', ' ', 'a', '\u0000', '\ud800', '\udc00', 'x\ud83d', '\ud83d\udca9', '\u202e', '\ufeff', '\uffff', '\ufffe', '\u2028',
  '\u0085', '\u001f', '\u007f', '\u0009', 'e\u0301', 'Ω', '中文', '𝔘', '\r\n', '../../etc/passwd', '%00', '%2F', '%ZZ', '%',
  '*', 'chat:*', ':', 'chat:', ':chat', 'chat:lobby', 'room 1', 'foo', 'news', 'live:x', 'small:s', 'logs:workflows',
  'abc1234/discovery', 'abc1234', 'discovery', 'check_results,discovery', ',,,', 'a/b/c', 'demo', 'other', 'nope',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'then', '__proto__:x', 'constructor:lobby',
  'toString:', 'abc1234/__proto__', '__proto__/discovery',
  '{}', '[]', 'null', 'true', '1', '-1', '1e400', '$ne', "' OR 1=1 --", '<script>', '\\', '"', 'OK', 'Bearer x',
  '💩'.repeat(100), '💩'.repeat(101), 'a'.repeat(200), 'a'.repeat(201), 'é'.repeat(200), '\ud800'.repeat(40), 'x'.repeat(8193),
];

/** Field names every dialect reads, plus the ones that reach an object's prototype. */
export const KEYS: readonly string[] = [
  'type', 'id', 'channel', 'data', 'after', 'epoch', 'ack', 'token', 'auth', 'request', 'req_id', 'body', 'response',
  'command', 'version', 'attributes', 'HMAC', 'subscribe_to', 'unsubscribe_from', 'in_reply_to', 'presence', 'signature',
  'message', 'from', 'handler', 'params', 'items', 'tenant', 'channels', 'messages', 'user', 'ttl', 'info', 'customer_id',
  'ws_uri', 'binary', 'connections', '__proto__', 'constructor', 'prototype', 'toString', '', ' ', '\u0000', 'ID', 'Type',
];

/** A string of `n` characters of one kind (some are several UTF-8 bytes, so the frame grows beyond `n`). */
export function longString(rng: Rng, n: number): string {
  return rng.pick(['x', 'é', '💩', '\u0000', '"', '\\', 'ab ', '\ud800']).repeat(Math.ceil(n / 2)).slice(0, n);
}

/** A length for a long string: mostly well under the frame limit, sometimes at or over it. */
export function longLength(rng: Rng): number {
  return rng.weighted([
    [40, rng.range(100, 2000)],
    [30, rng.range(2000, 20_000)],
    [3, rng.range(60_000, 65_400)],
    [1.5, rng.range(65_536, 140_000)],
    [0.2, 1_100_000],
  ]);
}

/** Nesting depths around the payload bound (128) and the frame bound (136), and far beyond. */
export const DEPTHS: readonly number[] = [2, 64, 127, 128, 129, 130, 134, 135, 136, 137, 138, 200, 1000, 5000];

/** `inner` wrapped in `depth` arrays or single-key objects, as text and as msgpack without recursion. */
export function deepNest(inner: Node, depth: number, objects: boolean): Raw {
  const open = objects ? '{"a":' : '[';
  const close = objects ? '}' : ']';
  const mpOpen = objects ? [0x81, 0xa1, 0x61] : [0x91];
  const innerMp = pack(inner);
  const mp = new Uint8Array(depth * mpOpen.length + innerMp.length);
  for (let i = 0; i < depth; i++) mp.set(mpOpen, i * mpOpen.length);
  mp.set(innerMp, depth * mpOpen.length);
  return new Raw(open.repeat(depth) + toJson(inner) + close.repeat(depth), mp);
}

/** msgpack ext types msgpackr gives meaning to (timestamp, bigint, error, records, set, typed arrays, regexp), and others. */
const EXT_TYPES: readonly number[] = [-1, 0x42, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0x00, 0x01, 0x7f];

/** A random value of any type, `depth` levels at most. */
export function randomValue(rng: Rng, depth = 2): Node {
  const kind = rng.weighted([
    [3, 'null'], [3, 'bool'], [10, 'number'], [12, 'string'], [4, 'array'], [5, 'object'], [2, 'bin'], [2, 'ext'], [1, 'bigint'],
  ] as const);
  switch (kind) {
    case 'null':
      return null;
    case 'bool':
      return rng.chance(0.5);
    case 'number':
      return rng.pick(NUMBERS);
    case 'string':
      return rng.pick(STRINGS);
    case 'bigint':
      return rng.pick([2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 0n, 1n]);
    case 'bin':
      return new Bin(rng.bytes(rng.range(0, 40)));
    case 'ext':
      return new Ext(rng.pick(EXT_TYPES), rng.bytes(rng.pick([0, 1, 2, 4, 8, 16, rng.range(0, 300)])));
    case 'array': {
      if (depth <= 0) return [];
      const n = rng.range(0, 4);
      return Array.from({ length: n }, () => randomValue(rng, depth - 1));
    }
    case 'object': {
      if (depth <= 0) return new Obj([]);
      const n = rng.range(0, 4);
      return new Obj(Array.from({ length: n }, (): [Node, Node] => [rng.pick(KEYS), randomValue(rng, depth - 1)]));
    }
  }
}
