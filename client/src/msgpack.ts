import { Packr, Unpackr } from 'msgpackr';
import { bytesOf, type Codec } from './codec.js';

// Standard msgpack maps both ways (no msgpackr "records" extension), so the frames are what
// docs/protocol.md describes; 64-bit integers read as numbers, as the server stores JSON.
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/**
 * MessagePack frames (subprotocol `switchyard.v1.msgpack`, binary WebSocket messages):
 * `new Client(url, { codec: msgpack })`. Payloads are still JSON values: send maps, arrays,
 * strings, numbers, booleans and null; the server refuses binary (`bin`) values.
 * Needs the `msgpackr` package (an optional peer dependency of `@switchyard/client`).
 */
export const msgpack: Codec = {
  protocol: 'switchyard.v1.msgpack',
  // pack() returns a view of a buffer it reuses: copy, since a socket may hold on to it.
  encode: (frame) => new Uint8Array(packr.pack(frame)),
  decode(data) {
    const bytes = bytesOf(data);
    return bytes === undefined ? JSON.parse(data as string) : unpackr.unpack(bytes);
  },
};
