import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  channelAllowed,
  errorName,
  toClientError,
  type ClientInfo,
  type Logger,
  type Metrics,
  type Publisher,
} from '@switchyard/shared';
import type { Command, Done, Identity, Publish, Subscribe, SubscribeTarget } from './commands.js';
import type { Hub, Pending } from './hub.js';
import { Turn, type Session } from './session.js';

export interface RunnerLimits {
  /** Largest client frame handled, in bytes; a larger one is answered and closed with 1009. */
  readonly maxPayload: number;
  /**
   * Frames that may wait while one of the connection's commands is in progress; one more is
   * refused at once with `limit_exceeded` (the only answer that can overtake earlier ones).
   */
  readonly maxQueued: number;
  /** How long a connection of a dialect that requires it may stay open without authenticating (0: no limit). */
  readonly authTimeoutMs: number;
}

/**
 * Runs the internal commands of every connection. It owns what is the same for every
 * dialect: one command at a time per connection (answers come in request order, and each
 * command sees the effect of the ones before it), the subscribe → answer → activate rule,
 * limits, error answers and their metric, and closing with a reason.
 */
export class CommandRunner {
  constructor(
    private readonly hub: Hub,
    private readonly publisher: Publisher,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly limits: RunnerLimits,
  ) {}

  /** The connection is open: the dialect's greeting, then its opening command. */
  open(s: Session): void {
    // Until it authenticates a connection costs a socket and proves nothing: it gets a while to.
    // `authenticate` clears this timer (the expiry timer takes its slot).
    if (this.limits.authTimeoutMs > 0 && s.dialect.authRequired?.(s) === true) {
      s.expiryTimer = setTimeout(() => {
        if (!s.closed && !s.authenticated) s.close(CloseReason.AuthTimeout);
      }, this.limits.authTimeoutMs);
      s.expiryTimer.unref();
    }
    const o = s.dialect.open(s);
    if (o?.send !== undefined) s.send(o.send);
    if (o?.command !== undefined) this.turn(s, undefined, o.command);
  }

  /** One client frame (valid only during the call). */
  frame(s: Session, data: ArrayBuffer, binary: boolean): void {
    if (s.closed) return;
    if (data.byteLength > this.limits.maxPayload) {
      this.fail(s, undefined, new ProtocolError(ErrorCode.PayloadTooLarge, `frame of ${data.byteLength} bytes exceeds the ${this.limits.maxPayload}-byte limit`));
      s.close(CloseReason.MessageTooBig);
      return;
    }
    let req: unknown;
    try {
      req = s.dialect.parse(data, binary);
    } catch (err) {
      this.fail(s, undefined, err);
      return;
    }
    if (s.turn === Turn.Idle) {
      this.turn(s, req);
    } else if ((s.queue?.length ?? 0) < this.limits.maxQueued) {
      (s.queue ??= []).push(req);
    } else {
      this.fail(s, req, new ProtocolError(ErrorCode.LimitExceeded, `at most ${this.limits.maxQueued} requests may wait for an answer`));
    }
  }

  /** The connection closed: the dialect hears it first, then its subscriptions go. */
  closed(s: Session): void {
    s.queue = undefined;
    try {
      s.dialect.closed?.(s);
    } catch (err) {
      this.log.error({ err, conn: s.id, dialect: s.dialect.name }, 'dialect close hook threw');
    }
    this.hub.removeSession(s);
  }

  /**
   * Runs `req` (or the command already decided for it) and then whatever queued behind it,
   * until a command has to wait.
   */
  private turn(s: Session, first: unknown, decided?: Command): void {
    let req = first;
    let cmd = decided;
    for (;;) {
      let later = false;
      s.turn = Turn.Starting;
      try {
        later = this.start(s, req, cmd ?? s.dialect.command(s, req));
      } catch (err) {
        this.fail(s, req, err);
      }
      // An asynchronous command may have finished already (a check failed before its first
      // await): then `resume` found the turn Starting and left the queue to this loop.
      if (later && s.turn === Turn.Starting) {
        s.turn = Turn.Waiting;
        return;
      }
      s.turn = Turn.Idle;
      if (s.closed || s.queue === undefined || s.queue.length === 0) return;
      req = s.queue.shift();
      cmd = undefined;
    }
  }

  private resume(s: Session): void {
    const from = s.turn;
    s.turn = Turn.Idle;
    if (from === Turn.Starting) return; // still inside turn(), which goes on with the queue
    if (s.closed) {
      s.queue = undefined;
      return;
    }
    if (s.queue !== undefined && s.queue.length > 0) this.turn(s, s.queue.shift());
  }

  /**
   * Starts a command. True when it goes on asynchronously: it then answers and calls
   * `resume` when done, exactly once, and never rejects.
   */
  private start(s: Session, req: unknown, cmd: Command): boolean {
    switch (cmd.op) {
      case 'authenticate':
        this.authenticate(s, cmd.identity);
        this.done(s, req, { op: 'authenticate', cmd, outcome: undefined });
        return false;
      case 'local':
        this.done(s, req, { op: 'local', cmd, outcome: undefined });
        return false;
      case 'unsubscribe': {
        const removed = this.hub.unsubscribe(s, cmd.channel);
        if (!removed && cmd.quiet !== true) throw new ProtocolError(ErrorCode.NotSubscribed, `not subscribed to ${cmd.channel.name}`);
        this.done(s, req, { op: 'unsubscribe', cmd, outcome: { removed } });
        return false;
      }
      case 'subscribe':
        void this.subscribe(s, req, cmd);
        return true;
      case 'publish':
        return this.publish(s, req, cmd);
      case 'presence':
        this.allowed(s, cmd.channel.name);
        this.hub.presence(cmd.channel).then(
          (outcome) => this.doneThenResume(s, req, { op: 'presence', cmd, outcome }),
          (err: unknown) => this.failThenResume(s, req, err),
        );
        return true;
      case 'request': {
        const r = cmd.run();
        if (!(r instanceof Promise)) {
          this.done(s, req, { op: 'request', cmd, outcome: r });
          return false;
        }
        r.then(
          (outcome: unknown) => this.doneThenResume(s, req, { op: 'request', cmd, outcome }),
          (err: unknown) => this.failThenResume(s, req, err),
        );
        return true;
      }
    }
  }

  private doneThenResume(s: Session, req: unknown, done: Done): void {
    this.done(s, req, done);
    this.resume(s);
  }

  private failThenResume(s: Session, req: unknown, err: unknown): void {
    this.fail(s, req, err);
    this.resume(s);
  }

  private authenticate(s: Session, id: Identity): void {
    if (s.authenticated && id.user !== s.user) throw new ProtocolError(ErrorCode.PermissionDenied, 'a connection cannot change its user');
    if (id.tenant !== undefined && s.authenticated && id.tenant.id !== s.tenant.id) {
      throw new ProtocolError(ErrorCode.PermissionDenied, 'a connection cannot change its tenant');
    }
    if (id.tenant !== undefined) s.tenant = id.tenant;
    s.authenticated = true;
    s.identify(id.user, id.info);
    s.allowed = id.allowed;
    if (s.expiryTimer !== undefined) clearTimeout(s.expiryTimer);
    s.expiryTimer = undefined;
    if (id.exp !== undefined) armExpiry(s, id.exp * 1000);
  }

  private allowed(s: Session, channel: string): void {
    if (!channelAllowed(s.allowed, channel)) throw new ProtocolError(ErrorCode.PermissionDenied, `token does not allow channel ${channel}`);
  }

  /** Never rejects: a failure is answered; resumes the connection's turn when done. */
  private async subscribe(s: Session, req: unknown, cmd: Subscribe): Promise<void> {
    // Indexed loops: this runs unoptimized at first, where for-of allocates per step.
    const hub = this.hub;
    const targets = cmd.skipExisting === true ? cmd.targets.filter((t) => !hub.isSubscribed(s, t.channel)) : cmd.targets;
    const made: Pending[] = [];
    try {
      for (let i = 0; i < targets.length; i++) this.allowed(s, (targets[i] as SubscribeTarget).channel.name);
      // Every check before anything changes: a refused request leaves the subscriptions as they were.
      const dropped = cmd.drop?.filter((ref) => hub.isSubscribed(s, ref)).length ?? 0;
      if (targets.length > 0 && s.subscriptions - dropped + targets.length > hub.maxSubscriptions) throw hub.limitError();
      if (cmd.drop !== undefined) for (const ref of cmd.drop) hub.unsubscribe(s, ref);
      for (let i = 0; i < targets.length; i++) made[i] = await hub.subscribe(s, targets[i] as SubscribeTarget);
      const snapshot = cmd.snapshot === undefined ? undefined : await cmd.snapshot();
      if (s.closed) return;
      this.done(s, req, { op: 'subscribe', cmd, outcome: { subscribed: made, snapshot } });
      for (let i = 0; i < made.length; i++) hub.activate(s, made[i] as Pending);
    } catch (err) {
      for (let i = 0; i < made.length; i++) hub.unsubscribe(s, (made[i] as Pending).channel);
      this.fail(s, req, err);
    } finally {
      this.resume(s);
    }
  }

  private publish(s: Session, req: unknown, cmd: Publish): boolean {
    this.allowed(s, cmd.channel.name);
    // Answers already queued for this connection go first: its message may reach the
    // channel's topic in this turn (the embedded engine delivers at once), and uWS would write
    // it ahead of them. Nothing queued (the usual case): no write.
    s.flush();
    const from = s.clientInfo();
    const stored = this.publisher.publish(cmd.channel, cmd.data, from);
    const up = cmd.up;
    // One reaction per publish (a high-rate publisher makes many): once stored, the relay up
    // to backends listening on the broker, then the answer; or the failure's answer.
    // Not acknowledged: the engine was handed the message in order; the next frame need not wait.
    if (!cmd.ack) {
      stored.then(up === undefined ? undefined : () => this.relayUp(up, from), (err: unknown) => this.fail(s, req, err));
      return false;
    }
    stored.then(
      (outcome) => {
        this.doneThenResume(s, req, { op: 'publish', cmd, outcome });
        if (up !== undefined) this.relayUp(up, from);
      },
      (err: unknown) => this.failThenResume(s, req, err),
    );
    return true;
  }

  /** A stored publish goes up to backends; a broker that cannot take it is logged (the message is stored and answered). */
  private relayUp(up: NonNullable<Publish['up']>, from: ClientInfo): void {
    try {
      this.publisher.relayUp(up.channel, up.data, from);
    } catch (err) {
      this.log.warn({ err, channel: up.channel.key }, 'relay up to backends failed');
    }
  }

  /** Answers a success; the opening command (no request) is answered to no one. */
  private done(s: Session, req: unknown, done: Done): void {
    if (s.closed || req === undefined) return;
    let out;
    try {
      out = s.dialect.reply(s, req, done);
    } catch (err) {
      this.fail(s, req, err);
      return;
    }
    if (out !== undefined) s.send(out);
  }

  /** Answers a failure in the dialect's words and counts it; never leaks raw exception text. */
  private fail(s: Session, req: unknown, err: unknown): void {
    const e = toClientError(err);
    if (!(err instanceof ProtocolError)) this.log.error({ err, conn: s.id, dialect: s.dialect.name }, 'command failed unexpectedly');
    this.metrics.errors.inc({ code: errorName[e.code] });
    if (s.closed) return;
    let out;
    try {
      out = s.dialect.error(s, req, e);
    } catch (encodeErr) {
      // A dialect that cannot even encode its error: the client hears nothing, we log it.
      this.log.error({ err: encodeErr, conn: s.id, dialect: s.dialect.name }, 'dialect could not encode an error');
      return;
    }
    if (out !== undefined) s.send(out);
  }
}

/** Closes the session with 4101 when its credential expires (re-armed past setTimeout's ~24.8-day limit). */
function armExpiry(s: Session, expMs: number): void {
  const ms = expMs - Date.now();
  s.expiryTimer = setTimeout(() => {
    if (s.closed) return;
    if (Date.now() >= expMs) s.close(CloseReason.TokenExpired);
    else armExpiry(s, expMs);
  }, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
  s.expiryTimer.unref();
}
