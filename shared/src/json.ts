import { ErrorCode, ProtocolError } from './codes.js';

/** Canonical JSON text of a payload value; rejects what JSON cannot carry. */
export function payloadText(value: unknown): string {
  if (value === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'data is required');
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'data must be a JSON value');
  return text;
}

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
