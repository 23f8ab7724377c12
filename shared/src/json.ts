import { ErrorCode, ProtocolError } from './codes.js';

/** Refuses byte strings (msgpack `bin`): payloads are JSON values. Sees values before `toJSON`. */
function noBytes(this: Record<string, unknown>, key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(this[key]) || this[key] instanceof ArrayBuffer) throw new TypeError('bytes');
  return value;
}

/** Canonical JSON text of a payload value; rejects what JSON cannot carry (and byte strings). */
export function payloadText(value: unknown): string {
  if (value === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'data is required');
  let text: string | undefined;
  try {
    text = JSON.stringify(value, noBytes);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'data must be a JSON value (no binary or bigint values)');
  return text;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
