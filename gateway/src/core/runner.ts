import {
  CloseReason,
  ErrorCode,
  ProtocolError,
  channelAllowed,
  errorName,
  toClientError,
  type Logger,
  type Metrics,
  type Publisher,
} from '@switchyard/shared';
import type { Command, Done, Identity, Publish, Subscribe } from './commands.js';
import type { Hub, Pending } from './hub.js';
import type { Session } from './session.js';

export interface RunnerLimits {
  /** Largest client frame handled, in bytes; a larger one is answered and closed with 1009. */
  readonly maxPayload: number;
  /**
   * Frames that may wait while one of the connection's commands is in progress; one more is
   * refused at once with `limit_exceeded` (the only answer that can overtake earlier ones).
   */
  readonly maxQueued: number;
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
    if (!s.busy) {
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
      let waiting: Promise<void> | undefined;
      try {
        waiting = this.start(s, req, cmd ?? s.dialect.command(s, req));
      } catch (err) {
        this.fail(s, req, err);
      }
      if (waiting !== undefined) {
        s.busy = true;
        void waiting.then(
          () => this.resume(s),
          (err: unknown) => {
            this.log.error({ err, conn: s.id, dialect: s.dialect.name }, 'command chain failed');
            this.resume(s);
          },
        );
        return;
      }
      if (s.closed || s.queue === undefined || s.queue.length === 0) return;
      req = s.queue.shift();
      cmd = undefined;
    }
  }

  private resume(s: Session): void {
    s.busy = false;
    if (s.closed) {
      s.queue = undefined;
      return;
    }
    if (s.queue !== undefined && s.queue.length > 0) this.turn(s, s.queue.shift());
  }

  /** Starts a command; a promise (that never rejects) while it is still running. */
  private start(s: Session, req: unknown, cmd: Command): Promise<void> | undefined {
    switch (cmd.op) {
      case 'authenticate':
        this.authenticate(s, cmd.identity);
        this.done(s, req, { op: 'authenticate', cmd, outcome: undefined });
        return undefined;
      case 'local':
        this.done(s, req, { op: 'local', cmd, outcome: undefined });
        return undefined;
      case 'unsubscribe': {
        const removed = this.hub.unsubscribe(s, cmd.channel);
        if (!removed && cmd.quiet !== true) throw new ProtocolError(ErrorCode.NotSubscribed, `not subscribed to ${cmd.channel.name}`);
        this.done(s, req, { op: 'unsubscribe', cmd, outcome: { removed } });
        return undefined;
      }
      case 'subscribe':
        return this.subscribe(s, req, cmd).catch((err: unknown) => this.fail(s, req, err));
      case 'publish':
        return this.publish(s, req, cmd);
      case 'presence':
        this.allowed(s, cmd.channel.name);
        return this.hub.presence(cmd.channel).then(
          (outcome) => this.done(s, req, { op: 'presence', cmd, outcome }),
          (err: unknown) => this.fail(s, req, err),
        );
      case 'request': {
        const r = cmd.run();
        if (!(r instanceof Promise)) {
          this.done(s, req, { op: 'request', cmd, outcome: r });
          return undefined;
        }
        return r.then(
          (outcome: unknown) => this.done(s, req, { op: 'request', cmd, outcome }),
          (err: unknown) => this.fail(s, req, err),
        );
      }
    }
  }

  private authenticate(s: Session, id: Identity): void {
    if (s.authenticated && id.user !== s.user) throw new ProtocolError(ErrorCode.PermissionDenied, 'a connection cannot change its user');
    if (id.tenant !== undefined && s.authenticated && id.tenant.id !== s.tenant.id) {
      throw new ProtocolError(ErrorCode.PermissionDenied, 'a connection cannot change its tenant');
    }
    if (id.tenant !== undefined) s.tenant = id.tenant;
    s.authenticated = true;
    s.user = id.user;
    s.info = id.info;
    s.allowed = id.allowed;
    if (s.expiryTimer !== undefined) clearTimeout(s.expiryTimer);
    s.expiryTimer = undefined;
    if (id.exp !== undefined) armExpiry(s, id.exp * 1000);
  }

  private allowed(s: Session, channel: string): void {
    if (!channelAllowed(s.allowed, channel)) throw new ProtocolError(ErrorCode.PermissionDenied, `token does not allow channel ${channel}`);
  }

  private async subscribe(s: Session, req: unknown, cmd: Subscribe): Promise<void> {
    const hub = this.hub;
    const targets = cmd.skipExisting === true ? cmd.targets.filter((t) => !hub.isSubscribed(s, t.channel)) : cmd.targets;
    for (const t of targets) this.allowed(s, t.channel.name);
    // Every check before anything changes: a refused request leaves the subscriptions as they were.
    const dropped = cmd.drop?.filter((ref) => hub.isSubscribed(s, ref)).length ?? 0;
    if (targets.length > 0 && s.subscriptions - dropped + targets.length > hub.maxSubscriptions) throw hub.limitError();
    for (const ref of cmd.drop ?? []) hub.unsubscribe(s, ref);
    const made: Pending[] = [];
    let snapshot: unknown;
    try {
      for (const t of targets) made.push(await hub.subscribe(s, t));
      if (cmd.snapshot !== undefined) snapshot = await cmd.snapshot();
    } catch (err) {
      for (const p of made) hub.unsubscribe(s, p.channel);
      throw err;
    }
    if (s.closed) return;
    this.done(s, req, { op: 'subscribe', cmd, outcome: { subscribed: made, snapshot } });
    for (const p of made) hub.activate(s, p);
  }

  private publish(s: Session, req: unknown, cmd: Publish): Promise<void> | undefined {
    this.allowed(s, cmd.channel.name);
    const from = s.clientInfo();
    const stored = this.publisher.publish(cmd.channel, cmd.data, from);
    if (cmd.up !== undefined) {
      const up = cmd.up;
      void stored.then(() => this.publisher.relayUp(up.channel, up.data, from), () => {
        // not stored: the failure is answered below, and nothing goes up
      });
    }
    const failed = (err: unknown): void => this.fail(s, req, err);
    // Not acknowledged: the engine was handed the message in order; the next frame need not wait.
    if (!cmd.ack) {
      stored.catch(failed);
      return undefined;
    }
    return stored.then((outcome) => this.done(s, req, { op: 'publish', cmd, outcome }), failed);
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
