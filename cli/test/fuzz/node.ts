/**
 * The fuzzer's frame tree: JSON values plus what a JS value cannot say. A tree is written out
 * as JSON text (`toJson`) or as msgpack (`pack` in msgpack.ts), so the same mutation reaches
 * both native encodings.
 */

/** Verbatim text in JSON and verbatim bytes in msgpack: 1e400, NaN, -0, 30,000 levels of nesting. */
export class Raw {
  constructor(
    readonly json: string,
    readonly mp: Uint8Array,
  ) {}
}

/** An object whose entries may repeat a key, or have a key that is not a string. */
export class Obj {
  constructor(public entries: [Node, Node][]) {}
}

/** msgpack `bin` (in JSON: an array of byte values). */
export class Bin {
  constructor(readonly bytes: Uint8Array) {}
}

/** msgpack `ext` of a type (in JSON: null). */
export class Ext {
  constructor(
    readonly type: number,
    readonly data: Uint8Array,
  ) {}
}

export type Node = null | boolean | number | bigint | string | Node[] | Obj | Raw | Bin | Ext;

/** A plain JSON value as a tree. */
export function fromJs(v: unknown): Node {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint') return v;
  if (Array.isArray(v)) return v.map(fromJs);
  if (v instanceof Obj || v instanceof Raw || v instanceof Bin || v instanceof Ext) return v;
  if (typeof v === 'object') return new Obj(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, fromJs(x)]));
  return null;
}

/** A copy that mutations may change in place (Raw, Bin and Ext are immutable and shared). */
export function clone(n: Node): Node {
  if (Array.isArray(n)) return n.map(clone);
  if (n instanceof Obj) return new Obj(n.entries.map(([k, v]) => [clone(k), clone(v)]));
  return n;
}

export function toJson(n: Node): string {
  if (n === null) return 'null';
  switch (typeof n) {
    case 'boolean':
      return n ? 'true' : 'false';
    case 'number':
      return Number.isFinite(n) ? JSON.stringify(n) : 'null';
    case 'bigint':
      return n.toString();
    case 'string':
      return JSON.stringify(n);
  }
  if (Array.isArray(n)) return `[${n.map(toJson).join(',')}]`;
  if (n instanceof Obj) return `{${n.entries.map(([k, v]) => `${toJson(k)}:${toJson(v)}`).join(',')}}`;
  if (n instanceof Raw) return n.json;
  if (n instanceof Bin) return `[${Array.from(n.bytes).join(',')}]`;
  return 'null';
}

/** The value of `key` in an object tree (the first entry with it), for seeds that read their own fields. */
export function field(n: Node, key: string): Node | undefined {
  if (!(n instanceof Obj)) return undefined;
  return n.entries.find(([k]) => k === key)?.[1];
}
