import {
  ErrorCode,
  ProtocolError,
  errorName,
  collectionChannel,
  findTenant,
  isPlainObject,
  monorailBroadcastChannel,
  resolveChannel,
  type ChannelRef,
  type CollectionRef,
  type Message,
  type MonorailResource,
  type Tenant,
} from '@switchyard/shared';
import type { Command, Done } from '../core/commands.js';
import type { Admission, Dialect, DialectContext, UpgradeInfo } from '../core/dialect.js';
import type { Face } from '../core/face.js';
import type { Out, Session } from '../core/session.js';
import { jsonObject } from './frames.js';

export const MONORAIL_PATH = '/monorail/*';

type Params = Record<string, unknown>;
type Frame = Record<string, unknown>;

/** A parsed frame; `params` is what its handler was given (set in the connection's turn). */
export interface MonorailRequest {
  readonly frame: Frame;
  params?: Params;
}

interface MonorailState {
  readonly name: string;
  readonly resource: MonorailResource;
  /** What watch follows: the collection's change channel, or the topic's channel. */
  readonly watched: ChannelRef;
  readonly broadcast: ChannelRef;
  readonly collection: CollectionRef | undefined;
  /** The params of every live watch (frames run in order, so a watch is live before any later answer). */
  watches: Params[];
  /** Ids of items this connection was sent while watching (so it can be told to remove them). */
  readonly seen: Set<string>;
}

interface Listed {
  readonly id: string;
  readonly item: unknown;
}

/** Equality on every field the params name (values compared as JSON). */
export function matches(item: unknown, params: Params): boolean {
  if (!isPlainObject(item)) return Object.keys(params).length === 0;
  for (const [k, v] of Object.entries(params)) if (JSON.stringify(item[k]) !== JSON.stringify(v)) return false;
  return true;
}

const sameParams = (a: Params, b: Params): boolean => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
const sortKeys = (p: Params): Params => Object.fromEntries(Object.entries(p).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));

/**
 * MonoRail (seed 001, docs/dialects/monorail.md): `/monorail/<resource>`; frames routed by
 * `handler` — init→session, all/query→list, get→item|remove, watch→list, item, remove until
 * stop. A resource is a collection (items with ids) or a topic (a channel and its history).
 */
export class MonorailDialect implements Dialect<MonorailRequest> {
  readonly name = 'monorail';
  readonly path = MONORAIL_PATH;
  private readonly face: Face;

  constructor(private readonly ctx: DialectContext) {
    // Frames are shaped per connection (watch filters): no shared encoding.
    this.face = ctx.faces.register({ name: 'monorail', binary: false, deliver: (s, ref, msg) => this.deliver(s, ref, msg) });
  }

  admit(u: UpgradeInfo): Admission {
    const tenant = findTenant(this.ctx.tenants, u.query.get('tenant'), 'tenant', 'query parameter tenant is required');
    const name = resourceOf(tenant, u.path);
    const resource = tenant.monorail.get(name) as MonorailResource;
    const collection = resource.type === 'collection' ? { tenant: tenant.id, resource: name } : undefined;
    const state: MonorailState = {
      name,
      resource,
      collection,
      watched: collection !== undefined ? collectionChannel(collection) : resolveChannel(tenant, (resource as { channel: string }).channel),
      broadcast: monorailBroadcastChannel(tenant.id, name),
      watches: [],
      seen: new Set(),
    };
    return { tenant, face: this.face, protocol: '', state };
  }

  /** Every connection of a resource hears the server's broadcasts to it. */
  open(s: Session): { command: Command } {
    return { command: { op: 'subscribe', targets: [{ channel: (s.state as MonorailState).broadcast }] } };
  }

  parse(data: ArrayBuffer): MonorailRequest {
    return { frame: jsonObject(data, 'message') };
  }

  command(s: Session, req: MonorailRequest): Command {
    const st = s.state as MonorailState;
    const f = req.frame;
    const params = (): Params => {
      if (f.params === undefined) return (req.params = {});
      if (!isPlainObject(f.params)) throw new ProtocolError(ErrorCode.BadRequest, 'params must be an object');
      return (req.params = f.params);
    };
    switch (f.handler) {
      case 'init':
        return { op: 'local' };
      case 'all':
        req.params = {};
        return { op: 'request', run: () => this.items(st, {}) };
      case 'query': {
        const p = params();
        return { op: 'request', run: () => this.items(st, p) };
      }
      case 'get': {
        const p = params();
        return { op: 'request', run: () => this.get(st, p) };
      }
      case 'watch': {
        const p = params();
        const list = st.collection !== undefined ? () => this.collectionItems(st, p) : undefined;
        // The first watch subscribes before the initial list is read, so no change can fall between the two.
        if (st.watches.length === 0) return { op: 'subscribe', targets: [{ channel: st.watched }], ...(list !== undefined ? { snapshot: list } : {}) };
        return list !== undefined ? { op: 'request', run: list } : { op: 'local' };
      }
      case 'stop': {
        if (f.params !== undefined) params();
        const left = this.remaining(st, req.params);
        if (st.watches.length > 0 && left.length === 0) return { op: 'unsubscribe', channel: st.watched, quiet: true };
        return { op: 'local' };
      }
      default:
        throw new ProtocolError(
          ErrorCode.UnknownCommand,
          typeof f.handler === 'string' ? `unknown handler: ${f.handler.slice(0, 64)}` : 'handler must be a string',
        );
    }
  }

  /** The watches left after a `stop` with these params (none: stop them all). */
  private remaining(st: MonorailState, params: Params | undefined): Params[] {
    return params === undefined ? [] : st.watches.filter((w) => !sameParams(w, params));
  }

  reply(s: Session, req: MonorailRequest, done: Done): Out | undefined {
    const st = s.state as MonorailState;
    switch (req.frame.handler) {
      case 'init':
        return send({ handler: 'session', id: s.id });
      case 'all':
      case 'query':
        return send({ handler: 'list', items: done.outcome as unknown[] });
      case 'get': {
        const found = done.outcome;
        return send(found === undefined ? { handler: 'remove', params: req.params } : { handler: 'item', data: found });
      }
      case 'watch': {
        st.watches.push(req.params as Params);
        if (st.collection === undefined) return undefined;
        const items = (done.op === 'subscribe' ? done.outcome.snapshot : done.outcome) as Listed[];
        for (const x of items) st.seen.add(x.id);
        return send({ handler: 'list', items: items.map((x) => x.item) });
      }
      case 'stop':
        st.watches = this.remaining(st, req.params);
        if (st.watches.length === 0) st.seen.clear();
        return undefined;
      default:
        return undefined;
    }
  }

  /** `{"handler":"error","error":message,"code":name,"request":the frame}` (no correlation in MonoRail). */
  error(_s: Session, req: MonorailRequest | undefined, err: ProtocolError): Out {
    const frame: Frame = { handler: 'error', error: err.message, code: errorName[err.code] };
    if (req !== undefined) frame.request = req.frame;
    return send(frame);
  }

  /** Items of the resource matching `params`: collection items, or the topic's history. */
  private async items(st: MonorailState, params: Params): Promise<unknown[]> {
    if (st.collection !== undefined) return (await this.collectionItems(st, params)).map((x) => x.item);
    const page = await this.ctx.engine.history.read(st.watched, 0);
    return page.messages.map((m) => JSON.parse(m.data) as unknown).filter((item) => matches(item, params));
  }

  /** Matching items of a collection with their ids (the keys, whatever the items say). */
  private async collectionItems(st: MonorailState, params: Params): Promise<Listed[]> {
    const all = await this.ctx.engine.collections.items(st.collection as CollectionRef);
    return all.map((x) => ({ id: x.id, item: JSON.parse(x.item) as unknown })).filter((x) => matches(x.item, params));
  }

  /** The item the params name; undefined when there is none. */
  private async get(st: MonorailState, params: Params): Promise<unknown> {
    if (st.collection === undefined) return (await this.items(st, params)).at(-1); // a topic has no ids: the newest match
    const idField = (st.resource as { idField: string }).idField;
    const id = params[idField];
    if (typeof id !== 'string' && typeof id !== 'number') throw new ProtocolError(ErrorCode.BadRequest, `params.${idField} is required`);
    const item = await this.ctx.engine.collections.get(st.collection, String(id));
    return item === null ? undefined : (JSON.parse(item) as unknown);
  }

  /** One message for this connection: a broadcast, a collection change, or a topic message. Never throws. */
  private deliver(s: Session, ref: ChannelRef, msg: Message): void {
    const st = s.state as MonorailState;
    let data: unknown;
    try {
      data = JSON.parse(msg.data);
    } catch {
      return; // engines hand over JSON only; nothing else is a MonoRail frame
    }
    if (ref.key === st.broadcast.key) {
      if (!isPlainObject(data)) return;
      if (data.message === undefined || (Array.isArray(data.to) && !data.to.includes(s.id))) return;
      s.send(JSON.stringify(data.message));
      return;
    }
    if (st.watches.length === 0) return;
    if (st.collection === undefined) {
      if (st.watches.some((p) => matches(data, p))) s.send(send({ handler: 'item', data }));
      return;
    }
    const change = data as { op: string; id: string; item?: unknown };
    const idField = (st.resource as { idField: string }).idField;
    if (change.op === 'put' && st.watches.some((p) => matches(change.item, p))) {
      st.seen.add(change.id);
      s.send(send({ handler: 'item', data: change.item }));
    } else if (st.seen.delete(change.id)) {
      // Removed, or changed so that no watch matches it any more.
      s.send(send({ handler: 'remove', params: { [idField]: change.id } }));
    }
  }
}

const send = (frame: unknown): string => JSON.stringify(frame);

/** The resource a `/monorail/<resource>` path names, or `not_found`. */
function resourceOf(tenant: Tenant, path: string): string {
  let name: string;
  try {
    name = decodeURIComponent(path.split('?')[0]!.slice('/monorail/'.length));
  } catch {
    throw new ProtocolError(ErrorCode.NotFound, 'unknown resource');
  }
  if (!tenant.monorail.has(name)) throw new ProtocolError(ErrorCode.NotFound, `unknown resource '${name.slice(0, 64)}'`);
  return name;
}
