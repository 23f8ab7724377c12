import {
  ErrorCode,
  ProtocolError,
  hiddenChannel,
  hmacHex,
  isPlainObject,
  isValidChannel,
  MAX_CHANNEL_LENGTH,
  payloadText,
  resolveChannel,
  safeEqual,
  type ChannelRef,
  type ClientInfo,
  type Tenant,
} from '@switchyard/shared';
import { FaceIndex, type Face } from '../core/face.js';
import type { Session } from '../core/session.js';
import type { Dialect, DialectContext } from './dialect.js';

/**
 * Client traffic meant for backends travels on a hidden companion of each channel. Its name
 * starts with a control character, which no public channel name may contain, so it can
 * never collide with one nor be subscribed to from outside.
 */
const BACKEND_PREFIX = '\u0001otter:';
export function backendChannel(tenant: Tenant, name: string): ChannelRef {
  return hiddenChannel(tenant.id, BACKEND_PREFIX + name);
}

/** `"connection":{"id":…,"presence":…}` of a sender; presence only when it authenticated. */
function connectionJson(from: ClientInfo): string {
  return from.info === undefined ? `{"id":${JSON.stringify(from.conn)}}` : `{"id":${JSON.stringify(from.conn)},"presence":${from.info}}`;
}

/**
 * Pushes as seed 004 shows them. Messages of a public channel (backend, REST and NATS
 * publishes) become `{"type":"pub",…}`; the hidden backend channel already carries
 * complete pub/sub/unsub events, sent as they are.
 */
export const otterFace: Face = {
  index: FaceIndex.Otter,
  binary: false,
  encode(channel, channelJson, msg) {
    if (channel.startsWith(BACKEND_PREFIX)) return Buffer.from(msg.data);
    const head = `{"type":"pub","channel":${channelJson},"message":${msg.data}`;
    return Buffer.from(msg.from === undefined ? `${head}}` : `${head},"connection":${connectionJson(msg.from)}}`);
  },
};

type Frame = Record<string, unknown>;

/**
 * The otter dialect (seed 004, docs/dialects/otter.md): `{"command": auth|sub|unsub|pub}`;
 * success is silent, errors echo the command in `from`. A client's pub reaches only
 * backends; a backend's pub reaches only clients. Backends prove themselves on every
 * command by signing their connection id with the tenant's backendSecret.
 */
export class OtterDialect implements Dialect {
  readonly name = 'otter';

  constructor(private readonly ctx: DialectContext) {}

  open(s: Session): void {
    s.alwaysPresent = true; // clients are listed by GET /otter/channels/<channel>/clients
    s.write(JSON.stringify({ id: s.id }), false);
  }

  message(s: Session, data: ArrayBuffer): void {
    const text = Buffer.from(data).toString('utf8');
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.fail(s, text.slice(0, 1024), 'malformed JSON');
      return;
    }
    if (!isPlainObject(frame)) {
      this.fail(s, frame, 'command must be a JSON object');
      return;
    }
    const f = frame;
    const reject = (err: unknown): void => this.fail(s, f, err instanceof ProtocolError ? err.message : 'internal error');
    try {
      if (f.command !== 'auth') this.checkBackend(s, f);
      switch (f.command) {
        case 'auth':
          this.auth(s, f);
          break;
        case 'sub':
          this.sub(s, f).catch(reject);
          break;
        case 'unsub':
          this.unsub(s, f);
          break;
        case 'pub':
          this.pub(s, f).catch(reject);
          break;
        default:
          throw new ProtocolError(ErrorCode.UnknownCommand, typeof f.command === 'string' ? `unknown command: ${f.command.slice(0, 64)}` : 'command must be a string');
      }
    } catch (err) {
      reject(err);
    }
  }

  error(s: Session, err: ProtocolError): void {
    this.fail(s, null, err.message);
  }

  /** A disconnecting client counts as unsubscribing from each of its channels. */
  close(s: Session): void {
    if (s.backend) return;
    for (const ref of this.ctx.hub.channelsOf(s)) this.announce(s, ref.name, 'unsub');
  }

  /** A `signature` on a non-auth command claims a backend; it must sign this connection's id. */
  private checkBackend(s: Session, f: Frame): void {
    if (f.signature === undefined) {
      if (s.backend) throw new ProtocolError(ErrorCode.Unauthorized, 'backend commands must carry signature');
      return;
    }
    const expected = hmacHex(s.tenant.backendSecret, s.id);
    if (typeof f.signature !== 'string' || !safeEqual(f.signature.toLowerCase(), expected)) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'invalid signature');
    }
    if (!s.backend) {
      if (this.ctx.hub.channelsOf(s).length > 0) throw new ProtocolError(ErrorCode.BadRequest, 'a client connection cannot become a backend');
      s.backend = true;
      s.alwaysPresent = false;
    }
  }

  private auth(s: Session, f: Frame): void {
    if (s.backend) throw new ProtocolError(ErrorCode.BadRequest, 'backends do not auth: they sign every command');
    if (typeof f.presence !== 'string') throw new ProtocolError(ErrorCode.BadRequest, 'presence must be a string');
    const expected = hmacHex(s.tenant.secret, f.presence);
    if (typeof f.signature !== 'string' || !safeEqual(f.signature.toLowerCase(), expected)) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'invalid signature');
    }
    if (this.ctx.hub.channelsOf(s).length > 0 && s.info !== f.presence) {
      throw new ProtocolError(ErrorCode.BadRequest, 'auth before subscribing: presence cannot change while subscribed');
    }
    s.authenticated = true;
    s.info = f.presence;
  }

  private mayAct(s: Session): void {
    if (!s.backend && s.tenant.otter.requireAuth && !s.authenticated) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'authentication required');
    }
  }

  private channelName(f: Frame): string {
    if (!isValidChannel(f.channel)) {
      throw new ProtocolError(ErrorCode.InvalidChannel, `channel must be 1-${MAX_CHANNEL_LENGTH} characters without control characters`);
    }
    return f.channel;
  }

  private async sub(s: Session, f: Frame): Promise<void> {
    this.mayAct(s);
    const name = this.channelName(f);
    const ref = s.backend ? backendChannel(s.tenant, name) : resolveChannel(s.tenant, name);
    if (this.ctx.hub.isSubscribed(s, ref)) return; // subscribing twice does nothing
    const sub = await this.ctx.hub.subscribe(s, ref, undefined);
    if (s.closed) return;
    this.ctx.hub.activate(s, sub);
    if (!s.backend) this.announce(s, name, 'sub');
  }

  private unsub(s: Session, f: Frame): void {
    this.mayAct(s);
    const name = this.channelName(f);
    const ref = s.backend ? backendChannel(s.tenant, name) : resolveChannel(s.tenant, name);
    if (!this.ctx.hub.unsubscribe(s, ref)) return; // not subscribed: nothing happens
    if (!s.backend) this.announce(s, name, 'unsub');
  }

  private async pub(s: Session, f: Frame): Promise<void> {
    this.mayAct(s);
    const name = this.channelName(f);
    if (f.message === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'message is required');
    const message = payloadText(f.message);
    const from = this.from(s);
    if (s.backend) {
      await this.ctx.publisher.publish(resolveChannel(s.tenant, name), message, from);
      return;
    }
    const event = `{"type":"pub","channel":${JSON.stringify(name)},"message":${message},"connection":${connectionJson(from)}}`;
    await this.ctx.publisher.publish(backendChannel(s.tenant, name), event, from);
    this.ctx.publisher.relayUp(resolveChannel(s.tenant, name), message, from);
  }

  /** Tells the channel's backends (on any node) that a client subscribed or left. */
  private announce(s: Session, channel: string, type: 'sub' | 'unsub'): void {
    const event = `{"type":"${type}","channel":${JSON.stringify(channel)},"connection":${connectionJson(this.from(s))}}`;
    this.ctx.publisher.publish(backendChannel(s.tenant, channel), event).catch((err: unknown) => {
      this.ctx.log.warn({ err, channel, conn: s.id }, `otter ${type} event not delivered`);
    });
  }

  private from(s: Session): ClientInfo {
    return typeof s.info === 'string' ? { conn: s.id, info: JSON.stringify(s.info) } : { conn: s.id };
  }

  /** `{"error": message, "from": the original command}`. */
  private fail(s: Session, from: unknown, message: string): void {
    s.write(JSON.stringify({ error: message, from }), false);
  }
}
