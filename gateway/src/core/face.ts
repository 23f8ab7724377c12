import type { ChannelRef, Message, PresenceChange } from '@switchyard/shared';
import type { Session } from './session.js';

/**
 * A wire encoding of channel messages, as a dialect declares it. Either `encode` (the hub
 * encodes each message at most once per face per broadcast and writes the same bytes to every
 * subscriber of that face) or `deliver` (the face shapes each message per connection, e.g.
 * MonoRail's watch filters, and writes through `Session.send` itself).
 */
export interface FaceSpec {
  /** For logs and tests. */
  readonly name: string;
  readonly binary: boolean;
  /** `channelJson` is the channel name already JSON-quoted (cached per channel). Must not throw. */
  readonly encode?: (channel: string, channelJson: string, msg: Message) => Uint8Array;
  /**
   * The delta frame of `msg` for subscribers that hold the previous message of the channel
   * (`delta`: its Fossil delta, ASCII; see core/delta.ts). Faces without it offer no delta
   * compression. Only with `encode`. Must not throw.
   */
  readonly encodeDelta?: (channel: string, channelJson: string, msg: Message, delta: Uint8Array) => Uint8Array;
  /**
   * The `join` / `leave` frame of a `joinLeave` channel (docs/protocol.md#join-and-leave).
   * Faces without it get no such frames. Only with `encode`. Must not throw.
   */
  readonly encodePresence?: (channel: string, channelJson: string, change: PresenceChange) => Uint8Array;
  /** Per-connection delivery. Must not throw: it runs inside the fan-out loop. */
  readonly deliver?: (s: Session, ch: ChannelRef, msg: Message) => void;
}

/** A registered face: its spec plus a dense index (a channel has one topic per face). */
export interface Face extends FaceSpec {
  readonly index: number;
}

/**
 * The faces of one gateway. Dialects register theirs when they are built; the hub sizes each channel's
 * per-face topic counts from `size`, so registration ends before the first subscribe.
 */
export class FaceTable {
  private readonly faces: Face[] = [];

  register(spec: FaceSpec): Face {
    if ((spec.encode === undefined) === (spec.deliver === undefined)) {
      throw new Error(`face ${spec.name}: give exactly one of encode and deliver`);
    }
    if (spec.encodeDelta !== undefined && spec.encode === undefined) throw new Error(`face ${spec.name}: encodeDelta needs encode`);
    if (spec.encodePresence !== undefined && spec.encode === undefined) throw new Error(`face ${spec.name}: encodePresence needs encode`);
    // Every face has the same fields, so the fan-out loop's property reads stay monomorphic.
    const face: Face = Object.freeze({ name: spec.name, binary: spec.binary, encode: spec.encode, encodeDelta: spec.encodeDelta, encodePresence: spec.encodePresence, deliver: spec.deliver, index: this.faces.length });
    this.faces.push(face);
    return face;
  }

  get size(): number {
    return this.faces.length;
  }

  /** The face registered with `index`. */
  get(index: number): Face {
    return this.faces[index] as Face;
  }
}
