/**
 * The size of the faults suite and every bound it asserts, in one place. CI runs one round
 * (each fault once, well under two minutes on two cores); `npm run faults` runs five
 * (`SWITCHYARD_FAULTS_ROUNDS`, any positive integer).
 */

function positiveInt(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  return n;
}

/** How many times the cycle of five faults runs. */
export const ROUNDS = positiveInt(process.env.SWITCHYARD_FAULTS_ROUNDS, 1, 'SWITCHYARD_FAULTS_ROUNDS');

/**
 * Publishes per second. With `chat:` keeping 100 messages, a client may be away for two
 * seconds before its resume point is trimmed: the slowest outage here, a SIGSTOPped gateway
 * noticed by pings (≤ 1 s) and left for the other (measured: 1.0–1.5 s in all, ≤ 80
 * messages behind), stays inside that.
 */
export const PUBLISH_RATE = 50;
/** Resuming clients of each protocol; their home gateways alternate. */
export const CLIENTS_PER_PROTOCOL = 4;

/** Client liveness: a WebSocket ping this often... */
export const PING_EVERY_MS = 200;
/** ...and the server counts as dead after this long without a pong or a frame. */
export const DEAD_AFTER_MS = 800;
/** A connection whose WebSocket handshake takes longer is abandoned (a stopped process accepts TCP but never answers). */
export const OPEN_TIMEOUT_MS = 1500;
/** Reconnect backoff: the first wait, doubled per failed attempt up to the second. */
export const BACKOFF_MS = [100, 500] as const;

/** `/readyz` is asked of every process this often... */
export const PROBE_EVERY_MS = 150;
/** ...and a probe not answered within this counts as not ready. */
export const PROBE_TIMEOUT_MS = 1000;

/** How long a SIGSTOPped gateway stays stopped (at least; longer until its clients moved). */
export const STOP_HOLD_MS = 3000;
/** How long nats-server stays down once every process said it is not ready. */
export const NATS_DOWN_HOLD_MS = 1500;

/** Bounds the suite asserts. Generous: the box is small and shared. */
export const BOUND = Object.freeze({
  /** From nats-server's death until a process's `/readyz` stops saying 200. */
  readyzDownMs: 10_000,
  /** From the repair (restart, SIGCONT, replacement) until every live process says 200. */
  readyzUpMs: 15_000,
  /** From the fault until every client has a message published after it. */
  recoveryMs: 20_000,
  /** A SIGTERMed process exits (with 0) within this. */
  exitMs: 10_000,
  /** After recovery, until every client has every message acknowledged so far. */
  catchUpMs: 15_000,
  /**
   * A `/readyz` of 200 while the process refuses its work (publishes, subscribes) for this
   * long, every probe meanwhile 200, is a lie. Shorter refusals are the edges of a change.
   */
  lieMs: 2000,
  /** Probes this soon after a signal may still be answered by the process as it was. */
  signalGraceMs: 500,
});

/** The whole test's timeout: generous per round, so a hang fails rather than stalls CI. */
export const TEST_TIMEOUT_MS = 90_000 + ROUNDS * 90_000;
