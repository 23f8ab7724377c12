import {
  ErrorCode,
  ProtocolError,
  errorName,
  isPlainObject,
  resolveChannel,
  safeEqual,
  siteChannelAuth,
  toClientError,
  verifySiteToken,
} from '@switchyard/shared';
import { FaceIndex, type Face } from '../core/face.js';
import type { Session } from '../core/session.js';
import type { Dialect, DialectContext } from './dialect.js';
import { jsonObject } from './frames.js';

/** Channel messages as seed 002 shows them: `{"message": channel, "ord": seq, "body": …}`. */
export const siteFace: Face = {
  index: FaceIndex.Site,
  binary: false,
  encode(_channel, channelJson, msg) {
    return Buffer.from(`{"message":${channelJson},"ord":${msg.seq},"body":${msg.data}}`);
  },
};

type ReqId = string | number | undefined;

/**
 * The "site" protocol (seed 002, docs/dialects/site.md): `{request, req_id?, body}` in,
 * `{response: "ok"|"error", req_id?, body}` out; subscriptions authorized per channel with
 * base64(HMAC-SHA256(secret, channel + token)).
 */
export class SiteDialect implements Dialect {
  readonly name = 'site';

  constructor(private readonly ctx: DialectContext) {}

  open(): void {
    // The seed defines no greeting: the first frames a client sees answer its requests.
  }

  message(s: Session, data: ArrayBuffer): void {
    let frame: Record<string, unknown>;
    try {
      frame = jsonObject(data, 'request');
    } catch (err) {
      this.error(s, toClientError(err));
      return;
    }
    const reqId = typeof frame.req_id === 'string' || typeof frame.req_id === 'number' ? frame.req_id : undefined;
    const fail = (err: unknown): void => this.respond(s, reqId, toClientError(err));
    try {
      switch (frame.request) {
        case 'subscribe':
          this.subscribe(s, reqId, frame.body).catch(fail);
          break;
        case 'unsubscribe':
          this.unsubscribe(s, reqId, frame.body);
          break;
        default:
          throw new ProtocolError(
            ErrorCode.UnknownCommand,
            typeof frame.request === 'string' ? `unknown request: ${frame.request.slice(0, 64)}` : 'request must be a string',
          );
      }
    } catch (err) {
      fail(err);
    }
  }

  error(s: Session, err: ProtocolError): void {
    this.respond(s, undefined, err);
  }

  private async subscribe(s: Session, reqId: ReqId, body: unknown): Promise<void> {
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be an object with channel, after, token, auth');
    const ref = resolveChannel(s.tenant, body.channel);
    const after = body.after ?? 0;
    if (typeof after !== 'number' || !Number.isInteger(after) || after < -1) {
      throw new ProtocolError(ErrorCode.BadRequest, 'after must be an integer >= -1');
    }
    const token = body.token;
    verifySiteToken(s.tenant.id, s.tenant.secret, token);
    if (typeof body.auth !== 'string' || !safeEqual(body.auth, siteChannelAuth(s.tenant.secret, ref.name, token as string))) {
      throw new ProtocolError(ErrorCode.PermissionDenied, 'auth does not match channel and token');
    }
    // after: 0 = only new messages; -1 = the last one, then new ones; N = everything after N.
    const sub = await this.ctx.hub.subscribe(s, ref, after === 0 ? undefined : { after });
    if (s.closed) return;
    this.respond(s, reqId);
    this.ctx.hub.activate(s, sub);
  }

  private unsubscribe(s: Session, reqId: ReqId, body: unknown): void {
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be an object with channel');
    const ref = resolveChannel(s.tenant, body.channel);
    if (!this.ctx.hub.unsubscribe(s, ref)) throw new ProtocolError(ErrorCode.NotSubscribed, `not subscribed to ${ref.name}`);
    this.respond(s, reqId);
  }

  /** `{"response":"ok","body":null}`, or `"error"` with the message string as body. */
  private respond(s: Session, reqId: ReqId, err?: ProtocolError): void {
    if (err !== undefined) this.ctx.metrics.errors.inc({ code: errorName[err.code] });
    const frame: Record<string, unknown> = { response: err === undefined ? 'ok' : 'error' };
    if (reqId !== undefined) frame.req_id = reqId;
    frame.body = err === undefined ? null : err.message;
    s.write(JSON.stringify(frame), false);
  }
}
