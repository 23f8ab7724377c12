import type { NatsConnection } from '@nats-io/transport-node';
import { KvWatchInclude, Kvm, type KV } from '@nats-io/kv';
import { ErrorCode, ProtocolError } from '../../codes.js';
import type { Logger } from '../../log.js';
import type { CollectionRef } from '../../model/channel.js';
import type { Message } from '../../model/message.js';
import { ITEM_ID_RE, changeData, checkItemId as checkId, type Collections, type StoredItem } from '../engine.js';
import { errorText } from './errors.js';

/**
 * Collections in JetStream KV: one bucket per tenant resource, named
 * `<PREFIX>_MR_<tenant length>_<tenant>_<resource>`, item id = key, item = JSON value. A
 * backend may write the bucket directly; watchers see those changes too.
 */
export class KvCollections implements Collections {
  private readonly buckets = new Map<string, Promise<KV>>();

  constructor(
    private readonly conn: () => NatsConnection,
    private readonly prefix: string,
    private readonly log: Logger,
    /** JetStream replicas of a new bucket, as of the streams (`--nats-replicas`). */
    private readonly replicas = 1,
  ) {}

  bucketName(c: CollectionRef): string {
    return `${this.prefix.toUpperCase()}_MR_${c.tenant.length}_${c.tenant}_${c.resource}`;
  }

  private kv(c: CollectionRef): Promise<KV> {
    const name = this.bucketName(c);
    let kv = this.buckets.get(name);
    if (kv === undefined) {
      // create() opens the bucket when it exists already (keeping its replica count).
      kv = new Kvm(this.conn()).create(name, { history: 1, replicas: this.replicas });
      kv.catch(() => this.buckets.delete(name));
      this.buckets.set(name, kv);
    }
    return kv;
  }

  /** Runs a KV operation; a NATS failure is logged and reaches callers as a fixed `unavailable`. */
  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      this.log.warn({ err: errorText(err) }, 'collection store failed');
      throw new ProtocolError(ErrorCode.Unavailable, 'collection store unavailable', true);
    }
  }

  put(c: CollectionRef, id: string, item: string): Promise<number> {
    checkId(id);
    return this.guard(async () => (await this.kv(c)).put(id, item));
  }

  remove(c: CollectionRef, id: string): Promise<boolean> {
    checkId(id);
    return this.guard(async () => {
      const kv = await this.kv(c);
      const e = await kv.get(id);
      if (e === null || e.operation !== 'PUT') return false;
      await kv.delete(id);
      return true;
    });
  }

  get(c: CollectionRef, id: string): Promise<string | null> {
    if (!ITEM_ID_RE.test(id)) return Promise.resolve(null);
    return this.guard(async () => {
      const e = await (await this.kv(c)).get(id);
      return e !== null && e.operation === 'PUT' && isJson(e.string()) ? e.string() : null;
    });
  }

  items(c: CollectionRef): Promise<StoredItem[]> {
    return this.guard(async () => {
      const kv = await this.kv(c);
      const keys: string[] = [];
      for await (const k of await kv.keys()) keys.push(k);
      const out: StoredItem[] = [];
      for (const id of keys) {
        const e = await kv.get(id);
        if (e !== null && e.operation === 'PUT' && isJson(e.string())) out.push({ id, item: e.string() });
      }
      return out;
    });
  }

  /** Streams later changes as change messages until the returned stop is called. */
  async watch(c: CollectionRef, onChange: (msg: Message) => void): Promise<() => void> {
    const kv = await this.guard(() => this.kv(c));
    const it = await this.guard(() => kv.watch({ include: KvWatchInclude.UpdatesOnly }));
    void (async () => {
      for await (const e of it) {
        const item = e.operation === 'PUT' ? e.string() : null;
        if (item !== null && !isJson(item)) {
          this.log.warn({ bucket: this.bucketName(c), key: e.key }, 'ignored an item that is not JSON');
          continue;
        }
        onChange({ seq: e.revision, time: e.created.getTime(), data: changeData(e.key, item) });
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'collection watch ended'));
    return () => it.stop();
  }
}


function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}
