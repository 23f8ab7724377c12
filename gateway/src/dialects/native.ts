import { Unpackr, pack } from 'msgpackr';
import {
  ErrorCode,
  ProtocolError,
  clientInfoJson,
  errorName,
  findTenant,
  isPlainObject,
  jsonMember,
  payloadText,
  resolveChannel,
  verifyClientToken,
  type ChannelRef,
  type Message,
  type PresenceChange,
} from '@switchyard/shared';
import type { Command, Done } from '../core/commands.js';
import type { Admission, Dialect, DialectContext, UpgradeInfo } from '../core/dialect.js';
import type { Face } from '../core/face.js';
import type { Out, Session } from '../core/session.js';
import { checkFrameDepth, parseAfter, utf8Text } from './frames.js';

/** Subprotocols a native client may ask for; JSON text frames unless it asks for msgpack. */
export const NATIVE_JSON_PROTOCOL = 'switchyard.v1.json';
export const NATIVE_MSGPACK_PROTOCOL = 'switchyard.v1.msgpack';
export const NATIVE_VERSION = 1;
export const NATIVE_PATH = '/v1/ws';

type RequestId = string | number | undefined;
type Frame = Record<string, unknown>;
/** A parsed native frame: the object and its validated `id`. */
export interface NativeRequest {
  readonly frame: Frame;
  readonly id: RequestId;
  /** The frame's JSON text (undefined for msgpack): a publish takes its `data` from it as is. */
  readonly text: string | undefined;
}

// Plain msgpack maps as objects; 64-bit integers as numbers (JSON has no bigint).
const unpackr = new Unpackr({ mapsAsObjects: true, int64AsType: 'number' });

/** A native `message` frame as JSON text: the payload text is spliced in, never re-parsed. */
export function nativeMessageJson(channelJson: string, msg: Message): string {
  const head = `{"type":"message","channel":${channelJson},"seq":${msg.seq},"time":${msg.time},"data":${msg.data}`;
  return msg.from === undefined ? `${head}}` : `${head},"from":${clientInfoJson(msg.from)}}`;
}

/** Native JSON channel messages. */
export function encodeNativeJson(_channel: string, channelJson: string, msg: Message): Uint8Array {
  return Buffer.from(nativeMessageJson(channelJson, msg));
}

/** Native msgpack: the same fields, the payload decoded once per broadcast. */
export function encodeNativeMsgpack(channel: string, _channelJson: string, msg: Message): Uint8Array {
  const frame: Frame = { type: 'message', channel, seq: msg.seq, time: msg.time, data: JSON.parse(msg.data) as unknown };
  if (msg.from !== undefined) frame.from = fromMsgpack(msg.from);
  return pack(frame);
}

/**
 * A `join` / `leave` frame (docs/protocol.md#join-and-leave) as JSON text. A leave carries no
 * `info`: the join did, and a leave of a dead node's connection may not know it.
 */
export function encodeNativePresenceJson(_channel: string, channelJson: string, c: PresenceChange): Uint8Array {
  const e = c.entry;
  let out = `{"type":"${c.type}","channel":${channelJson},"conn":${JSON.stringify(e.conn)}`;
  if (e.user !== undefined) out += `,"user":${JSON.stringify(e.user)}`;
  if (c.type === 'join' && e.info !== undefined) out += `,"info":${JSON.stringify(e.info)}`;
  return Buffer.from(`${out}}`);
}

/** The same frame in msgpack. */
export function encodeNativePresenceMsgpack(channel: string, _channelJson: string, c: PresenceChange): Uint8Array {
  const e = c.entry;
  const frame: Frame = { type: c.type, channel, conn: e.conn };
  if (e.user !== undefined) frame.user = e.user;
  if (c.type === 'join' && e.info !== undefined) frame.info = e.info;
  return pack(frame);
}

const fromMsgpack = (from: NonNullable<Message['from']>): Frame => ({
  conn: from.conn,
  ...(from.user !== undefined ? { user: from.user } : {}),
  ...(from.info !== undefined ? { info: JSON.parse(from.info) as unknown } : {}),
});

/**
 * A native `message` frame carrying a delta (docs/protocol.md#delta-compression) as JSON
 * text: `data` is the Fossil delta as a string (it is ASCII, see core/delta.ts).
 */
export function encodeNativeDeltaJson(_channel: string, channelJson: string, msg: Message, delta: Uint8Array): Uint8Array {
  const head = `{"type":"message","channel":${channelJson},"seq":${msg.seq},"time":${msg.time},"delta":true,"data":${JSON.stringify(Buffer.from(delta.buffer, delta.byteOffset, delta.byteLength).toString('latin1'))}`;
  return Buffer.from(msg.from === undefined ? `${head}}` : `${head},"from":${clientInfoJson(msg.from)}}`);
}

/** The same in msgpack: `data` is the delta's bytes (`bin`). */
export function encodeNativeDeltaMsgpack(channel: string, _channelJson: string, msg: Message, delta: Uint8Array): Uint8Array {
  const frame: Frame = { type: 'message', channel, seq: msg.seq, time: msg.time, delta: true, data: delta };
  if (msg.from !== undefined) frame.from = fromMsgpack(msg.from);
  return pack(frame);
}

/**
 * The native protocol (docs/protocol.md): `{type, id?, …}` commands, replies correlated by
 * the client's `id`, typed error codes. The same objects travel as JSON text or msgpack.
 */
export class NativeDialect implements Dialect<NativeRequest> {
  readonly name = 'native';
  readonly path = NATIVE_PATH;
  private readonly json: Face;
  private readonly msgpack: Face;

  constructor(private readonly ctx: DialectContext) {
    this.json = ctx.faces.register({ name: 'native-json', binary: false, encode: encodeNativeJson, encodeDelta: encodeNativeDeltaJson, encodePresence: encodeNativePresenceJson });
    this.msgpack = ctx.faces.register({ name: 'native-msgpack', binary: true, encode: encodeNativeMsgpack, encodeDelta: encodeNativeDeltaMsgpack, encodePresence: encodeNativePresenceMsgpack });
  }

  admit(u: UpgradeInfo): Admission {
    const tenant = findTenant(this.ctx.tenants, u.query.get('tenant'), 'tenant', 'query parameter tenant is required');
    const msgpack = u.protocols.includes(NATIVE_MSGPACK_PROTOCOL);
    const json = u.protocols.includes(NATIVE_JSON_PROTOCOL);
    return {
      tenant,
      face: msgpack ? this.msgpack : this.json,
      protocol: msgpack ? NATIVE_MSGPACK_PROTOCOL : json ? NATIVE_JSON_PROTOCOL : '',
    };
  }

  authRequired(s: Session): boolean {
    return !s.tenant.anonymous;
  }

  open(s: Session): { send: Out } {
    const hello = { type: 'hello', version: NATIVE_VERSION, conn: s.id, node: this.ctx.nodeId, auth: s.tenant.anonymous ? 'optional' : 'required' };
    return { send: encode(s, hello) };
  }

  parse(data: ArrayBuffer, binary: boolean): NativeRequest {
    let frame: unknown;
    let text: string | undefined;
    try {
      if (binary) frame = unpackr.unpack(new Uint8Array(data).slice());
      else frame = JSON.parse((text = utf8Text(data)));
    } catch {
      throw new ProtocolError(ErrorCode.BadFrame, binary ? 'frame is not valid msgpack' : 'frame is not valid JSON');
    }
    if (text !== undefined) checkFrameDepth(text, 'frame');
    if (!isPlainObject(frame)) throw new ProtocolError(ErrorCode.BadFrame, 'frame must be an object');
    const id = frame.id;
    // A number JSON cannot write back (1e400 parses to Infinity) would be echoed as null.
    if (id !== undefined && typeof id !== 'string' && (typeof id !== 'number' || !Number.isFinite(id))) {
      throw new ProtocolError(ErrorCode.BadRequest, 'id must be a string or a finite number');
    }
    return { frame, id, text };
  }

  command(s: Session, { frame: f, text }: NativeRequest): Command {
    switch (f.type) {
      case 'auth': {
        const claims = verifyClientToken(s.tenant.secret, f.token);
        return {
          op: 'authenticate',
          identity: {
            ...(claims.user !== undefined ? { user: claims.user } : {}),
            ...(claims.info !== undefined ? { info: claims.info } : {}),
            ...(claims.channels !== undefined ? { allowed: claims.channels } : {}),
            ...(claims.exp !== undefined ? { exp: claims.exp } : {}),
          },
        };
      }
      case 'subscribe': {
        const channel = this.channel(s, f);
        const after = parseAfter(f.after, undefined);
        const epoch = f.epoch;
        if (epoch !== undefined && typeof epoch !== 'string') throw new ProtocolError(ErrorCode.BadRequest, 'epoch must be a string');
        // Delta compression: asked for by name, granted where the namespace allows it (the reply says).
        if (f.delta !== undefined && f.delta !== 'fossil') throw new ProtocolError(ErrorCode.BadRequest, 'delta must be "fossil"');
        const from = after === undefined ? undefined : epoch === undefined ? { after } : { after, epoch };
        const target = from === undefined ? { channel } : { channel, from };
        return { op: 'subscribe', targets: [f.delta === undefined ? target : { ...target, delta: true }] };
      }
      case 'unsubscribe':
        return { op: 'unsubscribe', channel: resolveChannel(s.tenant, f.channel) };
      case 'publish': {
        const channel = this.channel(s, f);
        if (!channel.opts.clientPublish) throw new ProtocolError(ErrorCode.PermissionDenied, `clients may not publish to ${channel.name}`);
        const ack = f.ack;
        if (ack !== undefined && typeof ack !== 'boolean') throw new ProtocolError(ErrorCode.BadRequest, 'ack must be true or false');
        // JSON frames: the payload as sent (it parsed); msgpack: serialized, refusing byte strings.
        const data = (text !== undefined ? jsonMember(text, 'data') : undefined) ?? payloadText(f.data, text === undefined);
        // ack:false — a high-rate publisher skips the success reply (one send less per publish); errors still answer.
        return { op: 'publish', channel, data, ack: ack !== false, up: { channel, data } };
      }
      case 'presence': {
        const channel = this.channel(s, f);
        if (!channel.opts.presence) throw new ProtocolError(ErrorCode.BadRequest, `presence is off for ${channel.name}`);
        return { op: 'presence', channel };
      }
      case 'ping':
        return { op: 'local' };
      default:
        throw new ProtocolError(
          ErrorCode.UnknownCommand,
          typeof f.type === 'string' ? `unknown command type '${f.type.slice(0, 64)}'` : 'type must be a string',
        );
    }
  }

  /** Resolves the frame's channel; the connection must have authenticated unless the tenant is anonymous. */
  private channel(s: Session, f: Frame): ChannelRef {
    if (!s.authenticated && !s.tenant.anonymous) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'authenticate first: send {"type":"auth","token":…}');
    }
    return resolveChannel(s.tenant, f.channel);
  }

  reply(s: Session, req: NativeRequest, done: Done): Out | undefined {
    return encode(s, replyFrame(req.id, result(s, done)));
  }

  error(s: Session, req: NativeRequest | undefined, err: ProtocolError): Out {
    const body = errorBody(err);
    return encode(s, req === undefined ? { type: 'error', error: body } : { ...replyFrame(req.id, undefined), error: body });
  }
}

/** The `result` of a successful reply, by command. */
function result(s: Session, done: Done): unknown {
  switch (done.op) {
    case 'authenticate':
      return {
        conn: s.id,
        ...(s.user !== undefined ? { user: s.user } : {}),
        ...(done.cmd.identity.exp !== undefined ? { exp: done.cmd.identity.exp } : {}),
      };
    case 'subscribe': {
      const sub = done.outcome.subscribed[0];
      if (sub === undefined) return {};
      const res = { channel: sub.channel.name, last: sub.last, recovered: sub.recovered, epoch: sub.epoch };
      // `delta` answers the request: only there when the subscribe asked for it.
      return done.cmd.targets[0]?.delta === true ? { ...res, delta: sub.delta } : res;
    }
    case 'publish':
      return { seq: done.outcome.seq, time: done.outcome.time };
    case 'presence':
      return { channel: done.cmd.channel.name, clients: done.outcome };
    default:
      return {};
  }
}

function replyFrame(id: RequestId, res: unknown): Frame {
  const frame: Frame = { type: 'reply' };
  if (id !== undefined) frame.id = id;
  if (res !== undefined) frame.result = res;
  return frame;
}

const errorBody = (e: ProtocolError) => ({
  code: e.code,
  name: errorName[e.code],
  message: e.message,
  ...(e.temporary ? { temporary: true } : {}),
});

/** A control frame in the connection's encoding: msgpack for msgpack connections, JSON text otherwise. */
const encode = (s: Session, frame: Frame): Out => (s.face?.binary === true ? pack(frame) : JSON.stringify(frame));
