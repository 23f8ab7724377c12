import {
  ErrorCode,
  ProtocolError,
  findTenant,
  hiddenChannel,
  hmacHex,
  purposeKey,
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
import type { Command, Done } from '../core/commands.js';
import type { Admission, Dialect, DialectContext, UpgradeInfo } from '../core/dialect.js';
import type { Face } from '../core/face.js';
import type { Out, Session } from '../core/session.js';
import { checkFrameDepth, utf8Text } from './frames.js';

export const OTTER_PATH = '/otter';

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

type Frame = Record<string, unknown>;

/** A client frame: the parsed object, or what could be read of it (errors echo it in `from`). */
export interface OtterRequest {
  /** The parsed command; for a frame refused at parse, its text (cut to 1 KB), which the error echoes. */
  readonly frame: unknown;
  /** Why the frame was refused at parse (answered by `command`). */
  readonly refused?: ProtocolError;
}

interface OtterState {
  /** A backend connection: proved by signing its connection id. */
  backend: boolean;
}

/**
 * The otter dialect (seed 004, docs/dialects/otter.md): `{"command": auth|sub|unsub|pub}`;
 * success is silent, errors echo the command in `from`. A client's pub reaches only
 * backends; a backend's pub reaches only clients. Backends prove themselves on every
 * command by signing their connection id with the tenant's backendSecret.
 */
export class OtterDialect implements Dialect<OtterRequest> {
  readonly name = 'otter';
  readonly path = OTTER_PATH;
  private readonly face: Face;

  constructor(private readonly ctx: DialectContext) {
    // Messages of a public channel (backend, REST and NATS publishes) become
    // `{"type":"pub",…}`; the hidden backend channel already carries complete events.
    this.face = ctx.faces.register({
      name: 'otter',
      binary: false,
      encode(channel, channelJson, msg) {
        if (channel.startsWith(BACKEND_PREFIX)) return Buffer.from(msg.data);
        const head = `{"type":"pub","channel":${channelJson},"message":${msg.data}`;
        return Buffer.from(msg.from === undefined ? `${head}}` : `${head},"connection":${connectionJson(msg.from)}}`);
      },
    });
  }

  admit(u: UpgradeInfo): Admission {
    const tenant = findTenant(this.ctx.tenants, u.query.get('tenant'), 'tenant', 'query parameter tenant is required');
    return { tenant, face: this.face, protocol: '', state: { backend: false } satisfies OtterState };
  }

  authRequired(s: Session): boolean {
    return s.tenant.otter.requireAuth;
  }

  open(s: Session): { send: Out } {
    return { send: JSON.stringify({ id: s.id }) };
  }

  parse(data: ArrayBuffer): OtterRequest {
    const text = utf8Text(data);
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return { frame: text.slice(0, 1024), refused: new ProtocolError(ErrorCode.BadFrame, 'malformed JSON') };
    }
    try {
      checkFrameDepth(text, 'command');
    } catch (err) {
      return { frame: text.slice(0, 1024), refused: err as ProtocolError };
    }
    return { frame };
  }

  command(s: Session, req: OtterRequest): Command {
    if (req.refused !== undefined) throw req.refused;
    if (!isPlainObject(req.frame)) throw new ProtocolError(ErrorCode.BadFrame, 'command must be a JSON object');
    const f = req.frame;
    const st = s.state as OtterState;
    if (f.command !== 'auth') this.checkBackend(s, st, f);
    switch (f.command) {
      case 'auth': {
        if (st.backend) throw new ProtocolError(ErrorCode.BadRequest, 'backends do not auth: they sign every command');
        if (typeof f.presence !== 'string') throw new ProtocolError(ErrorCode.BadRequest, 'presence must be a string');
        if (typeof f.signature !== 'string' || !safeEqual(f.signature.toLowerCase(), hmacHex(purposeKey(s.tenant.secret, 'otter-presence'), f.presence))) {
          throw new ProtocolError(ErrorCode.Unauthorized, 'invalid signature');
        }
        if (s.subscriptions > 0 && s.info !== f.presence) {
          throw new ProtocolError(ErrorCode.BadRequest, 'auth before subscribing: presence cannot change while subscribed');
        }
        return { op: 'authenticate', identity: { info: f.presence } };
      }
      case 'sub':
        this.mayAct(s, st);
        // Clients are listed by GET /otter/channels/<channel>/clients; backends are not.
        return { op: 'subscribe', targets: [{ channel: this.channel(s, st, f), presence: !st.backend }], skipExisting: true };
      case 'unsub':
        this.mayAct(s, st);
        return { op: 'unsubscribe', channel: this.channel(s, st, f), quiet: true };
      case 'pub': {
        this.mayAct(s, st);
        const name = channelName(f);
        if (f.message === undefined) throw new ProtocolError(ErrorCode.BadRequest, 'message is required');
        const message = payloadText(f.message);
        const channel = resolveChannel(s.tenant, name);
        if (st.backend) return { op: 'publish', channel, data: message, ack: true };
        const event = `{"type":"pub","channel":${JSON.stringify(name)},"message":${message},"connection":${connectionJson(s.clientInfo())}}`;
        return { op: 'publish', channel: backendChannel(s.tenant, name), data: event, ack: true, up: { channel, data: message } };
      }
      default:
        throw new ProtocolError(ErrorCode.UnknownCommand, typeof f.command === 'string' ? `unknown command: ${f.command.slice(0, 64)}` : 'command must be a string');
    }
  }

  /** A `signature` on a non-auth command claims a backend; it must sign this connection's id. */
  private checkBackend(s: Session, st: OtterState, f: Frame): void {
    if (f.signature === undefined) {
      if (st.backend) throw new ProtocolError(ErrorCode.Unauthorized, 'backend commands must carry signature');
      return;
    }
    if (typeof f.signature !== 'string' || !safeEqual(f.signature.toLowerCase(), hmacHex(purposeKey(s.tenant.backendSecret, 'otter-backend'), s.id))) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'invalid signature');
    }
    if (!st.backend) {
      if (s.subscriptions > 0) throw new ProtocolError(ErrorCode.BadRequest, 'a client connection cannot become a backend');
      st.backend = true;
    }
  }

  private mayAct(s: Session, st: OtterState): void {
    if (!st.backend && s.tenant.otter.requireAuth && !s.authenticated) {
      throw new ProtocolError(ErrorCode.Unauthorized, 'authentication required');
    }
  }

  /** A backend's sub/unsub is to the channel's client traffic; a client's to the channel itself. */
  private channel(s: Session, st: OtterState, f: Frame): ChannelRef {
    const name = channelName(f);
    return st.backend ? backendChannel(s.tenant, name) : resolveChannel(s.tenant, name);
  }

  /** Success is silent; a client's sub and unsub are announced to the channel's backends. */
  reply(s: Session, _req: OtterRequest, done: Done): undefined {
    if ((s.state as OtterState).backend) return undefined;
    if (done.op === 'subscribe') for (const sub of done.outcome.subscribed) this.announce(s, sub.channel.name, 'sub');
    if (done.op === 'unsubscribe' && done.outcome.removed) this.announce(s, done.cmd.channel.name, 'unsub');
    return undefined;
  }

  /** `{"error": message, "from": the original command}`. */
  error(_s: Session, req: OtterRequest | undefined, err: ProtocolError): Out {
    return JSON.stringify({ error: err.message, from: req === undefined ? null : req.frame });
  }

  /** A disconnecting client counts as unsubscribing from each of its channels. */
  closed(s: Session): void {
    if ((s.state as OtterState).backend) return;
    for (const ref of this.ctx.hub.channelsOf(s)) this.announce(s, ref.name, 'unsub');
  }

  /** Tells the channel's backends (on any node) that a client subscribed or left. */
  private announce(s: Session, channel: string, type: 'sub' | 'unsub'): void {
    const event = `{"type":"${type}","channel":${JSON.stringify(channel)},"connection":${connectionJson(s.clientInfo())}}`;
    this.ctx.publisher.publish(backendChannel(s.tenant, channel), event).catch((err: unknown) => {
      this.ctx.log.warn({ err, channel, conn: s.id }, `otter ${type} event not delivered`);
    });
  }
}

function channelName(f: Frame): string {
  if (!isValidChannel(f.channel)) {
    throw new ProtocolError(ErrorCode.InvalidChannel, `channel must be 1-${MAX_CHANNEL_LENGTH} characters without control characters`);
  }
  return f.channel;
}
