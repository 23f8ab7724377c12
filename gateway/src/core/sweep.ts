import type { ChannelState } from './channel.js';
import type { Session } from './session.js';

/**
 * The slow-consumer check for channel messages sent through uWS pub/sub. uWS writes a
 * topic's frames to its subscribers in C++ after the turn, with no call into JavaScript per
 * frame, so the outbox's check after each frame cannot see them. Instead the subscribers of
 * a channel are checked together: on the next turn once the bytes published to it since the
 * last check reach a budget (an eighth of the limit), and within `intervalMs` of any publish.
 *
 * A connection's send buffer thus passes the limit by at most one budget per channel it
 * holds, and by no more than `intervalMs` of its traffic. uWS is given no limit of its own:
 * a frame it dropped inside its drain could not be answered without a gap, while here the
 * connection got a gap-free prefix and is closed with 4100, like any slow consumer.
 */
export class SlowSweep {
  private readonly budget: number;
  /** Channels past their budget, checked on the next turn. */
  private due: ChannelState[] = [];
  /** Channels with any unchecked bytes, checked when the timer fires. */
  private swept: ChannelState[] = [];
  private dueScheduled = false;
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    /** Bytes buffered by uWS past which a connection is a slow consumer. */
    private readonly maxBuffered: number,
    /** Called once per slow consumer found (after `closed` is set); it is closed outside the loop. */
    private readonly onSlow: (s: Session) => void,
    /** Runs `runDue` on the next turn (setImmediate in production). */
    private readonly schedule: (fn: () => void) => void = setImmediate,
    private readonly intervalMs = 250,
  ) {
    this.budget = Math.max(1, maxBuffered >>> 3);
  }

  /** `bytes` more were published to `ch`'s topics: at most that much more is buffered for each subscriber. */
  note(ch: ChannelState, bytes: number): void {
    const unchecked = (ch.unchecked += bytes);
    if (!ch.swept) {
      ch.swept = true;
      this.swept.push(ch);
      if (this.timer === undefined) {
        this.timer = setTimeout(this.runAll, this.intervalMs);
        this.timer.unref();
      }
    }
    if (unchecked >= this.budget && !ch.due) {
      ch.due = true;
      this.due.push(ch);
      if (!this.dueScheduled) {
        this.dueScheduled = true;
        this.schedule(this.runDue);
      }
    }
  }

  /** Checks the channels past their budget. */
  readonly runDue = (): void => {
    this.dueScheduled = false;
    const due = this.due;
    this.due = [];
    for (let i = 0; i < due.length; i++) {
      const ch = due[i] as ChannelState;
      ch.due = false;
      if (ch.unchecked >= this.budget) this.check(ch);
    }
  };

  /** Checks every channel with unchecked bytes (the timer's run; tests call it to end a turn). */
  readonly runAll = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const swept = this.swept;
    this.swept = [];
    for (let i = 0; i < swept.length; i++) {
      const ch = swept[i] as ChannelState;
      ch.swept = false;
      if (ch.unchecked > 0) this.check(ch);
    }
  };

  /** Stops the timer (the node is closing). */
  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private check(ch: ChannelState): void {
    ch.unchecked = 0;
    const max = this.maxBuffered;
    for (const s of ch.live) {
      // Deliver faces write through the outbox, which checks after every frame.
      if (s.closed || s.face?.encode === undefined) continue;
      if (s.conn.bufferedAmount() > max) {
        s.closed = true;
        this.onSlow(s);
      }
    }
  }
}
