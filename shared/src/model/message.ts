/** Who published a message from a client connection (absent for backend publishes). */
export interface ClientInfo {
  readonly conn: string;
  readonly user?: string;
  /** Presence info from the client's token, as raw JSON text. */
  readonly info?: string;
}

/**
 * One channel message. `data` is the payload as JSON text, validated once when published and
 * never re-parsed on the way out: faces splice it into their envelopes as is.
 */
export interface Message {
  /** Per-channel sequence number: only grows, never reused within a run of the engine. */
  readonly seq: number;
  /** Publish time, milliseconds since the epoch. */
  readonly time: number;
  readonly data: string;
  readonly from?: ClientInfo;
}

/** The JSON of `ClientInfo`s that many messages share (a connection's), made once each. */
const knownJson = new WeakMap<ClientInfo, string>();

/**
 * Makes `f` the `from` of many messages (a connection's publishes): its JSON is made once
 * here, not per message and face. Returns `f`.
 */
export function sharedClientInfo(f: ClientInfo): ClientInfo {
  knownJson.set(f, buildClientInfoJson(f));
  return f;
}

/** `from` as JSON text (`info` is already JSON text, spliced in). */
export function clientInfoJson(f: ClientInfo): string {
  return knownJson.get(f) ?? buildClientInfoJson(f);
}

function buildClientInfoJson(f: ClientInfo): string {
  let s = `{"conn":${JSON.stringify(f.conn)}`;
  if (f.user !== undefined) s += `,"user":${JSON.stringify(f.user)}`;
  if (f.info !== undefined) s += `,"info":${f.info}`;
  return `${s}}`;
}
