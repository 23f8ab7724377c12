import { pack } from 'msgpackr';
import type { ClientInfo, Message } from '@switchyard/shared';
import { FaceIndex, type Face } from '../core/face.js';

/** `from` of a client-published message, as JSON text (info is already JSON text). */
function fromJson(f: ClientInfo): string {
  let s = `{"conn":${JSON.stringify(f.conn)}`;
  if (f.user !== undefined) s += `,"user":${JSON.stringify(f.user)}`;
  if (f.info !== undefined) s += `,"info":${f.info}`;
  return `${s}}`;
}

/** Native JSON: the payload text is spliced in, never re-parsed. */
export const nativeJsonFace: Face = {
  index: FaceIndex.NativeJson,
  binary: false,
  encode(_channel, channelJson, msg) {
    const head = `{"type":"message","channel":${channelJson},"seq":${msg.seq},"time":${msg.time},"data":${msg.data}`;
    return Buffer.from(msg.from === undefined ? `${head}}` : `${head},"from":${fromJson(msg.from)}}`);
  },
};

/** Native msgpack: the same fields, the payload decoded once per broadcast. */
export const nativeMsgpackFace: Face = {
  index: FaceIndex.NativeMsgpack,
  binary: true,
  encode(channel, _channelJson, msg: Message) {
    const frame: Record<string, unknown> = {
      type: 'message',
      channel,
      seq: msg.seq,
      time: msg.time,
      data: JSON.parse(msg.data) as unknown,
    };
    if (msg.from !== undefined) {
      frame.from = {
        conn: msg.from.conn,
        ...(msg.from.user !== undefined ? { user: msg.from.user } : {}),
        ...(msg.from.info !== undefined ? { info: JSON.parse(msg.from.info) as unknown } : {}),
      };
    }
    return pack(frame);
  },
};
