import http from 'node:http';
import { withDeadline } from '@switchyard/testkit';

/** One dispatched Server-Sent Event, as an `EventSource` would see it. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  /** The stream's last event id when this event was dispatched. */
  readonly lastEventId: string;
}

/**
 * A test's event-stream reader: a plain HTTP GET parsed by the WHATWG rules (fields, `data`
 * lines joined by `\n`, the last event id kept across events, dispatch on a blank line), so
 * what it sees is what a browser's `EventSource` sees.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  /** The body of a refused request. */
  body = '';
  lastEventId = '';
  readonly ended: Promise<void>;
  private readonly req: http.ClientRequest;
  private waiters: (() => void)[] = [];
  private buf = '';
  private data: string[] = [];
  private type = '';
  private idBuf = '';

  constructor(url: string, headers: Record<string, string> = {}) {
    let end: () => void = () => {};
    this.ended = new Promise((r) => (end = r));
    this.req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (this.status !== 200) this.body += chunk;
        else this.feed(chunk);
        this.wake();
      });
      res.on('end', () => {
        end();
        this.wake();
      });
      res.on('error', () => {
        end();
        this.wake();
      });
      this.wake();
    });
    this.req.on('error', () => {
      end();
      this.wake();
    });
  }

  private feed(chunk: string): void {
    this.buf += chunk;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (m === null) return;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      this.lastEventId = this.idBuf;
      if (this.data.length > 0) this.events.push({ event: this.type || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId });
      this.data = [];
      this.type = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id' && !value.includes('\0')) this.idBuf = value;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `check` holds (checked after every chunk), or fails after `ms`. */
  async until<T>(check: () => T | undefined | false, what: string, ms = 5000): Promise<T> {
    return withDeadline(
      new Promise<T>((resolve) => {
        const test = (): void => {
          const v = check();
          if (v !== undefined && v !== false) resolve(v);
          else this.waiters.push(test);
        };
        test();
      }),
      ms,
      what,
    );
  }

  /** The response's head. */
  opened(): Promise<number> {
    return this.until(() => this.status || undefined, 'the response head');
  }

  /** The events named `event` (data parsed as JSON). */
  named<T = Record<string, unknown>>(event: string): T[] {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as T);
  }

  /** The channel messages received (the `message` events' frames). */
  messages(): { channel: string; seq: number; data: unknown }[] {
    return this.named('message');
  }

  close(): void {
    this.req.destroy();
  }
}
