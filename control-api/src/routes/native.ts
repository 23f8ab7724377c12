import type { TemplatedApp } from 'uWebSockets.js';
import {
  ErrorCode,
  MAX_CLIENT_TOKEN_LENGTH,
  MAX_JSON_DEPTH,
  ProtocolError,
  checkIdempotencyKey,
  idempotencyWindowMs,
  isPlainObject,
  jsonTooDeep,
  payloadText,
  resolveChannel,
  signClientToken,
  type ChannelRef,
  type Published,
  type PublishOptions,
  type Tenant,
} from '@switchyard/shared';
import { requireBackend, tenantOf } from '../auth.js';
import type { ControlContext } from '../context.js';
import { intParam, messageJson } from './params.js';
import { routeFor } from './route.js';

/** At most this many channels (or messages) in one publish request. */
const MAX_BATCH = 100;

/** A publish's idempotency key as the engine takes it (none: undefined). */
function once(tenant: Tenant, ref: ChannelRef, key: string | undefined): PublishOptions | undefined {
  return key === undefined ? undefined : { idempotency: { key, windowMs: idempotencyWindowMs(tenant.idempotencyWindowSeconds, ref.opts) } };
}

/** One publish's answer; `duplicate` only when it had a key (true: it published nothing). */
const published = (ref: ChannelRef, m: Published, key: string | undefined) =>
  key === undefined ? { channel: ref.name, seq: m.seq, time: m.time } : { channel: ref.name, seq: m.seq, time: m.time, duplicate: m.duplicate === true };

/** The native REST API for backends, under /v1 (docs/control-api.md). */
export function mountNativeRoutes(app: TemplatedApp, ctx: ControlContext): void {
  const route = routeFor(app, ctx);

  route('post', '/v1/publish', async (req) => {
    const body = await req.json();
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be a JSON object');
    const tenant = tenantOf(ctx, body.tenant);
    requireBackend(req, tenant);
    const forms = [body.channel, body.channels, body.messages].filter((f) => f !== undefined).length;
    if (forms > 1) throw new ProtocolError(ErrorCode.BadRequest, 'give one of channel, channels and messages');
    // Keys are scoped to the channel: one header key serves every channel of `channels`.
    const header = req.headers.get('idempotency-key');
    const headerKey = header === undefined ? undefined : checkIdempotencyKey(header, 'the Idempotency-Key header');
    let batch: { ref: ChannelRef; data: string; key: string | undefined }[];
    if (body.messages !== undefined) {
      if (!Array.isArray(body.messages) || body.messages.length === 0 || body.messages.length > MAX_BATCH) {
        throw new ProtocolError(ErrorCode.BadRequest, `messages must be an array of 1 to ${MAX_BATCH} {channel, data} objects`);
      }
      if (headerKey !== undefined) {
        throw new ProtocolError(ErrorCode.BadRequest, 'with messages, give each message its own key field instead of the Idempotency-Key header');
      }
      const keyed = new Set<string>();
      batch = body.messages.map((m: unknown, i: number) => {
        if (!isPlainObject(m)) throw new ProtocolError(ErrorCode.BadRequest, 'each of messages must be a {channel, data} object');
        const ref = resolveChannel(tenant, m.channel);
        const key = m.key === undefined ? undefined : checkIdempotencyKey(m.key, `messages[${i}].key`);
        if (key !== undefined) {
          const scope = `${ref.name}\n${key}`;
          if (keyed.has(scope)) throw new ProtocolError(ErrorCode.BadRequest, `messages[${i}].key repeats the key of an earlier message to ${ref.name}`);
          keyed.add(scope);
        }
        return { ref, data: payloadText(m.data), key };
      });
    } else if (body.channels !== undefined) {
      if (!Array.isArray(body.channels) || body.channels.length === 0 || body.channels.length > MAX_BATCH) {
        throw new ProtocolError(ErrorCode.BadRequest, `channels must be an array of 1 to ${MAX_BATCH} channel names`);
      }
      const data = payloadText(body.data);
      batch = body.channels.map((c) => ({ ref: resolveChannel(tenant, c), data, key: headerKey }));
    } else {
      const ref = resolveChannel(tenant, body.channel);
      const m = await ctx.publisher.publish(ref, payloadText(body.data), undefined, once(tenant, ref, headerKey));
      return { status: 200, body: published(ref, m, headerKey) };
    }
    // Everything is checked before anything is published. The publishes are handed to the
    // engine in the order given and not awaited one by one: the engine keeps that order per
    // channel (one connection to the broker), and a batch costs one round trip, not one each.
    for (const { data } of batch) ctx.publisher.check(data);
    const results = await Promise.all(
      batch.map(async ({ ref, data, key }) => published(ref, await ctx.publisher.publish(ref, data, undefined, once(tenant, ref, key)), key)),
    );
    return { status: 200, body: { results } };
  });

  route('get', '/v1/history', async (req) => {
    const tenant = tenantOf(ctx, req.query.get('tenant'));
    requireBackend(req, tenant);
    const ref = resolveChannel(tenant, req.query.get('channel') ?? '');
    const after = intParam(req, 'after', 0, -1, Number.MAX_SAFE_INTEGER);
    const limit = intParam(req, 'limit', 100, 1, 10_000);
    const page = await ctx.engine.history.read(ref, after);
    return {
      status: 200,
      body: {
        channel: ref.name,
        messages: page.messages.slice(0, limit).map(messageJson),
        more: page.messages.length > limit,
        last: page.last,
        complete: page.complete,
        epoch: page.epoch,
      },
    };
  });

  route('get', '/v1/presence', async (req) => {
    const tenant = tenantOf(ctx, req.query.get('tenant'));
    requireBackend(req, tenant);
    const ref = resolveChannel(tenant, req.query.get('channel') ?? '');
    if (!ref.opts.presence) throw new ProtocolError(ErrorCode.BadRequest, `presence is off for ${ref.name}`);
    return { status: 200, body: { channel: ref.name, clients: await ctx.engine.presence.list(ref) } };
  });

  // The presence change feed (docs/control-api.md#presence-change-feed): a long poll.
  route('get', '/v1/presence/events', async (req) => {
    const tenant = tenantOf(ctx, req.query.get('tenant'));
    requireBackend(req, tenant);
    const after = intParam(req, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
    const wait = intParam(req, 'wait', 0, 0, 30);
    const limit = intParam(req, 'limit', 100, 1, 1000);
    const page = await ctx.engine.presenceFeed.read(tenant.id, after, wait * 1000, limit);
    return { status: 200, body: { events: page.events, last: page.last } };
  });

  route('post', '/v1/tokens', async (req) => {
    const body = await req.json();
    if (!isPlainObject(body)) throw new ProtocolError(ErrorCode.BadRequest, 'body must be a JSON object');
    const tenant = tenantOf(ctx, body.tenant);
    requireBackend(req, tenant);
    const { user, ttl = 3600, info, channels } = body;
    if (user !== undefined && typeof user !== 'string') throw new ProtocolError(ErrorCode.BadRequest, 'user must be a string');
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 86400) {
      throw new ProtocolError(ErrorCode.BadRequest, 'ttl must be an integer number of seconds from 1 to 2592000');
    }
    if (channels !== undefined && (!Array.isArray(channels) || !channels.every((c) => typeof c === 'string'))) {
      throw new ProtocolError(ErrorCode.BadRequest, 'channels must be an array of strings');
    }
    if (info !== undefined) {
      let text: string | undefined;
      try {
        text = JSON.stringify(info);
      } catch {
        text = undefined; // nested beyond what the serializer can walk
      }
      if (text === undefined || jsonTooDeep(text)) {
        throw new ProtocolError(ErrorCode.BadRequest, `info must be a JSON value nested at most ${MAX_JSON_DEPTH} levels deep`);
      }
    }
    const exp = Math.floor(Date.now() / 1000) + ttl;
    const token = signClientToken(tenant.secret, {
      exp,
      ...(user !== undefined ? { user } : {}),
      ...(info !== undefined ? { info } : {}),
      ...(channels !== undefined ? { channels: channels as string[] } : {}),
    });
    // A token clients could not use is refused here, not minted.
    if (token.length > MAX_CLIENT_TOKEN_LENGTH) {
      throw new ProtocolError(ErrorCode.BadRequest, `the token would be ${token.length} characters, more than the ${MAX_CLIENT_TOKEN_LENGTH} clients may send: make info or channels smaller`);
    }
    return { status: 200, body: { token, expires: ttl } };
  });
}
