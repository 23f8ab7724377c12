import { headers as natsHeaders } from '@nats-io/transport-node';
import { ErrorCode, ProtocolError } from '../../codes.js';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import type { ClientInfo, Message } from '../../model/message.js';
import type { Broker, DeliveryHandler } from '../engine.js';
import { fromJson, messageHeaders } from './codec.js';
import type { BrokerConnection } from './connection.js';
import { errorText, unavailable } from './errors.js';
import type { LiveRelay } from './live-relay.js';
import { Header, type Subjects } from './subjects.js';

/**
 * Publishing into channels and up to backends; interest and delivery are the LiveRelay's.
 * A channel with history is published to its stream subject, and the server relays the
 * stored message to the live subject (RePublish), so store and relay cannot disagree. A
 * channel without history goes to the live subject over core NATS: no disk, seq 0.
 */
export class NatsBroker implements Broker {
  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly relay: LiveRelay,
    private readonly log: Logger,
  ) {}

  async publish(ch: ChannelRef, data: string, from?: ClientInfo): Promise<Message> {
    const nc = this.conn.nc();
    const time = Date.now();
    const h = messageHeaders(time, from);
    let seq = 0;
    if (ch.opts.history > 0) {
      try {
        seq = (await this.conn.js().publish(this.subjects.history(ch), data, { headers: h })).seq;
      } catch (err) {
        this.log.warn({ err: errorText(err), channel: ch.key }, 'JetStream publish failed');
        throw new ProtocolError(ErrorCode.Unavailable, 'message could not be stored', true);
      }
    } else {
      try {
        nc.publish(this.subjects.live(ch), data, { headers: h });
      } catch (err) {
        throw unavailable(this.log, err, 'live publish failed', { channel: ch.key });
      }
    }
    return from === undefined ? { seq, time, data } : { seq, time, data, from };
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
