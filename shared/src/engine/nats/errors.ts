import { NoRespondersError, RequestError } from '@nats-io/transport-node';
import { ErrorCode, ProtocolError } from '../../codes.js';
import type { Logger } from '../../log.js';

/**
 * What clients and REST callers are told when NATS or JetStream fails. The NATS client's own
 * error text (server addresses, API error strings, stream names) stays in the logs.
 */
export const BROKER_UNAVAILABLE = 'message broker unavailable';

/** The fixed `unavailable` error (temporary: the same call may succeed once NATS is back). */
export const brokerUnavailable = (): ProtocolError => new ProtocolError(ErrorCode.Unavailable, BROKER_UNAVAILABLE, true);

/**
 * Turns a NATS failure into the fixed `unavailable` error, logging the raw one (warn) with
 * `what` and `context`. A ProtocolError passes through unchanged: it is already meant for clients.
 */
export function unavailable(log: Logger, err: unknown, what: string, context: Record<string, unknown> = {}): ProtocolError {
  if (err instanceof ProtocolError) return err;
  log.warn({ ...context, err: errorText(err) }, what);
  return brokerUnavailable();
}

/**
 * True when a request found no subscriber at all. `request` reports it as a RequestError
 * caused by NoRespondersError; `requestMany` throws the NoRespondersError itself.
 */
export function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders());
}

/** The message of an Error, for logs (pino's `err` serializer would add stacks we do not need). */
export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * A subscription callback that can never throw into the NATS client: a throw there ends the
 * client's reader, and every subscription of the process goes quiet until it reconnects
 * (10–15 s). What `fn` throws is logged (error: it is a bug) with `what`.
 */
export function guardedCallback<M>(log: Logger, what: string, fn: (m: M) => void): (err: Error | null, m: M) => void {
  return (err, m) => {
    if (err !== null) return; // the subscription is closing
    try {
      fn(m);
    } catch (e) {
      log.error({ err: e }, `${what} failed`);
    }
  };
}
