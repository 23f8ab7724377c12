import { DeliverPolicy, type StoredMsg } from '@nats-io/jetstream';
import type { Logger } from '../../log.js';
import type { ChannelRef } from '../../model/channel.js';
import type { Message } from '../../model/message.js';
import type { History, HistoryPage } from '../engine.js';
import { consumedToMessage, storedToMessage } from './codec.js';
import type { BrokerConnection } from './connection.js';
import { unavailable } from './errors.js';
import type { NatsTimings } from './options.js';
import type { Streams } from './streams.js';
import type { Subjects } from './subjects.js';

/**
 * Channel history in JetStream: one subject per channel in its namespace's stream, which
 * keeps the newest `history` messages per subject for at most `historyTtlSeconds`.
 */
export class NatsHistory implements History {
  constructor(
    private readonly conn: BrokerConnection,
    private readonly subjects: Subjects,
    private readonly streams: Streams,
    private readonly t: NatsTimings,
    private readonly log: Logger,
  ) {}

  async read(ch: ChannelRef, after: number): Promise<HistoryPage> {
    if (ch.opts.history === 0) return { messages: [], last: 0, complete: true, epoch: '' };
    this.conn.nc();
    const epoch = this.streams.epochOf(ch);
    const fail = (err: unknown): never => {
      throw unavailable(this.log, err, 'history read failed', { channel: ch.key });
    };
    const lastMsg = await this.lastStored(ch).catch(fail);
    const last = lastMsg?.seq ?? 0;
    if (after < 0 || after >= last) {
      const messages = after < 0 && lastMsg !== null ? [storedToMessage(lastMsg)].filter((m): m is Message => m !== undefined) : [];
      return { messages, last, complete: true, epoch };
    }
    const messages = await this.readRange(ch, after + 1, last).catch(fail);
    // Trimming removes a subject's oldest messages first, so if message `after` is still
    // stored, nothing after it is gone. From 0, only a history that is not yet full is sure
    // to be whole.
    let complete: boolean;
    if (after === 0) {
      complete = messages.length < ch.opts.history;
    } else {
      // Not found (trimmed, or another subject's seq) and failures alike: not provably complete.
      const anchor = await this.conn.jsm().streams.getMessage(this.streams.of(ch), { seq: after }).catch(() => null);
      complete = anchor !== null && anchor.subject === this.subjects.history(ch);
    }
    return { messages, last, complete, epoch };
  }

  /** The channel's newest stored message, or null when it has none. Throws raw NATS errors. */
  lastStored(ch: ChannelRef): Promise<StoredMsg | null> {
    return this.conn.jsm().streams.getMessage(this.streams.of(ch), { last_by_subj: this.subjects.history(ch) });
  }

  /**
   * Stored messages of one channel with from ≤ seq ≤ to, oldest first, read by an ordered
   * consumer filtered to the channel's subject. Messages the stream no longer holds are
   * simply absent. Throws raw NATS errors.
   */
  async readRange(ch: ChannelRef, from: number, to: number): Promise<Message[]> {
    const consumer = await this.conn.js().consumers.get(this.streams.of(ch), {
      filter_subjects: this.subjects.history(ch),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    const out: Message[] = [];
    try {
      // Bounded by the channel's history size; `to` is known to be stored (or trimmed since).
      for (;;) {
        const batch = await consumer.fetch({ max_messages: Math.min(1000, ch.opts.history), expires: this.t.fetchExpiresMs });
        let got = 0;
        let done = false;
        for await (const m of batch) {
          got++;
          const msg = consumedToMessage(m);
          if (msg !== undefined && m.seq <= to) out.push(msg);
          if (m.seq >= to || m.info.pending === 0) {
            done = true;
            break;
          }
        }
        if (done || got === 0) break;
      }
    } finally {
      await consumer.delete().catch(() => {
        // an ordered consumer is ephemeral: the server removes it when inactive anyway
      });
    }
    return out;
  }
}
