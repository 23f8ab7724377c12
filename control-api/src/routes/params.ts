import { ErrorCode, ProtocolError, type Message, type Req } from '@switchyard/shared';

/** An optional integer query parameter within bounds; `bad_request` otherwise. */
export function intParam(req: Req, name: string, dflt: number, min: number, max: number): number {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ProtocolError(ErrorCode.BadRequest, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

/** A stored message as JSON: `data` and `from.info` parsed (both are JSON text). */
export const messageJson = (m: Message) => ({
  seq: m.seq,
  time: m.time,
  data: JSON.parse(m.data) as unknown,
  ...(m.from !== undefined
    ? { from: { conn: m.from.conn, ...(m.from.user !== undefined ? { user: m.from.user } : {}), ...(m.from.info !== undefined ? { info: JSON.parse(m.from.info) as unknown } : {}) } }
    : {}),
});
