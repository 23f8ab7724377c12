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

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
