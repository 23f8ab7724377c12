/**
 * How frames travel: the subprotocol the client offers, and the encoding of frames both
 * ways. JSON (`json`, the default) is built in; msgpack comes from
 * `@switchyard/client/msgpack`, the only module that needs the `msgpackr` package.
 */
export interface Codec {
  /** The subprotocol offered in `Sec-WebSocket-Protocol` (`switchyard.v1.json`, `switchyard.v1.msgpack`). */
  readonly protocol: string;
  /** One frame object as a text (JSON) or binary (msgpack) WebSocket message. */
  encode(frame: object): string | Uint8Array;
  /**
   * One received WebSocket message as a frame object. `data` is what the socket gives: a
   * string for a text frame, an `ArrayBuffer` (browsers, and `ws` with binaryType
   * `arraybuffer`) or a `Uint8Array` / Node `Buffer` for a binary one. Throws on garbage.
   */
  decode(data: unknown): unknown;
}

const utf8 = new TextDecoder();

/** A received message's bytes, or `undefined` when it is a string. Throws for anything else (a `Blob`). */
export function bytesOf(data: unknown): Uint8Array | undefined {
  if (typeof data === 'string') return undefined;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`unsupported WebSocket message data: ${Object.prototype.toString.call(data)}`);
}

/** JSON text frames: the protocol's default. */
export const json: Codec = {
  protocol: 'switchyard.v1.json',
  encode: (frame) => JSON.stringify(frame),
  decode(data) {
    const bytes = bytesOf(data);
    return JSON.parse(bytes === undefined ? (data as string) : utf8.decode(bytes));
  },
};
