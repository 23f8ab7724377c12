/**
 * The text of Server-Sent Events (docs/sse.md) and the event ids that let a browser's
 * `EventSource` resume a stream of several channels with nothing but `Last-Event-ID`.
 *
 * An event id holds the stream's position in every channel, in the order the URL names them:
 * `<seq>.<epoch tag>` per channel (`<seq>` alone for channels without history), joined by
 * `_`. `17.3f2a9c0d1b4e_0` is seq 17 of the first channel's epoch tagged 3f2a9c0d1b4e, and
 * nothing yet of a history-less second channel. Hex, digits, `.` and `_`: safe in a header and
 * in a query parameter.
 */

/** Where a stream is in one channel: the last seq it was sent and the tag of that seq's epoch. */
export interface Position {
  seq: number;
  tag: string;
}

const POSITION_RE = /^(0|[1-9][0-9]{0,15})(?:\.([0-9a-f]{12}))?$/;

/** The event id for the stream's positions. */
export function formatEventId(positions: readonly Position[]): string {
  let id = '';
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i] as Position;
    if (i > 0) id += '_';
    id += p.tag === '' ? `${p.seq}` : `${p.seq}.${p.tag}`;
  }
  return id;
}

/**
 * The positions an event id names, one per channel; undefined when it is not an id this
 * server made for `count` channels (then the stream cannot resume from it).
 */
export function parseEventId(id: string, count: number): Position[] | undefined {
  if (id.length > count * 30) return undefined;
  const parts = id.split('_');
  if (parts.length !== count) return undefined;
  const out: Position[] = [];
  for (const part of parts) {
    const m = POSITION_RE.exec(part);
    if (m === null) return undefined;
    const seq = Number(m[1]);
    if (!Number.isSafeInteger(seq)) return undefined;
    out.push({ seq, tag: m[2] ?? '' });
  }
  return out;
}

const LINE_BREAK = /\r\n|\r|\n/g;

/**
 * `data:` lines carrying `text`. A line break inside (JSON whitespace a publisher sent) starts
 * another `data:` line; the client's parser joins them with `\n`, so the JSON reads the same.
 */
export function dataLines(text: string): string {
  return `data: ${text.includes('\n') || text.includes('\r') ? text.replace(LINE_BREAK, '\ndata: ') : text}\n`;
}

/** A named event with JSON data and, when given, an id. */
export function namedEvent(event: string, data: unknown, id?: string): string {
  return `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}${dataLines(JSON.stringify(data))}\n`;
}

/** A comment line: keeps proxies and the peer's socket from timing the stream out; clients ignore it. */
export const HEARTBEAT = ': heartbeat\n\n';
