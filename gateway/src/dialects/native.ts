import { Unpackr, pack } from 'msgpackr';
import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  channelAllowed,
  closeCode,
  closeText,
  errorName,
  isPlainObject,
  payloadText,
  resolveChannel,
  toClientError,
  verifyClientToken,
  type ChannelRef,
} from '@switchyard/shared';
import type { Session } from '../core/session.js';
import type { Dialect, DialectContext } from './dialect.js';

/** Subprotocols a native client may ask for; JSON text frames unless it asks for msgpack. */
export const NATIVE_JSON_PROTOCOL = 'switchyard.v1.json';
export const NATIVE_MSGPACK_PROTOCOL = 'switchyard.v1.msgpack';
export const NATIVE_VERSION = 1;

type RequestId = string | number | undefined;

// Plain msgpack maps as objects; 64-bit integers as numbers (JSON has no bigint).
const unpackr = new Unpackr({ mapsAsObjects: true, int64AsType: 'number' });
type Frame = Record<string, unknown>;

/**
 * The native protocol (docs/protocol.md): `{type, id?, …}` commands, replies correlated by
 * the client's `id`, typed error codes. The same objects travel as JSON text or msgpack.
 */
export class NativeDialect implements Dialect {
  readonly name = 'native';

  constructor(private readonly ctx: DialectContext) {}

  open(s: Session): void {
    this.send(s, {
      type: 'hello',
      version: NATIVE_VERSION,
      conn: s.id,
      node: this.ctx.nodeId,
      auth: s.tenant.anonymous ? 'optional' : 'required',
    });
  }

  message(s: Session, data: ArrayBuffer, binary: boolean): void {
    let frame: unknown;
    try {
      frame = binary ? unpackr.unpack(new Uint8Array(data).slice()) : JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      this.error(s, new ProtocolError(ErrorCode.BadFrame, binary ? 'frame is not valid msgpack' : 'frame is not valid JSON'));
      return;
    }
    if (!isPlainObject(frame)) {
      this.error(s, new ProtocolError(ErrorCode.BadFrame, 'frame must be an object'));
      return;
    }
    const id = frame.id;
    if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') {
      this.error(s, new ProtocolError(ErrorCode.BadRequest, 'id must be a string or a number'));
      return;
    }
    const fail = (err: unknown): void => this.reply(s, id, undefined, toClientError(err));
    try {
      switch (frame.type) {
        case 'auth':
          this.auth(s, id, frame);
          break;
        case 'subscribe':
          this.subscribe(s, id, frame).catch(fail);
          break;
        case 'unsubscribe':
          this.unsubscribe(s, id, frame);
          break;
        case 'publish':
          this.publish(s, id, frame).catch(fail);
          break;
        case 'presence':
          this.presence(s, id, frame).catch(fail);
          break;
        case 'ping':
          this.reply(s, id, {});
          break;
        default:
          throw new ProtocolError(
            ErrorCode.UnknownCommand,
            typeof frame.type === 'string' ? `unknown command type '${frame.type.slice(0, 64)}'` : 'type must be a string',
          );
      }
    } catch (err) {
      fail(err);
    }
  }

  error(s: Session, err: ProtocolError): void {
    this.ctx.metrics.errors.inc({ code: errorName[err.code] });
    this.send(s, { type: 'error', error: errorBody(err) });
  }

  private auth(s: Session, id: RequestId, f: Frame): void {
    const claims = verifyClientToken(s.tenant.secret, f.token);
    if (s.authenticated && claims.user !== s.user) {
      throw new ProtocolError(ErrorCode.PermissionDenied, 'a connection cannot change its user');
    }
    s.authenticated = true;
    s.user = claims.user;
    s.info = claims.info;
    s.allowed = claims.channels;
    if (s.expiryTimer !== undefined) clearTimeout(s.expiryTimer);
    s.expiryTimer = undefined;
    if (claims.exp !== undefined) armExpiry(s, claims.exp * 1000);
    this.reply(s, id, { conn: s.id, ...(claims.user !== undefined ? { user: claims.user } : {}), ...(claims.exp !== undefined ? { exp: claims.exp } : {}) });
  }

  /** Resolves the frame's channel and checks that this connection may use it. */
  private channel(s: Session, f: Frame): ChannelRef {
    if (!s.authenticated && !s.tenant.anonymous) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'authenticate first: send {"type":"auth","token":…}');
    }
    const ref = resolveChannel(s.tenant, f.channel);
    if (!channelAllowed(s.allowed, ref.name)) {
      throw new ProtocolError(ErrorCode.PermissionDenied, `token does not allow channel ${ref.name}`);
    }
    return ref;
  }

  private async subscribe(s: Session, id: RequestId, f: Frame): Promise<void> {
    const ref = this.channel(s, f);
    const after = f.after;
    if (after !== undefined && (typeof after !== 'number' || !Number.isInteger(after) || after < -1)) {
      throw new ProtocolError(ErrorCode.BadRequest, 'after must be an integer >= -1');
    }
    const epoch = f.epoch;
    if (epoch !== undefined && typeof epoch !== 'string') throw new ProtocolError(ErrorCode.BadRequest, 'epoch must be a string');
    const sub = await this.ctx.hub.subscribe(s, ref, after === undefined ? undefined : { after, ...(epoch !== undefined ? { epoch } : {}) });
    if (s.closed) return;
    this.reply(s, id, { channel: ref.name, last: sub.last, recovered: sub.recovered, epoch: sub.epoch });
    this.ctx.hub.activate(s, sub);
  }

  private unsubscribe(s: Session, id: RequestId, f: Frame): void {
    const ref = resolveChannel(s.tenant, f.channel);
    if (!this.ctx.hub.unsubscribe(s, ref)) throw new ProtocolError(ErrorCode.NotSubscribed, `not subscribed to ${ref.name}`);
    this.reply(s, id, {});
  }

  private async publish(s: Session, id: RequestId, f: Frame): Promise<void> {
    const ref = this.channel(s, f);
    if (!ref.opts.clientPublish) {
      throw new ProtocolError(ErrorCode.PermissionDenied, `clients may not publish to ${ref.name}`);
    }
    const ack = f.ack;
    if (ack !== undefined && typeof ack !== 'boolean') throw new ProtocolError(ErrorCode.BadRequest, 'ack must be true or false');
    const data = payloadText(f.data, s.face.binary);
    const from = {
      conn: s.id,
      ...(s.user !== undefined ? { user: s.user } : {}),
      ...(s.info !== undefined ? { info: JSON.stringify(s.info) } : {}),
    };
    const msg = await this.ctx.publisher.publishFromClient(ref, data, from);
    // ack:false — a high-rate publisher skips the success reply (one send less per publish); errors still answer.
    if (ack !== false) this.reply(s, id, { seq: msg.seq, time: msg.time });
  }

  private async presence(s: Session, id: RequestId, f: Frame): Promise<void> {
    const ref = this.channel(s, f);
    if (!ref.opts.presence) throw new ProtocolError(ErrorCode.BadRequest, `presence is off for ${ref.name}`);
    this.reply(s, id, { channel: ref.name, clients: await this.ctx.hub.presence(ref) });
  }

  private reply(s: Session, id: RequestId, result: unknown, err?: ProtocolError): void {
    if (err !== undefined) this.ctx.metrics.errors.inc({ code: errorName[err.code] });
    const frame: Frame = { type: 'reply' };
    if (id !== undefined) frame.id = id;
    if (err !== undefined) frame.error = errorBody(err);
    else frame.result = result;
    this.send(s, frame);
  }

  private send(s: Session, frame: Frame): void {
    if (s.face.binary) s.write(pack(frame), true);
    else s.write(JSON.stringify(frame), false);
  }
}

const errorBody = (e: ProtocolError) => ({
  code: e.code,
  name: errorName[e.code],
  message: e.message,
  ...(e.temporary ? { temporary: true } : {}),
});

/** Closes the session with 4101 when its token expires (re-armed past setTimeout's ~24.8-day limit). */
function armExpiry(s: Session, expMs: number): void {
  const ms = expMs - Date.now();
  s.expiryTimer = setTimeout(() => {
    if (s.closed) return;
    if (Date.now() >= expMs) s.conn.end(closeCode[CloseReason.TokenExpired], closeText[CloseReason.TokenExpired]);
    else armExpiry(s, expMs);
  }, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
  s.expiryTimer.unref();
}
