import { unpack } from 'msgpackr';
import { FuzzConn } from './conn.js';
import { ANSWER_DEADLINE_MS } from './endpoints.js';
import { pack } from './msgpack.js';
import { fromJs } from './node.js';
import { DEMO_BACKEND, siteAuth, type Credentials } from './seeds.js';

/** One message as a canary subscriber got it: the publisher's counter, and the seq (ord) where the dialect tells it. */
interface Delivery {
  readonly n: unknown;
  readonly seq: unknown;
}

interface Subscriber {
  readonly name: string;
  readonly conn: FuzzConn;
  readonly got: Delivery[];
  /** Whether the dialect tells the seq (otter does not). */
  readonly hasSeq: boolean;
}

const obj = (f: unknown): Record<string, any> => (typeof f === 'object' && f !== null ? (f as Record<string, any>) : {});

/**
 * The canary: subscribers of several dialects on one channel nobody else uses, and a backend
 * publishing a numbered sequence to it through `POST /v1/publish` while the fuzzers run. Every
 * publish answered 200 must reach every subscriber exactly once, in order, with the seq the
 * publish was answered with; the seqs of a fresh channel on one node are 1, 2, 3, …
 */
export class Canary {
  /** Publishes answered 200: the counter sent and the seq answered. */
  readonly acked: { n: number; seq: number }[] = [];
  readonly problems: string[] = [];
  private publishing: Promise<void> | undefined;
  private running = false;

  private constructor(
    private readonly base: string,
    readonly channel: string,
    private readonly subscribers: Subscriber[],
  ) {
    for (const s of subscribers) {
      s.conn.ws.on('close', (code, reason) => {
        if (this.running || s.got.length < this.acked.length) this.problems.push(`canary ${s.name} was closed: ${code} ${reason.toString()}`);
      });
    }
  }

  static async start(base: string, channel: string, creds: Credentials): Promise<Canary> {
    const ws = base.replace(/^http/, 'ws');
    const subs = await Promise.all([
      native(ws, channel, creds, false),
      native(ws, channel, creds, true),
      site(ws, channel, creds),
      otter(ws, channel),
    ]);
    return new Canary(base, channel, subs);
  }

  /** Publishes 1, 2, 3, … one at a time, `everyMs` apart, until `stop`. */
  startPublishing(everyMs: number): void {
    this.running = true;
    this.publishing = (async () => {
      for (let n = 1; this.running; n++) {
        try {
          const res = await fetch(`${this.base}/v1/publish`, {
            method: 'POST',
            headers: { authorization: DEMO_BACKEND, 'content-type': 'application/json' },
            body: JSON.stringify({ tenant: 'demo', channel: this.channel, data: { canary: n } }),
            signal: AbortSignal.timeout(ANSWER_DEADLINE_MS),
          });
          const text = await res.text();
          if (res.status === 200) this.acked.push({ n, seq: (JSON.parse(text) as { seq: number }).seq });
          else this.problems.push(`canary publish ${n} answered ${res.status} ${text.slice(0, 200)}`);
        } catch (err) {
          this.problems.push(`canary publish ${n} got no answer: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  /** Stops publishing, then waits (at most `ms`) until every subscriber has as many messages as were acknowledged. */
  async stop(ms: number): Promise<void> {
    this.running = false;
    await this.publishing;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.subscribers.some((s) => s.got.length < this.acked.length && s.conn.closed === undefined)) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Deliveries per subscriber, for the report. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.subscribers.map((s) => [s.name, s.got.length]));
  }

  /** Every problem: publishes not acknowledged, seqs not 1, 2, 3, …, a subscriber's deliveries other than the acknowledged sequence. */
  check(): string[] {
    const out = [...this.problems];
    const gap = this.acked.findIndex((a, i) => a.seq !== i + 1);
    if (gap >= 0) out.push(`canary publish ${this.acked[gap]!.n} was answered seq ${this.acked[gap]!.seq}, expected ${gap + 1}`);
    for (const s of this.subscribers) {
      const bad = s.got.findIndex((d, i) => d.n !== this.acked[i]?.n || (s.hasSeq && d.seq !== this.acked[i]?.seq));
      if (bad >= 0) {
        out.push(`canary ${s.name}: delivery ${bad} is ${JSON.stringify(s.got[bad])}, expected ${JSON.stringify(this.acked[bad] ?? 'nothing')}; around it: ${JSON.stringify(s.got.slice(Math.max(0, bad - 3), bad + 3))}`);
      } else if (s.got.length !== this.acked.length) {
        out.push(`canary ${s.name}: got ${s.got.length} messages, ${this.acked.length} publishes were acknowledged`);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.running = false;
    await Promise.all(this.subscribers.map((s) => s.conn.close()));
  }
}

async function expect(conn: FuzzConn, what: string, pred: (f: Record<string, any>) => boolean): Promise<Record<string, any>> {
  const w = await conn.waitFor((f) => pred(obj(f)), ANSWER_DEADLINE_MS);
  if (w.kind !== 'match') throw new Error(`canary: no ${what} (${w.kind})`);
  return obj(w.frame);
}

/** Records the deliveries `pick` finds among the connection's frames (text as JSON, binary as msgpack). */
function record(conn: FuzzConn, pick: (f: Record<string, any>) => Delivery | undefined): Delivery[] {
  const got: Delivery[] = [];
  conn.ws.on('message', (data: Buffer, binary) => {
    let f: unknown;
    try {
      f = binary ? unpack(data) : JSON.parse(data.toString('utf8'));
    } catch {
      return; // not a canary message; the check finds whatever is missing
    }
    const d = pick(obj(f));
    if (d !== undefined) got.push(d);
  });
  return got;
}

async function native(ws: string, channel: string, creds: Credentials, msgpack: boolean): Promise<Subscriber> {
  const conn = await FuzzConn.open(`${ws}/v1/ws?tenant=demo`, [msgpack ? 'switchyard.v1.msgpack' : 'switchyard.v1.json']);
  const send = (f: unknown): void => conn.send(msgpack ? pack(fromJs(f)) : JSON.stringify(f), msgpack);
  await expect(conn, 'hello', (f) => f.type === 'hello');
  send({ type: 'auth', id: 'auth', token: creds.nativeToken });
  send({ type: 'subscribe', id: 'canary', channel });
  const reply = await expect(conn, 'subscribe reply', (f) => f.id === 'canary');
  if (reply.result === undefined) throw new Error(`canary: subscribe refused: ${JSON.stringify(reply)}`);
  const got = record(conn, (f) => (f.type === 'message' && f.channel === channel ? { n: obj(f.data).canary, seq: f.seq } : undefined));
  return { name: msgpack ? 'native-msgpack' : 'native-json', conn, got, hasSeq: true };
}

async function site(ws: string, channel: string, creds: Credentials): Promise<Subscriber> {
  const conn = await FuzzConn.open(`${ws}/ws?site=demo`);
  const token = creds.siteToken;
  conn.send(JSON.stringify({ request: 'subscribe', req_id: 'canary', body: { channel, after: 0, token, auth: siteAuth(channel, token) } }), false);
  const reply = await expect(conn, 'subscribe response', (f) => f.req_id === 'canary');
  if (reply.response !== 'ok') throw new Error(`canary: site subscribe refused: ${JSON.stringify(reply)}`);
  const got = record(conn, (f) => (f.message === channel ? { n: obj(f.body).canary, seq: f.ord } : undefined));
  return { name: 'site', conn, got, hasSeq: true };
}

async function otter(ws: string, channel: string): Promise<Subscriber> {
  const conn = await FuzzConn.open(`${ws}/otter?tenant=demo`);
  await expect(conn, 'connection id', (f) => typeof f.id === 'string');
  conn.send(JSON.stringify({ command: 'sub', channel }), false);
  // Success is silent; commands run in order, so the answer to a failing one means the sub is done.
  conn.send(JSON.stringify({ command: 'canary-ready' }), false);
  await expect(conn, 'answer after the sub', (f) => obj(f.from).command === 'canary-ready');
  const got = record(conn, (f) => (f.type === 'pub' && f.channel === channel ? { n: obj(f.message).canary, seq: undefined } : undefined));
  return { name: 'otter', conn, got, hasSeq: false };
}
