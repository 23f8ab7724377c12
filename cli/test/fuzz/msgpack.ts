import { Bin, Ext, Obj, Raw, type Node } from './node.js';
import type { Rng } from './rng.js';

/**
 * A msgpack encoder of fuzz trees, written here rather than taken from msgpackr because the
 * fuzzer needs what a correct encoder never writes: repeated map keys, keys that are not
 * strings, ext types, and (with `rng`) wider encodings than needed.
 */
export function pack(n: Node, rng?: Rng): Uint8Array {
  const w = new Writer();
  write(w, n, rng);
  return w.done();
}

class Writer {
  private readonly chunks: Uint8Array[] = [];

  u8(...bytes: number[]): void {
    this.chunks.push(Uint8Array.from(bytes));
  }

  raw(bytes: Uint8Array): void {
    this.chunks.push(bytes);
  }

  u16(tag: number, v: number): void {
    const b = Buffer.alloc(3);
    b[0] = tag;
    b.writeUInt16BE(v, 1);
    this.raw(b);
  }

  u32(tag: number, v: number): void {
    const b = Buffer.alloc(5);
    b[0] = tag;
    b.writeUInt32BE(v >>> 0, 1);
    this.raw(b);
  }

  done(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

function write(w: Writer, n: Node, rng: Rng | undefined): void {
  if (n === null) return w.u8(0xc0);
  switch (typeof n) {
    case 'boolean':
      return w.u8(n ? 0xc3 : 0xc2);
    case 'number':
      return writeNumber(w, n, rng);
    case 'bigint': {
      const b = Buffer.alloc(9);
      if (n >= 0n) {
        b[0] = 0xcf;
        b.writeBigUInt64BE(BigInt.asUintN(64, n), 1);
      } else {
        b[0] = 0xd3;
        b.writeBigInt64BE(BigInt.asIntN(64, n), 1);
      }
      return w.raw(b);
    }
    case 'string':
      return writeStr(w, Buffer.from(n, 'utf8'));
  }
  if (n instanceof Raw) return w.raw(n.mp);
  if (n instanceof Bin) return writeSized(w, n.bytes.length, [0xc4, 0xc5, 0xc6], n.bytes);
  if (n instanceof Ext) return writeExt(w, n);
  if (Array.isArray(n)) {
    header(w, n.length, 0x90, 0xdc, 0xdd, rng);
    for (const x of n) write(w, x, rng);
    return;
  }
  const o = n as Obj;
  header(w, o.entries.length, 0x80, 0xde, 0xdf, rng);
  for (const [k, v] of o.entries) {
    write(w, k, rng);
    write(w, v, rng);
  }
}

function header(w: Writer, len: number, fix: number, tag16: number, tag32: number, rng: Rng | undefined): void {
  const wide = rng?.chance(0.05) ?? false;
  if (len < 16 && !wide) w.u8(fix | len);
  else if (len < 0x10000 && !(wide && rng!.chance(0.5))) w.u16(tag16, len);
  else w.u32(tag32, len);
}

function writeNumber(w: Writer, n: number, rng: Rng | undefined): void {
  if (Number.isInteger(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER && !Object.is(n, -0) && !(rng?.chance(0.05) ?? false)) {
    if (n >= 0 && n < 128) return w.u8(n);
    if (n < 0 && n >= -32) return w.u8(n & 0xff);
    const b = Buffer.alloc(9);
    if (n >= 0) {
      b[0] = 0xcf;
      b.writeBigUInt64BE(BigInt(n), 1);
    } else {
      b[0] = 0xd3;
      b.writeBigInt64BE(BigInt(n), 1);
    }
    return w.raw(b);
  }
  if (rng?.chance(0.2) ?? false) {
    const b = Buffer.alloc(5);
    b[0] = 0xca;
    b.writeFloatBE(n, 1);
    return w.raw(b);
  }
  const b = Buffer.alloc(9);
  b[0] = 0xcb;
  b.writeDoubleBE(n, 1);
  w.raw(b);
}

function writeStr(w: Writer, bytes: Uint8Array): void {
  if (bytes.length < 32) {
    w.u8(0xa0 | bytes.length);
    w.raw(bytes);
    return;
  }
  writeSized(w, bytes.length, [0xd9, 0xda, 0xdb], bytes);
}

/** A str or bin with an 8-, 16- or 32-bit length (tags in that order). */
function writeSized(w: Writer, len: number, tags: readonly [number, number, number], bytes: Uint8Array): void {
  if (len < 0x100) w.u8(tags[0], len);
  else if (len < 0x10000) w.u16(tags[1], len);
  else w.u32(tags[2], len);
  w.raw(bytes);
}

function writeExt(w: Writer, e: Ext): void {
  const type = e.type & 0xff;
  const fixed = [1, 2, 4, 8, 16].indexOf(e.data.length);
  if (fixed >= 0) w.u8(0xd4 + fixed, type);
  else if (e.data.length < 0x100) w.u8(0xc7, e.data.length, type);
  else if (e.data.length < 0x10000) {
    w.u16(0xc8, e.data.length);
    w.u8(type);
  } else {
    w.u32(0xc9, e.data.length);
    w.u8(type);
  }
  w.raw(e.data);
}
