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
