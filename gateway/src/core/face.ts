import type { Message } from '@switchyard/shared';

/**
 * A wire encoding of channel messages. The hub encodes each message at most once per face
 * per broadcast and writes the same bytes to every subscriber of that face.
 */
export interface Face {
  /** Dense slot in the hub's per-broadcast frame cache. */
  readonly index: number;
  readonly binary: boolean;
  /** `channelJson` is the channel name already JSON-quoted (cached per channel). */
  encode(channel: string, channelJson: string, msg: Message): Uint8Array;
}

/** Face indexes: one per distinct encoding of a channel message. */
export const FaceIndex = { NativeJson: 0, NativeMsgpack: 1, Site: 2, Otter: 3, Bartnet: 4 } as const;
export const FACE_COUNT = 5;
