import {
  ErrorCode,
  ProtocolError,
  findTenant,
  isPlainObject,
  resolveChannel,
  safeEqual,
  siteChannelAuth,
  verifySiteToken,
} from '@switchyard/shared';
import type { Command, Done } from '../core/commands.js';
import type { Admission, Dialect, DialectContext, UpgradeInfo } from '../core/dialect.js';
import type { Face } from '../core/face.js';
import type { Out, Session } from '../core/session.js';
import { jsonObject, parseAfter } from './frames.js';

export const SITE_PATH = '/ws';

type ReqId = string | number | undefined;
/** A parsed site request and its correlation id. */
export interface SiteRequest {
  readonly frame: Record<string, unknown>;
  readonly reqId: ReqId;
}

/**
 * The "site" protocol (seed 002, docs/dialects/site.md): `{request, req_id?, body}` in,
 * `{response: "ok"|"error", req_id?, body}` out; subscriptions authorized per channel with
 * base64(HMAC-SHA256(secret, channel + token)). Channel messages are
 * `{"message": channel, "ord": seq, "body": …}`.
 */
export class SiteDialect implements Dialect<SiteRequest> {
  readonly name = 'site';
  readonly path = SITE_PATH;
  private readonly face: Face;

  constructor(private readonly ctx: DialectContext) {
    this.face = ctx.faces.register({
      name: 'site',
      binary: false,
      encode: (_channel, channelJson, msg) => Buffer.from(`{"message":${channelJson},"ord":${msg.seq},"body":${msg.data}}`),
    });
  }

  admit(u: UpgradeInfo): Admission {
    return { tenant: findTenant(this.ctx.tenants, u.query.get('site'), 'site', 'query parameter site is required'), face: this.face, protocol: '' };
  }

  open(): undefined {
    // The seed defines no greeting: the first frames a client sees answer its requests.
    return undefined;
  }

  parse(data: ArrayBuffer): SiteRequest {
    const frame = jsonObject(data, 'request');
    const reqId = typeof frame.req_id === 'string' || typeof frame.req_id === 'number' ? frame.req_id : undefined;
    return { frame, reqId };
  }

  command(s: Session, { frame }: SiteRequest): Command {
    const body = frame.body;
    switch (frame.request) {
      case 'subscribe': {
        if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be an object with channel, after, token, auth');
        const channel = resolveChannel(s.tenant, body.channel);
        const after = parseAfter(body.after, 0);
        const token = body.token;
        verifySiteToken(s.tenant.id, s.tenant.secret, token);
        if (typeof body.auth !== 'string' || !safeEqual(body.auth, siteChannelAuth(s.tenant.secret, channel.name, token as string))) {
          throw new ProtocolError(ErrorCode.PermissionDenied, 'auth does not match channel and token');
        }
        // after: 0 = only new messages; -1 = the last one, then new ones; N = everything after N.
        return { op: 'subscribe', targets: [after === 0 ? { channel } : { channel, from: { after } }] };
      }
      case 'unsubscribe':
        if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be an object with channel');
        return { op: 'unsubscribe', channel: resolveChannel(s.tenant, body.channel) };
      default:
        throw new ProtocolError(
          ErrorCode.UnknownCommand,
          typeof frame.request === 'string' ? `unknown request: ${frame.request.slice(0, 64)}` : 'request must be a string',
        );
    }
  }

  /** `{"response":"ok","body":null}`. */
  reply(_s: Session, req: SiteRequest, _done: Done): Out {
    return respond(req.reqId, 'ok', null);
  }

  /** `{"response":"error","body":message}`. */
  error(_s: Session, req: SiteRequest | undefined, err: ProtocolError): Out {
    return respond(req?.reqId, 'error', err.message);
  }
}

function respond(reqId: ReqId, response: 'ok' | 'error', body: string | null): string {
  const frame: Record<string, unknown> = { response };
  if (reqId !== undefined) frame.req_id = reqId;
  frame.body = body;
  return JSON.stringify(frame);
}
