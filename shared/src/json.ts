import { ErrorCode, ProtocolError } from './codes.js';

/** Refuses byte strings (msgpack `bin`): payloads are JSON values. Sees values before `toJSON`. */
function noBytes(this: Record<string, unknown>, key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(this[key]) || this[key] instanceof ArrayBuffer) throw new TypeError('bytes');
  return value;
}

/**
 * Canonical JSON text of a payload value; rejects what JSON cannot carry. `decodedFromMsgpack`:
 * the value may hold byte strings, which are refused too (a check on every key, so values
 * parsed from JSON, which cannot hold bytes, skip it: it triples the cost of a publish).
 */
export function payloadText(value: unknown, decodedFromMsgpack = false): string {
  if (value === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'data is required');
  let text: string | undefined;
  try {
    text = decodedFromMsgpack ? JSON.stringify(value, noBytes) : JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'data must be a JSON value (no binary or bigint values)');
  return text;
}

/**
 * The deepest nesting (objects and arrays) a message payload may have. Every face must be
 * able to encode what was accepted: msgpack's encoder, a recursive walk, overflows the stack
 * somewhere past 2,000 levels, after the message was stored. Far deeper than real data nests.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Whether the (valid) JSON `text` nests deeper than `max`. Cheap for what real payloads
 * look like: a text too short to nest that deep, or with no more than `max` opening brackets
 * in all (counted with indexOf), is answered without a walk.
 */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  if (text.length < 2 * (max + 1)) return false;
  let openers = 0;
  for (let j = text.indexOf('{'); j >= 0 && openers <= max; j = text.indexOf('{', j + 1)) openers++;
  for (let j = text.indexOf('['); j >= 0 && openers <= max; j = text.indexOf('[', j + 1)) openers++;
  if (openers <= max) return false;
  let depth = 0;
  for (let j = 0; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === QUOTE) j = stringEnd(text, j);
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

/** The deepest a client frame may nest: its payload's bound and room for the envelope around it. */
export const MAX_FRAME_DEPTH = MAX_JSON_DEPTH + 8;

/** `bad_request` for JSON text (a payload, by default) nested deeper than `max`. */
export function checkDepth(text: string, what = 'data', max = MAX_JSON_DEPTH): void {
  if (jsonTooDeep(text, max)) throw new ProtocolError(ErrorCode.BadRequest, `${what} nests deeper than ${max} levels`);
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The raw text of member `key` of the JSON object `text`, which JSON.parse has already
 * accepted: what a publish frame's `data` is, without re-serializing the parsed value (that
 * cost a publish as much as parsing the frame). Like JSON.parse, the last of duplicate keys
 * wins. Undefined when the member is absent, or when a key is written with escapes (the
 * caller then serializes the parsed value). A walk over the text with no allocation but the
 * returned slice.
 */
export function jsonMember(text: string, key: string): string | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipSpace(text, i + 1);
  let start = -1;
  let end = -1;
  while (text.charCodeAt(i) === QUOTE) {
    const close = stringEnd(text, i);
    for (let k = i + 1; k < close; k++) if (text.charCodeAt(k) === BACKSLASH) return undefined; // an escaped key may spell `key`
    const match = close - i - 1 === key.length && text.startsWith(key, i + 1);
    i = skipSpace(text, skipSpace(text, close + 1) + 1); // past the colon
    const valueEnd = valueEndAt(text, i);
    if (match) {
      start = i;
      end = valueEnd;
    }
    i = skipSpace(text, valueEnd);
    if (text.charCodeAt(i) !== COMMA) break;
    i = skipSpace(text, i + 1);
  }
  return start < 0 ? undefined : text.slice(start, end);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function skipSpace(text: string, i: number): number {
  let c = text.charCodeAt(i);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i);
  return i;
}

/** The index of the quote closing the string that opens at `i`. */
function stringEnd(text: string, i: number): number {
  let j = text.indexOf('"', i + 1);
  for (;;) {
    let k = j - 1;
    while (text.charCodeAt(k) === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j; // an even run of backslashes escapes nothing
    j = text.indexOf('"', j + 1);
  }
}

/** Where the (valid) JSON value starting at `i` ends. */
function valueEndAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i) + 1;
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    // a number or a literal: up to the delimiter that follows it
    let j = i + 1;
    for (let d = text.charCodeAt(j); j < text.length && d !== COMMA && d !== CLOSE_BRACE && d !== CLOSE_BRACKET && d !== 0x20 && d !== 0x0a && d !== 0x0d && d !== 0x09; d = text.charCodeAt(++j));
    return j;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (d === QUOTE) j = stringEnd(text, j);
    else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
    else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return j + 1;
  }
  return text.length;
}
