import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  channelAllowed,
  errorName,
  findTenant,
  resolveChannel,
  verifyClientToken,
  type ChannelRef,
  type Message,
  type Tenant,
} from '@switchyard/shared';
import type { Command, Done, Identity, SubscribeTarget } from '../core/commands.js';
import type { Admission, Dialect, DialectContext, UpgradeInfo } from '../core/dialect.js';
import { epochTag } from '../core/epoch-tag.js';
import type { Face } from '../core/face.js';
import type { Out, Session } from '../core/session.js';
import { nativeMessageJson } from './native.js';
import { dataLines, formatEventId, namedEvent, parseEventId, type Position } from './sse-events.js';

export const SSE_PATH = '/v1/sse';

/** One stream's channels and where it is in each (in the URL's order). */
interface SseState {
  readonly refs: readonly ChannelRef[];
  /** Channel key → index in `refs` and `positions`. */
  readonly slot: ReadonlyMap<string, number>;
  /** The resume point the client's `Last-Event-ID` gave, per channel; undefined: live only. */
  readonly resume: readonly Position[] | undefined;
  /** A `Last-Event-ID` was given but could not be read: every channel is reported unrecovered. */
  readonly resumeUnreadable: boolean;
  readonly identity: Identity | undefined;
  /** Filled by the subscribe's answer, then moved by each event sent. */
  positions: Position[];
}

/** The stream's one request: subscribe to its channels (queued behind the token's authenticate). */
const SUBSCRIBE = Symbol('subscribe');

/**
 * Server-Sent Events (docs/sse.md): `GET /v1/sse?tenant=…&channel=…` streams the channels'
 * messages as native `message` frames, for clients that cannot use WebSocket. Everything is
 * decided at the request: the tenant, the channels, the token (header or query) and the
 * resume point (`Last-Event-ID`); a refusal is an HTTP error, which an `EventSource` does not
 * retry. The stream then runs the same subscribe as a native connection (replay joined to the
 * live flow without duplicates or holes, limits, slow consumers), and each event's id carries
 * the stream's position in every channel, so the browser's automatic reconnect resumes it.
 */
export class SseDialect implements Dialect<typeof SUBSCRIBE> {
  readonly name = 'sse';
  readonly path = SSE_PATH;
  private readonly face: Face;
  /** The last message encoded and its event body: every subscriber of a broadcast gets the same bytes. */
  private lastMsg: Message | undefined = undefined;
  private lastBody: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly ctx: DialectContext,
    /** Channels one stream may name (the gateway's `--max-subscriptions`). */
    private readonly maxChannels: number,
  ) {
    this.face = ctx.faces.register({ name: 'sse', binary: false, deliver: (s, ref, msg) => this.deliver(s, ref, msg) });
  }

  admit(u: UpgradeInfo): Admission {
    const tenant = findTenant(this.ctx.tenants, u.query.get('tenant'), 'tenant', 'query parameter tenant is required');
    const names = u.query.getAll('channel');
    if (names.length === 0) throw new ProtocolError(ErrorCode.BadRequest, 'query parameter channel is required (repeat it for several channels)');
    if (names.length > this.maxChannels) throw new ProtocolError(ErrorCode.LimitExceeded, `at most ${this.maxChannels} channels per stream`);
    const refs = names.map((n) => resolveChannel(tenant, n));
    const slot = new Map<string, number>();
    refs.forEach((ref, i) => {
      if (slot.has(ref.key)) throw new ProtocolError(ErrorCode.BadRequest, `channel ${ref.name} is named twice`);
      slot.set(ref.key, i);
    });
    const identity = this.identity(tenant, u);
    for (const ref of refs) {
      if (!channelAllowed(identity?.allowed, ref.name)) throw new ProtocolError(ErrorCode.PermissionDenied, `token does not allow channel ${ref.name}`);
    }
    // The browser's automatic reconnect sends the header; a new EventSource can pass the query parameter.
    const lastId = u.lastEventId || (u.query.get('lastEventId') ?? '');
    const resume = lastId === '' ? undefined : parseEventId(lastId, refs.length);
    const state: SseState = { refs, slot, resume, resumeUnreadable: lastId !== '' && resume === undefined, identity, positions: [] };
    return { tenant, face: this.face, protocol: '', state };
  }

  /** The token's identity (header first, then the `token` query parameter); none for an anonymous tenant without one. */
  private identity(tenant: Tenant, u: UpgradeInfo): Identity | undefined {
    const bearer = /^Bearer\s+(.+)$/i.exec(u.authorization)?.[1]?.trim();
    const token = bearer ?? u.query.get('token') ?? undefined;
    if (token === undefined || token === '') {
      if (tenant.anonymous) return undefined;
      throw new ProtocolError(ErrorCode.Unauthorized, 'a token is required: Authorization: Bearer <token>, or the query parameter token');
    }
    const claims = verifyClientToken(tenant.secret, token);
    return {
      ...(claims.user !== undefined ? { user: claims.user } : {}),
      ...(claims.info !== undefined ? { info: claims.info } : {}),
      ...(claims.channels !== undefined ? { allowed: claims.channels } : {}),
      ...(claims.exp !== undefined ? { exp: claims.exp } : {}),
    };
  }

  open(s: Session): { send: Out; command: Command } {
    const st = s.state as SseState;
    s.queue = [SUBSCRIBE];
    // `retry`: how long the browser waits before reconnecting (its default is ~3 s).
    return { send: 'retry: 1000\n\n', command: st.identity === undefined ? { op: 'local' } : { op: 'authenticate', identity: st.identity } };
  }

  parse(): typeof SUBSCRIBE {
    throw new ProtocolError(ErrorCode.BadFrame, 'an event stream takes no frames');
  }

  command(s: Session): Command {
    const st = s.state as SseState;
    const targets: SubscribeTarget[] = st.refs.map((channel, i) => {
      const p = st.resume?.[i];
      if (p === undefined || (p.seq === 0 && p.tag === '')) return { channel };
      return { channel, from: p.tag === '' ? { after: p.seq } : { after: p.seq, epochTag: p.tag } };
    });
    return { op: 'subscribe', targets };
  }

  /** The `subscribed` event; its id is where each channel's replay (or live flow) starts. */
  reply(s: Session, _req: typeof SUBSCRIBE, done: Done): Out | undefined {
    if (done.op !== 'subscribe') return undefined;
    const st = s.state as SseState;
    const channels = done.outcome.subscribed.map((sub, i) => {
      const tag = epochTag(sub.epoch);
      const from = st.resume?.[i];
      // A resume in the same epoch replays after its seq; from another epoch (or past the end), from the start.
      const seq = from === undefined ? sub.last : from.tag === tag && from.seq <= sub.last ? from.seq : 0;
      st.positions[i] = { seq, tag };
      // A channel without history (epoch '') keeps nothing to resume from: what was published
      // while the stream was away is gone, though the subscribe cannot tell.
      const lost = st.resumeUnreadable || (st.resume !== undefined && sub.epoch === '');
      return { channel: sub.channel.name, last: sub.last, recovered: sub.recovered && !lost, epoch: sub.epoch };
    });
    return namedEvent('subscribed', { conn: s.id, node: this.ctx.nodeId, channels }, formatEventId(st.positions));
  }

  /** A failure after the stream began (the engine could not subscribe): said, then the stream ends (1013) and the browser retries. */
  error(s: Session, _req: typeof SUBSCRIBE | undefined, err: ProtocolError): Out {
    setImmediate(() => s.close(CloseReason.TryAgain));
    return namedEvent('failure', { code: err.code, name: errorName[err.code], message: err.message, ...(err.temporary ? { temporary: true } : {}) });
  }

  /** A backend's push arrives as a `push` event (base64 text for a binary body). */
  pushFrame(text: string | undefined, base64: string | undefined): Out {
    return `event: push\n${dataLines(text ?? base64 ?? '')}\n`;
  }

  /** One message to one stream: its id line (the stream's positions) and the event body shared by every stream. */
  private deliver(s: Session, ref: ChannelRef, msg: Message): void {
    const st = s.state as SseState;
    const i = st.slot.get(ref.key);
    const pos = i === undefined ? undefined : st.positions[i];
    if (pos === undefined) return;
    if (msg.seq > 0) pos.seq = msg.seq;
    if (msg !== this.lastMsg) {
      this.lastMsg = msg;
      this.lastBody = Buffer.from(`${dataLines(nativeMessageJson(JSON.stringify(ref.name), msg))}\n`);
    }
    const body = this.lastBody;
    const idLine = `id: ${formatEventId(st.positions)}\n`;
    // Two writes, no copy of the body per stream. Should the stream turn slow between them, the
    // client got an id line without its event, which it ignores: it resumes from the last whole event.
    s.write(idLine, false);
    if (s.write(body, false)) {
      const stats = this.ctx.metrics.stats;
      stats.messagesOut++;
      stats.bytesOut += idLine.length + body.byteLength;
    }
  }
}
