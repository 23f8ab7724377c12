import { headers as natsHeaders, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import type { JsMsg, StoredMsg } from '@nats-io/jetstream';
import { jsonTooDeep } from '../../json.js';
import { clientInfoJson, type ClientInfo, type Message } from '../../model/message.js';
import { Header } from './subjects.js';

/**
 * How messages travel in NATS: the payload is the message's JSON text as is; time and sender
 * ride in headers (`Header`); the seq is JetStream's stream sequence (0 on channels without
 * history, which go over core NATS only).
 */

/** Set by the server on messages the stream relays (RePublish, nats-server ≥ 2.9). */
const SEQ = 'Nats-Sequence';
/** The previous stream sequence of the same subject: what reveals a gap. */
const LAST_SEQ = 'Nats-Last-Sequence';

/** Headers of a message published now (`time`) by `from` (absent for backend publishes). */
export function messageHeaders(time: number, from: ClientInfo | undefined): MsgHdrs {
  const h = natsHeaders();
  h.set(Header.Time, String(time));
  if (from !== undefined) h.set(Header.From, fromJson(from));
  return h;
}

/** The `Sy-From` header: `{conn, user?, info?}` with `info` as a JSON value, not a string. */
export const fromJson = clientInfoJson;

/**
 * Builds a Message from NATS parts; undefined when the payload is not JSON, or nests deeper
 * than every face can encode (a backend publishing straight to NATS may send anything, and
 * faces splice `data` into frames as is).
 * A missing or bad time becomes now; a bad `from` is left out.
 */
export function toMessage(data: string, seq: string | undefined, time: string | undefined, from: string | undefined): Message | undefined {
  try {
    JSON.parse(data);
  } catch {
    return undefined;
  }
  if (jsonTooDeep(data)) return undefined;
  const t = Number(time);
  const base = { seq: Number(seq ?? '0') || 0, time: Number.isFinite(t) && t > 0 ? Math.floor(t) : Date.now(), data };
  if (from === undefined) return base;
  try {
    const f = JSON.parse(from) as { conn?: unknown; user?: unknown; info?: unknown };
    if (typeof f.conn !== 'string') return base;
    return {
      ...base,
      from: {
        conn: f.conn,
        ...(typeof f.user === 'string' ? { user: f.user } : {}),
        ...(f.info !== undefined ? { info: JSON.stringify(f.info) } : {}),
      },
    };
  } catch {
    return base; // a sender we cannot read: the message itself is still good
  }
}

/** A message read with a direct get (`last_by_subj`, `seq`). */
export function storedToMessage(m: StoredMsg): Message | undefined {
  return toMessage(m.string(), String(m.seq), m.header?.get(Header.Time) ?? String(m.time.getTime()), m.header?.get(Header.From));
}

/** A message read through a consumer. */
export function consumedToMessage(m: JsMsg): Message | undefined {
  return toMessage(m.string(), String(m.seq), m.headers?.get(Header.Time) ?? String(m.time.getTime()), m.headers?.get(Header.From));
}

/** A message from a live subject, with the previous seq of its subject (0 when not stored). */
export interface LiveMessage {
  readonly msg: Message;
  readonly prev: number;
}

/** Decodes a live-subject message; undefined when its payload is not JSON. */
export function liveMessage(m: Msg): LiveMessage | undefined {
  const h = m.headers;
  const msg = toMessage(m.string(), h?.get(SEQ), h?.get(Header.Time), h?.get(Header.From));
  return msg === undefined ? undefined : { msg, prev: Number(h?.get(LAST_SEQ) ?? '0') };
}
