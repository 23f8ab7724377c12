import type { ChannelRef } from '../model/channel.js';
import type { ClientInfo, Message } from '../model/message.js';
import type { Metrics } from '../metrics.js';
import { ErrorCode, ProtocolError } from '../codes.js';
import { checkDepth } from '../json.js';
import type { Engine, PublishOptions, Published } from './engine.js';

export { checkIdempotencyKey, idempotencyWindowMs, IDEMPOTENCY_KEY_RE } from './idempotency.js';

/**
 * The one way a message enters a channel, whichever face it came from (REST, client frame):
 * size check, engine publish, counting and latency. `data` is JSON text.
 */
export class Publisher {
  constructor(
    private readonly engine: Engine,
    private readonly metrics: Metrics,
    private readonly maxPayload: number,
  ) {}

  /**
   * The payload's size in bytes; `payload_too_large` past the limit, `bad_request` when it
   * nests deeper than every face can encode (MAX_JSON_DEPTH). Every publish path passes here.
   */
  check(data: string): number {
    const bytes = Buffer.byteLength(data);
    if (bytes > this.maxPayload) {
      throw new ProtocolError(ErrorCode.PayloadTooLarge, `message data is ${bytes} bytes, more than the ${this.maxPayload} allowed`);
    }
    checkDepth(data);
    return bytes;
  }

  /**
   * Rejects (never throws) on a refused message. One reaction per publish, not an async
   * function's two. With `opts.idempotency`, a repeated key resolves `duplicate` (see
   * Broker.publish) and is not counted as a message in.
   */
  publish(ch: ChannelRef, data: string, from?: ClientInfo, opts?: PublishOptions): Promise<Published> {
    let bytes: number;
    let t0: number;
    let stored: Promise<Published>;
    try {
      bytes = this.check(data);
      if (!this.engine.ready()) throw new ProtocolError(ErrorCode.Unavailable, 'engine unavailable', true);
      t0 = performance.now();
      stored = this.engine.broker.publish(ch, data, from, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return stored.then((msg) => {
      this.metrics.publishSeconds.observe((performance.now() - t0) / 1000);
      if (msg.duplicate === true) return msg;
      const s = this.metrics.stats;
      s.messagesIn++;
      if (from !== undefined) s.messagesInFromClients++;
      s.bytesIn += bytes;
      return msg;
    });
  }

  /** Hands a client's publish to backends listening on the broker (see Broker.relayUp). */
  relayUp(ch: ChannelRef, data: string, from: ClientInfo): void {
    this.engine.broker.relayUp(ch, data, from);
  }

  /** A client's publish: into the channel, and up to backends listening on the broker. */
  async publishFromClient(ch: ChannelRef, data: string, from: ClientInfo): Promise<Message> {
    const msg = await this.publish(ch, data, from);
    this.engine.broker.relayUp(ch, data, from);
    return msg;
  }
}
