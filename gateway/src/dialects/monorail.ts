import {
  ErrorCode,
  ProtocolError,
  errorName,
  collectionChannel,
  isPlainObject,
  monorailBroadcastChannel,
  resolveChannel,
  toClientError,
  type ChannelRef,
  type CollectionRef,
  type Engine,
  type Message,
  type MonorailResource,
  type Tenant,
} from '@switchyard/shared';
import { FaceIndex, type Face } from '../core/face.js';
import type { Session } from '../core/session.js';
import type { Dialect, DialectContext } from './dialect.js';
import { jsonObject } from './frames.js';

type Params = Record<string, unknown>;
type Frame = Record<string, unknown>;

/** MonoRail frames are shaped per connection (watch filters), so the hub's shared face is unused. */
const monorailFace: Face = {
  index: FaceIndex.NativeJson,
  binary: false,
  encode() {
    throw new Error('MonoRail connections intercept their messages');
  },
};

interface MonorailState {
  readonly name: string;
  readonly resource: MonorailResource;
  /** What watch follows: the collection's change channel, or the topic's channel. */
  readonly watched: ChannelRef;
  readonly broadcast: ChannelRef;
  readonly collection: CollectionRef | undefined;
  readonly watches: Params[];
  /** Ids of items this connection was sent while watching (so it can be told to remove them). */
  readonly seen: Set<string>;
  /**
   * The frame being handled: frames run one after another, so answers come in request order
   * and a `watch` is live before the answer to any later frame (MonoRail has no correlation ids).
   */
  turn: Promise<void>;
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
export class MonorailDialect implements Dialect {
  readonly name = 'monorail';
  readonly face = monorailFace;
  private readonly state = new WeakMap<Session, MonorailState>();

  constructor(
    private readonly ctx: DialectContext,
    private readonly engine: Engine,
  ) {}

  /** The resource a `/monorail/<resource>` path names, or `not_found`. */
  resourceOf(tenant: Tenant, path: string): string {
    let name: string;
    try {
      name = decodeURIComponent(path.split('?')[0]!.slice('/monorail/'.length));
    } catch {
      throw new ProtocolError(ErrorCode.NotFound, 'unknown resource');
    }
    if (!tenant.monorail.has(name)) throw new ProtocolError(ErrorCode.NotFound, `unknown resource '${name.slice(0, 64)}'`);
    return name;
  }

  bind(s: Session, name: string): void {
    const resource = s.tenant.monorail.get(name) as MonorailResource;
    const collection = resource.type === 'collection' ? { tenant: s.tenant.id, resource: name } : undefined;
    this.state.set(s, {
      name,
      resource,
      collection,
      watched: collection !== undefined ? collectionChannel(collection) : resolveChannel(s.tenant, (resource as { channel: string }).channel),
      broadcast: monorailBroadcastChannel(s.tenant.id, name),
      watches: [],
      seen: new Set(),
      turn: Promise.resolve(),
    });
  }

  open(s: Session): void {
    const st = this.state.get(s);
    if (st === undefined) return;
    s.intercept = (ref, msg) => this.deliver(s, st, ref, msg);
    // Every connection of a resource hears the server's broadcasts to it.
    this.ctx.hub.subscribe(s, st.broadcast, undefined).then(
      (sub) => this.ctx.hub.activate(s, sub),
      (err: unknown) => this.ctx.log.warn({ err, conn: s.id }, 'monorail broadcast subscription failed'),
    );
  }

  message(s: Session, data: ArrayBuffer): void {
    const st = this.state.get(s);
    if (st === undefined) return;
    let f: Frame;
    try {
      f = jsonObject(data, 'message');
    } catch (err) {
      this.error(s, toClientError(err));
      return;
    }
    st.turn = st.turn.then(() => this.handle(s, st, f)).catch((err: unknown) => this.fail(s, f, toClientError(err)));
  }

  error(s: Session, err: ProtocolError): void {
    this.fail(s, undefined, err);
  }

  private async handle(s: Session, st: MonorailState, f: Frame): Promise<void> {
    const params = (): Params => {
      if (f.params === undefined) return {};
      if (!isPlainObject(f.params)) throw new ProtocolError(ErrorCode.BadRequest, 'params must be an object');
      return f.params;
    };
    switch (f.handler) {
      case 'init':
        this.send(s, { handler: 'session', id: s.id });
        return;
      case 'all':
        this.send(s, { handler: 'list', items: await this.items(s, st, {}) });
        return;
      case 'query':
        this.send(s, { handler: 'list', items: await this.items(s, st, params()) });
        return;
      case 'get':
        await this.get(s, st, params());
        return;
      case 'watch':
        await this.watch(s, st, params());
        return;
      case 'stop':
        this.stop(s, st, f.params === undefined ? undefined : params());
        return;
      default:
        throw new ProtocolError(
          ErrorCode.UnknownCommand,
          typeof f.handler === 'string' ? `unknown handler: ${f.handler.slice(0, 64)}` : 'handler must be a string',
        );
    }
  }

  /** Items of the resource matching `params`: collection items, or the topic's history. */
  private async items(s: Session, st: MonorailState, params: Params): Promise<unknown[]> {
    if (st.collection !== undefined) return (await this.collectionItems(st, params)).map((x) => x.item);
    const page = await this.engine.history.read(st.watched, 0);
    return page.messages.map((m) => JSON.parse(m.data) as unknown).filter((item) => matches(item, params));
  }

  /** Matching items of a collection with their ids (the keys, whatever the items say). */
  private async collectionItems(st: MonorailState, params: Params): Promise<{ id: string; item: unknown }[]> {
    const all = await this.engine.collections.items(st.collection as CollectionRef);
    return all.map((x) => ({ id: x.id, item: JSON.parse(x.item) as unknown })).filter((x) => matches(x.item, params));
  }

  private async get(s: Session, st: MonorailState, params: Params): Promise<void> {
    let found: unknown;
    if (st.collection !== undefined) {
      const idField = (st.resource as { idField: string }).idField;
      const id = params[idField];
      if (typeof id !== 'string' && typeof id !== 'number') throw new ProtocolError(ErrorCode.BadRequest, `params.${idField} is required`);
      const item = await this.engine.collections.get(st.collection, String(id));
      found = item === null ? undefined : (JSON.parse(item) as unknown);
    } else {
      // A topic has no ids: the newest logged message that matches.
      found = (await this.items(s, st, params)).at(-1);
    }
    this.send(s, found === undefined ? { handler: 'remove', params } : { handler: 'item', data: found });
  }

  private async watch(s: Session, st: MonorailState, params: Params): Promise<void> {
    const first = st.watches.length === 0;
    st.watches.push(params);
    if (first) {
      // Subscribed before the initial list is read, so no change can fall between the two.
      let sub;
      try {
        sub = await this.ctx.hub.subscribe(s, st.watched, undefined);
      } catch (err) {
        st.watches.splice(st.watches.indexOf(params), 1);
        throw err;
      }
      if (st.collection !== undefined) this.sendList(s, st, await this.collectionItems(st, params));
      this.ctx.hub.activate(s, sub);
    } else if (st.collection !== undefined) {
      this.sendList(s, st, await this.collectionItems(st, params));
    }
  }

  private sendList(s: Session, st: MonorailState, items: { id: string; item: unknown }[]): void {
    for (const x of items) st.seen.add(x.id);
    this.send(s, { handler: 'list', items: items.map((x) => x.item) });
  }

  private stop(s: Session, st: MonorailState, params: Params | undefined): void {
    const before = st.watches.length;
    if (params === undefined) st.watches.length = 0;
    else for (let i = st.watches.length - 1; i >= 0; i--) if (sameParams(st.watches[i] as Params, params)) st.watches.splice(i, 1);
    if (before > 0 && st.watches.length === 0) {
      this.ctx.hub.unsubscribe(s, st.watched);
      st.seen.clear();
    }
  }

  /** One message for this connection: a broadcast, a collection change, or a topic message. */
  private deliver(s: Session, st: MonorailState, ref: ChannelRef, msg: Message): void {
    let data: unknown;
    try {
      data = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (ref.key === st.broadcast.key) {
      if (!isPlainObject(data)) return;
      if (Array.isArray(data.to) && !data.to.includes(s.id)) return;
      this.send(s, data.message);
      return;
    }
    if (st.watches.length === 0) return;
    if (st.collection === undefined) {
      if (st.watches.some((p) => matches(data, p))) this.send(s, { handler: 'item', data });
      return;
    }
    const change = data as { op: string; id: string; item?: unknown };
    const idField = (st.resource as { idField: string }).idField;
    if (change.op === 'put' && st.watches.some((p) => matches(change.item, p))) {
      st.seen.add(change.id);
      this.send(s, { handler: 'item', data: change.item });
    } else if (st.seen.delete(change.id)) {
      // Removed, or changed so that no watch matches it any more.
      this.send(s, { handler: 'remove', params: { [idField]: change.id } });
    }
  }

  private send(s: Session, frame: unknown): void {
    s.write(JSON.stringify(frame), false);
  }

  /** `{"handler":"error","error":message,"code":name,"request":the frame}` (no correlation in MonoRail). */
  private fail(s: Session, request: unknown, err: ProtocolError): void {
    const frame: Frame = { handler: 'error', error: err.message, code: errorName[err.code] };
    if (request !== undefined) frame.request = request;
    this.send(s, frame);
  }
}
