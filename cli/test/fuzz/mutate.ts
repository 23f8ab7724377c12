import { pack } from './msgpack.js';
import { Obj, clone, toJson, type Node } from './node.js';
import type { Rng } from './rng.js';
import { DEPTHS, KEYS, NUMBERS, STRINGS, deepNest, longLength, longString, randomValue } from './values.js';

/** One WebSocket frame to send, and how it was made (for the failure report). */
export interface Frame {
  readonly data: string | Uint8Array;
  readonly binary: boolean;
  readonly how: string;
}

/**
 * How an endpoint reads frames: the dialects read JSON text (`json`); the native endpoint reads
 * a text frame as JSON and a binary one as msgpack, whichever subprotocol was chosen
 * (`native-json`, `msgpack`: the frames it mostly gets); WSaaS passes frames on unread (`opaque`).
 */
export type Encoding = 'json' | 'native-json' | 'msgpack' | 'opaque';

/** How often a frame is written as msgpack rather than JSON text, by encoding. */
const MSGPACK_ODDS: Readonly<Record<Encoding, number>> = { json: 0.02, 'native-json': 0.12, msgpack: 0.88, opaque: 0.05 };

/** A place in a tree whose value a mutation may replace. */
interface Slot {
  readonly get: () => Node;
  readonly set: (v: Node) => void;
}

/**
 * A frame derived from `seed` (a valid frame of the endpoint's dialect): often the seed as it
 * is (so the fuzzer reaches the states behind authentication and subscriptions), mostly mutated
 * along its grammar (fields dropped, repeated or retyped; edge numbers and strings; nesting
 * beyond the bounds; subtrees of other dialects' frames), then sometimes damaged as text or
 * bytes, or replaced by junk.
 */
export function fuzzFrame(rng: Rng, seed: Node, others: readonly Node[], enc: Encoding): Frame {
  const how: string[] = [];
  const plan = rng.weighted([
    [16, 'valid'],
    [58, 'tree'],
    [12, 'tree+text'],
    [8, 'text'],
    [4, 'junk'],
    [2, 'bytes'],
  ] as const);
  if (plan === 'bytes') {
    const bytes = rng.bytes(rng.range(0, 300));
    // Random bytes in a text frame are mostly invalid UTF-8, which uWS answers by cutting the connection (1006).
    return { data: bytes, binary: rng.chance(0.7), how: 'random bytes' };
  }
  if (plan === 'junk') {
    const text = rng.pick(JUNK);
    return { data: text, binary: rng.chance(0.1), how: `junk ${JSON.stringify(text).slice(0, 40)}` };
  }
  let root: Node = clone(seed);
  if (plan === 'tree' || plan === 'tree+text') {
    const n = rng.weighted([[6, 1], [3, 2], [1, 3]] as const);
    for (let i = 0; i < n; i++) root = mutateTree(rng, root, others, how);
  } else how.push(plan === 'valid' ? 'valid' : 'seed');
  if (rng.chance(MSGPACK_ODDS[enc])) {
    let bytes = pack(root, rng);
    if (plan === 'tree+text' || plan === 'text') bytes = mutateBytes(rng, bytes, how);
    how.push('msgpack');
    return { data: bytes, binary: !rng.chance(0.01), how: how.join(' > ') };
  }
  let text = toJson(root);
  if (plan === 'tree+text' || plan === 'text') text = mutateText(rng, text, toJson(rng.pick(others)), how);
  const binary = rng.chance(enc === 'opaque' ? 0.3 : 0.04);
  if (binary) how.push('as binary');
  return { data: text, binary, how: how.join(' > ') };
}

/** Whole frames that are no valid command: empty, scalars, several values, a bare BOM. */
const JUNK: readonly string[] = [
  '', ' ', '\n', 'null', 'true', '1', '-0', '"x"', '[]', '{}', '[{}]', '{"":', '{"a":1,}', 'NaN', '\ufeff{}', '{}{}',
  '{"type":"ping","id":1}{"type":"ping","id":2}', '\u0000', '{"__proto__":{"type":"ping"}}', '[[[[[[[[[[', '}}}}', '{"a":"\\ud800"}',
];

function slots(root: Node, set: (v: Node) => void): Slot[] {
  let top = root;
  const out: Slot[] = [
    {
      get: () => top,
      set: (v) => {
        top = v;
        set(v);
      },
    },
  ];
  const walk = (n: Node, budget: number): void => {
    if (budget <= 0) return;
    if (Array.isArray(n)) {
      n.forEach((_, i) => {
        out.push({ get: () => n[i] as Node, set: (v) => (n[i] = v) });
        walk(n[i] as Node, budget - 1);
      });
    } else if (n instanceof Obj) {
      for (const e of n.entries) {
        out.push({ get: () => e[1], set: (v) => (e[1] = v) });
        walk(e[1], budget - 1);
      }
    }
  };
  walk(root, 6);
  return out;
}

function objects(root: Node): Obj[] {
  const out: Obj[] = [];
  const walk = (n: Node, budget: number): void => {
    if (budget <= 0) return;
    if (n instanceof Obj) {
      out.push(n);
      for (const [, v] of n.entries) walk(v, budget - 1);
    } else if (Array.isArray(n)) for (const x of n) walk(x, budget - 1);
  };
  walk(root, 6);
  return out;
}

/** One grammar-aware change of `root` (in place where it can); the new root. */
function mutateTree(rng: Rng, root: Node, others: readonly Node[], how: string[]): Node {
  let out = root;
  const all = slots(root, (v) => (out = v));
  const slot = rng.chance(0.9) && all.length > 1 ? all[1 + rng.int(all.length - 1)]! : all[0]!;
  const objs = objects(root);
  const op = rng.weighted([
    [10, 'drop'], [5, 'dup'], [7, 'add'], [4, 'rekey'], [12, 'number'], [12, 'string'], [5, 'long'], [5, 'nest'],
    [10, 'retype'], [6, 'splice'], [3, 'merge'], [3, 'flip'], [2, 'shuffle'],
  ] as const);
  const obj = objs.length > 0 ? rng.pick(objs) : undefined;
  switch (op) {
    case 'drop':
      if (obj !== undefined && obj.entries.length > 0) {
        const [k] = obj.entries.splice(rng.int(obj.entries.length), 1)[0]!;
        how.push(`drop ${label(k)}`);
        return out;
      }
      break;
    case 'dup':
      if (obj !== undefined && obj.entries.length > 0) {
        const [k, v] = rng.pick(obj.entries);
        obj.entries.push([k, rng.chance(0.5) ? clone(v) : randomValue(rng)]);
        how.push(`dup ${label(k)}`);
        return out;
      }
      break;
    case 'add':
      if (obj !== undefined) {
        const k = rng.chance(0.8) ? rng.pick(KEYS) : rng.pick(STRINGS);
        obj.entries.splice(rng.int(obj.entries.length + 1), 0, [k, randomValue(rng)]);
        how.push(`add ${label(k)}`);
        return out;
      }
      break;
    case 'rekey':
      if (obj !== undefined && obj.entries.length > 0) {
        const e = rng.pick(obj.entries);
        const k = typeof e[0] === 'string' ? e[0] : '';
        e[0] = rng.weighted<Node>([[3, k.toUpperCase()], [2, ` ${k}`], [2, `${k}\u0000`], [2, rng.pick(KEYS)], [1, rng.pick(NUMBERS)], [1, null]]);
        how.push(`rekey ${label(k)}>${label(e[0])}`);
        return out;
      }
      break;
    case 'number':
      slot.set(rng.pick(NUMBERS));
      how.push(`number ${toJson(slot.get()).slice(0, 24)}`);
      return out;
    case 'string': {
      const cur = slot.get();
      const s = rng.pick(STRINGS);
      slot.set(typeof cur === 'string' && rng.chance(0.4) ? (rng.chance(0.5) ? cur + s : s + cur) : s);
      how.push(`string ${JSON.stringify(s).slice(0, 24)}`);
      return out;
    }
    case 'long': {
      const n = longLength(rng);
      slot.set(longString(rng, n));
      how.push(`long ${n}`);
      return out;
    }
    case 'nest': {
      const depth = rng.weighted([[97, rng.pick(DEPTHS)], [3, 30_000]]);
      const objectsDeep = rng.chance(0.5);
      slot.set(deepNest(slot.get(), depth, objectsDeep));
      how.push(`nest ${depth} ${objectsDeep ? 'objects' : 'arrays'}`);
      return out;
    }
    case 'retype':
      slot.set(randomValue(rng));
      how.push(`retype ${toJson(slot.get()).slice(0, 24)}`);
      return out;
    case 'splice': {
      const donor = slots(clone(rng.pick(others)), () => {});
      slot.set(rng.pick(donor).get());
      how.push('splice');
      return out;
    }
    case 'merge': {
      const donor = clone(rng.pick(others));
      if (obj !== undefined && donor instanceof Obj) {
        obj.entries.push(...donor.entries);
        how.push('merge');
        return out;
      }
      break;
    }
    case 'flip': {
      const cur = slot.get();
      if (cur instanceof Obj) slot.set(cur.entries.map(([, v]) => v));
      else if (Array.isArray(cur)) slot.set(new Obj(cur.map((v, i) => [String(i), v])));
      else slot.set([cur]);
      how.push('flip');
      return out;
    }
    case 'shuffle':
      if (obj !== undefined) {
        obj.entries.reverse();
        how.push('shuffle');
        return out;
      }
      break;
  }
  slot.set(randomValue(rng));
  how.push('retype');
  return out;
}

const label = (k: Node): string => (typeof k === 'string' ? JSON.stringify(k).slice(0, 20) : toJson(k).slice(0, 20));

/** Characters that break JSON, or make it strange. */
const INSERTS: readonly string[] = ['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', ' ', '\n', '0', '-', 'e', '\ud800', '💩', '\ufeff', 'null'];

function mutateText(rng: Rng, s: string, other: string, how: string[]): string {
  const i = rng.int(s.length + 1);
  const j = i + rng.int(s.length - i + 1);
  const op = rng.weighted([
    [6, 'truncate'], [3, 'delete'], [2, 'repeat'], [5, 'insert'], [3, 'replace'], [3, 'splice'], [2, 'concat'], [2, 'wrap'],
  ] as const);
  how.push(`${op}@${i}`);
  switch (op) {
    case 'truncate':
      return s.slice(0, i);
    case 'delete':
      return s.slice(0, i) + s.slice(j);
    case 'repeat':
      return s.slice(0, j) + s.slice(i, j) + s.slice(j);
    case 'insert':
      return s.slice(0, i) + rng.pick(INSERTS) + s.slice(i);
    case 'replace':
      return s.slice(0, i) + rng.pick(INSERTS) + s.slice(i + 1);
    case 'splice':
      return s.slice(0, i) + other.slice(rng.int(other.length + 1));
    case 'concat':
      return rng.chance(0.5) ? s + s : s + other;
    case 'wrap':
      return rng.pick(['\ufeff', ' \t\n', '[', '{"x":']) + s + rng.pick(['', ' ', ']', '}', 'x', '\u0000']);
  }
}

function mutateBytes(rng: Rng, b: Uint8Array, how: string[]): Uint8Array {
  const i = rng.int(b.length + 1);
  const op = rng.weighted([[5, 'truncate'], [5, 'flip'], [3, 'insert'], [3, 'huge-length'], [2, 'append']] as const);
  how.push(`${op}@${i}`);
  switch (op) {
    case 'truncate':
      return b.slice(0, i);
    case 'flip': {
      const c = b.slice();
      if (c.length > 0) c[rng.int(c.length)]! ^= 1 << rng.int(8);
      return c;
    }
    case 'insert':
      return Buffer.concat([b.slice(0, i), rng.bytes(rng.range(1, 8)), b.slice(i)]);
    case 'huge-length':
      // A header claiming 4 billion entries or bytes, followed by the rest of the frame.
      return Buffer.concat([b.slice(0, i), Uint8Array.from(rng.pick([[0xdf], [0xdd], [0xdb], [0xc6], [0xc9]])), Uint8Array.from([0xff, 0xff, 0xff, 0xff]), b.slice(i)]);
    case 'append':
      return Buffer.concat([b, rng.bytes(rng.range(1, 16))]);
  }
}
