import { createDelta } from 'fossil-delta';
import type { Session } from './session.js';

/**
 * Delta compression of channel messages (docs/protocol.md#delta-compression): a subscriber
 * that asked for it gets each message after the first as a Fossil delta (the `fossil-delta`
 * package) against the previous message of the channel.
 *
 * A delta applies to the **delta text** of a payload: the JSON value written by
 * `JSON.stringify`, with every character above U+007F as a `\uXXXX` escape. Any client
 * rebuilds it from the value it decoded out of a full frame, JSON or msgpack alike, so the
 * full frame a delta subscriber gets is the very frame every other subscriber of its face
 * gets (one encode per face); and the text is ASCII, so its bytes are its characters, and a
 * delta (Fossil copies byte ranges and inserts the target's bytes) is ASCII too: it fits in
 * a JSON string unchanged.
 */
export function deltaText(json: string): string {
  const text = JSON.stringify(JSON.parse(json));
  NON_ASCII.lastIndex = 0;
  return NON_ASCII.test(text) ? text.replace(NON_ASCII, escape) : text;
}

const NON_ASCII = /[\u0080-\uffff]/g;
const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** The delta text's bytes (ASCII: one byte per character). */
const asciiBytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');

/**
 * The delta subscribers of one channel on this node, made for the first (most channels have
 * none) and dropped with the last. Each live one is on one of two uWS topics of its face:
 * the channel's full topic until a full message reached it (`joining`), then the delta topic
 * (`onDelta`), where every frame is a delta against the message before it, or a full one
 * when there is no delta to send.
 */
export class DeltaState {
  /** Subscribing (in the channel's `pending`), delta on. */
  readonly pending = new Set<Session>();
  /** Live on the full topic: they move to the delta topic once the next broadcast brought them a full message. */
  readonly joining = new Set<Session>();
  /** Live on the delta topic: they hold the previous message. */
  readonly onDelta = new Set<Session>();
  /** Delta-topic subscribers per face (by face index). */
  readonly counts: number[];
  /** The previous message's delta text as bytes; undefined: the next message goes out in full. */
  private base: Uint8Array | undefined = undefined;

  constructor(faces: number) {
    this.counts = new Array<number>(faces).fill(0);
  }

  get size(): number {
    return this.pending.size + this.joining.size + this.onDelta.size;
  }

  /**
   * `data` (a payload's JSON text) becomes the previous message; returns the delta to it
   * from the one before when `wanted` (someone is on a delta topic), or undefined when there
   * is none to send (no previous message known, or the delta is not smaller): the delta
   * topics get the full frame then.
   */
  next(data: string, wanted: boolean): Uint8Array | undefined {
    const prev = this.base;
    let target: Uint8Array;
    try {
      target = asciiBytes(deltaText(data));
    } catch {
      // Payloads are JSON (the ingress checks it): this cannot happen, and if it did, a full frame is always right.
      this.base = undefined;
      return undefined;
    }
    this.base = target;
    if (prev === undefined || !wanted) return undefined;
    const delta = createDelta(prev, target);
    return delta.byteLength < target.byteLength ? delta : undefined;
  }

  /** The next message goes out in full (a face could not encode this one: its subscribers missed it). */
  resync(): void {
    this.base = undefined;
  }
}
