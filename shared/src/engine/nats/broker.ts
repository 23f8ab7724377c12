import { headers as natsHeaders } from '@nats-io/transport-node';
import { ErrorCode, ProtocolError } from '../../codes.js';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import type { ClientInfo } from '../../model/message.js';
import type { Broker, DeliveryHandler, IdempotencyKey, PublishOptions, Published } from '../engine.js';
import { fromJson, messageHeaders, storedToMessage } from './codec.js';
import type { BrokerConnection } from './connection.js';
import { errorText, unavailable } from './errors.js';
import { KvIdempotency, msgId, type Claim } from './idempotency.js';
import type { LiveRelay } from './live-relay.js';
import { Header, type Subjects } from './subjects.js';

/**
 * Publishing into channels and up to backends; interest and delivery are the LiveRelay's.
 * A channel with history is published to its stream subject, and the server relays the
 * stored message to the live subject (RePublish), so store and relay cannot disagree. A
 * channel without history goes to the live subject over core NATS: no disk, seq 0.
 * Idempotency keys: see ./idempotency.ts.
 */
export class NatsBroker implements Broker {
  private readonly keys: KvIdempotency;

  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly relay: LiveRelay,
    private readonly log: Logger,
    /** JetStream replicas of the idempotency buckets (as of the streams). */
    replicas = 1,
  ) {
    this.keys = new KvIdempotency(() => conn.nc(), subjects.prefix, replicas);
  }

  async publish(ch: ChannelRef, data: string, from?: ClientInfo, opts?: PublishOptions): Promise<Published> {
    const nc = this.conn.nc();
    const time = Date.now();
    const h = messageHeaders(time, from);
    const idem = opts?.idempotency;
    let seq = 0;
    if (ch.opts.history > 0) {
      let ack;
      try {
        ack = await this.conn.js().publish(this.subjects.history(ch), data, idem === undefined ? { headers: h } : { headers: h, msgID: msgId(ch, idem.key) });
      } catch (err) {
        this.log.warn({ err: errorText(err), channel: ch.key }, 'JetStream publish failed');
        throw new ProtocolError(ErrorCode.Unavailable, 'message could not be stored', true);
      }
      // A repeated Nats-Msg-Id within the duplicate window: nothing stored, the first one's seq.
      if (ack.duplicate) return this.original(ch, ack.seq, data, time);
      seq = ack.seq;
    } else {
      const claim = idem === undefined ? undefined : await this.claim(ch, idem, time);
      if (claim?.first !== undefined) return { seq: 0, time: claim.first > 0 ? claim.first : time, data, duplicate: true };
      try {
        nc.publish(this.subjects.live(ch), data, { headers: h });
      } catch (err) {
        claim?.release().catch((e: unknown) => this.log.warn({ err: errorText(e), channel: ch.key }, 'idempotency key not released'));
        throw unavailable(this.log, err, 'live publish failed', { channel: ch.key });
      }
      // Not awaited: the message is out. Should this fail, the claim looks abandoned later and
      // a repeat after that publishes again (logged: the one way a key can publish twice).
      claim?.done().catch((e: unknown) => this.log.warn({ err: errorText(e), channel: ch.key }, 'idempotency claim not marked done'));
    }
    return from === undefined ? { seq, time, data } : { seq, time, data, from };
  }

  /** Claims a key of a channel without history; fails as `unavailable`. */
  private async claim(ch: ChannelRef, idem: IdempotencyKey, time: number): Promise<Claim> {
    try {
      return await this.keys.claim(ch, idem, time);
    } catch (err) {
      throw unavailable(this.log, err, 'idempotency key store failed', { channel: ch.key });
    }
  }

  /**
   * The answer to a duplicate: the first message as stored (its time and data). Should it be
   * gone already (trimmed by the namespace's history size), its seq with the retry's time.
   */
  private async original(ch: ChannelRef, seq: number, data: string, time: number): Promise<Published> {
    const stored = await this.conn
      .jsm()
      .streams.getMessage(this.subjects.stream(ch.tenant, ch.namespace), { seq })
      .catch((err: unknown) => {
        this.log.warn({ err: errorText(err), channel: ch.key, seq }, 'the original of a duplicate publish could not be read');
        return null;
      });
    const m = stored !== null && stored.subject === this.subjects.history(ch) ? storedToMessage(stored) : undefined;
    return m === undefined ? { seq, time, data, duplicate: true } : { ...m, duplicate: true };
  }

  relayUp(ch: ChannelRef, data: string, from: ClientInfo): void {
    const nc = this.conn.nc();
    const h = natsHeaders();
    h.set(Header.Tenant, ch.tenant);
    h.set(Header.Channel, ch.name);
    h.set(Header.From, fromJson(from));
    h.set(Header.Time, String(Date.now()));
    try {
      nc.publish(this.subjects.up(ch), data, { headers: h });
    } catch (err) {
      throw unavailable(this.log, err, 'publish to backends failed', { channel: ch.key });
    }
  }

  subscribe(ch: ChannelRef): Promise<void> {
    return this.relay.subscribe(ch);
  }

  unsubscribe(ch: ChannelRef): Promise<void> {
    return this.relay.unsubscribe(ch);
  }

  setDeliveryHandler(handler: DeliveryHandler): void {
    this.relay.setDeliveryHandler(handler);
  }
}
