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

/** `from` as JSON text (`info` is already JSON text, spliced in). */
export function clientInfoJson(f: ClientInfo): string {
  let s = `{"conn":${JSON.stringify(f.conn)}`;
  if (f.user !== undefined) s += `,"user":${JSON.stringify(f.user)}`;
  if (f.info !== undefined) s += `,"info":${f.info}`;
  return `${s}}`;
}
