import { createHmac } from 'node:crypto';
import { signClientToken } from '@switchyard/shared';
import type { Client } from '../helpers.js';

/** A channel message as the suite counts it: its seq (`ord` in the site protocol) and the payload's counter. */
export interface Delivered {
  readonly seq: number;
  readonly n: number;
}

/**
 * One client's side of a protocol: how to subscribe on a fresh connection, resuming after
 * the last seq it got, and how to read a channel message. `subscribe` throws when the
 * server refuses (the client then reconnects) and returns what was wrong with an accepted
 * resume (the suite's violations).
 */
export interface ResumeProtocol {
  readonly kind: 'native' | 'site';
  /** The WebSocket path and query. */
  readonly path: string;
  subscribe(c: Client, after: number): Promise<string[]>;
  message(frame: any): Delivered | undefined;
}

/** Waits for the auth and subscribe replies: the gateway may wait 5 s for NATS before it answers. */
const REPLY_MS = 8000;

/**
 * The native protocol (docs/protocol.md): `hello`, `auth`, then `subscribe` with `after` =
 * the last seq and the `epoch` of the first subscribe. A resume must say `recovered: true`
 * in the same epoch: history (100, one hour) covers every outage of the suite.
 */
export class NativeProtocol implements ResumeProtocol {
  readonly kind = 'native';
  readonly path = '/v1/ws?tenant=demo';
  private epoch: string | undefined;
  private readonly token: string;

  constructor(
    private readonly channel: string,
    user: string,
  ) {
    this.token = signClientToken('demo-client-secret', { user });
  }

  async subscribe(c: Client, after: number): Promise<string[]> {
    await c.nextWhere((f) => f.type === 'hello', REPLY_MS);
    const auth = await call(c, { type: 'auth', token: this.token });
    if (auth.error !== undefined) throw new Error(`auth refused: ${auth.error.name}`);
    const sub = await call(c, { type: 'subscribe', channel: this.channel, after, ...(this.epoch !== undefined ? { epoch: this.epoch } : {}) });
    if (sub.error !== undefined) throw new Error(`subscribe refused: ${sub.error.name} (${sub.error.message})`);
    const r = sub.result as { recovered?: unknown; epoch?: unknown; last?: unknown };
    const problems: string[] = [];
    if (r.recovered !== true) problems.push(`resume after ${after} answered recovered:${String(r.recovered)}`);
    if (this.epoch !== undefined && r.epoch !== this.epoch) problems.push(`resume after ${after} changed the epoch from ${this.epoch} to ${String(r.epoch)}`);
    if (typeof r.last !== 'number' || r.last < after) problems.push(`resume after ${after} answered last:${String(r.last)}`);
    if (typeof r.epoch === 'string') this.epoch ??= r.epoch;
    return problems;
  }

  message(f: any): Delivered | undefined {
    return f?.type === 'message' && f.channel === this.channel ? { seq: f.seq, n: f.data?.n } : undefined;
  }
}

/**
 * The site protocol (docs/dialects/site.md): `subscribe` with a token from the control API's
 * `GET /token`, the channel's `auth` = base64(HMAC-SHA256(secret, channel + token)) and
 * `after` = the last `ord` (0 at first: only new messages). A token lives 300 s; while the
 * control API is down, the last one fetched is used.
 */
export class SiteProtocol implements ResumeProtocol {
  readonly kind = 'site';
  readonly path = '/ws?site=demo';
  private token: { readonly value: string; readonly at: number } | undefined;

  constructor(
    private readonly channel: string,
    private readonly controlUrl: () => string,
  ) {}

  async subscribe(c: Client, after: number): Promise<string[]> {
    const token = await this.freshToken();
    const auth = createHmac('sha256', 'demo-client-secret').update(this.channel + token).digest('base64');
    c.send({ request: 'subscribe', req_id: 's', body: { channel: this.channel, after, token, auth } });
    const r = await c.nextWhere((f) => f.response !== undefined && f.req_id === 's', REPLY_MS);
    if (r.response !== 'ok') throw new Error(`subscribe refused: ${String(r.body)}`);
    return [];
  }

  message(f: any): Delivered | undefined {
    return f?.message === this.channel ? { seq: f.ord, n: f.body?.n } : undefined;
  }

  private async freshToken(): Promise<string> {
    try {
      const res = await fetch(`${this.controlUrl()}/token?site=demo`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { token?: unknown };
      if (res.status === 200 && typeof body.token === 'string') {
        this.token = { value: body.token, at: Date.now() };
        return body.token;
      }
    } catch {
      // The control API is down or restarting: fall back to the last token while it is valid.
    }
    if (this.token !== undefined && Date.now() - this.token.at < 280_000) return this.token.value;
    throw new Error('no site token: the control API does not answer GET /token');
  }
}

let ids = 0;
/** Sends a native command and waits for its reply. */
async function call(c: Client, frame: Record<string, unknown>): Promise<any> {
  const id = ++ids;
  c.send({ ...frame, id });
  return c.nextWhere((f) => f.type === 'reply' && f.id === id, REPLY_MS);
}
