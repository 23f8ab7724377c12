import type { Logger, Metrics, ProtocolError, Publisher } from '@switchyard/shared';
import type { Hub } from '../core/hub.js';
import type { Session } from '../core/session.js';

/** What every dialect works with: the core, never the socket library. */
export interface DialectContext {
  readonly nodeId: string;
  readonly hub: Hub;
  readonly publisher: Publisher;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/**
 * A client protocol: translates its frames into core calls and core results back into its
 * frames. Decoding runs once per client frame; channel messages are encoded by the
 * dialect's `Face`, once per broadcast.
 */
export interface Dialect {
  /** Metrics label and log field. */
  readonly name: string;
  /** The connection is open: send any greeting. */
  open(s: Session): void;
  /** One client frame (its memory is valid only during the call). */
  message(s: Session, data: ArrayBuffer, binary: boolean): void;
  /** Reports an error that no request can be correlated with (e.g. an oversized frame). */
  error(s: Session, err: ProtocolError): void;
  /** The connection closed; called before its subscriptions are removed. */
  close?(s: Session): void;
}
