import { ErrorCode, ProtocolError, isPlainObject } from '@switchyard/shared';

/** A client text frame parsed as a JSON object; `bad_frame` otherwise (what: how the dialect names a frame). */
export function jsonObject(data: ArrayBuffer, what: string): Record<string, unknown> {
  let frame: unknown;
  try {
    frame = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    throw new ProtocolError(ErrorCode.BadFrame, 'malformed JSON');
  }
  if (!isPlainObject(frame)) throw new ProtocolError(ErrorCode.BadFrame, `${what} must be a JSON object`);
  return frame;
}

/** A resume point `after` (an integer ≥ -1), or `fallback` when absent; `bad_request` otherwise. */
export function parseAfter<T extends number | undefined>(value: unknown, fallback: T): number | T {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -1) {
    throw new ProtocolError(ErrorCode.BadRequest, 'after must be an integer >= -1');
  }
  return value;
}
