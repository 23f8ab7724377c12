import { STATUS_CODES } from 'node:http';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ErrorCode, ProtocolError, errorName, httpStatus, toClientError } from '../codes.js';
import type { Logger } from '../log.js';
import { CORS_MAX_AGE_SECONDS, allowOrigin, type Origins } from './cors.js';

/** A request as handlers see it: everything uWS gives only synchronously, copied out. */
export interface Req {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names. */
  readonly headers: ReadonlyMap<string, string>;
  /** Route parameters (`:name` segments), URL-decoded, in order. */
  readonly params: readonly string[];
  /** The body, bounded by the route's `maxBody`; rejects with `payload_too_large`. */
  body(): Promise<Buffer>;
  /** The body parsed as JSON; rejects with `bad_request` on malformed JSON. */
  json(): Promise<unknown>;
}

export interface Reply {
  readonly status: number;
  /** Serialized as JSON unless `text` is given. */
  readonly body?: unknown;
  readonly text?: string;
  readonly contentType?: string;
}

export type Handler = (req: Req) => Promise<Reply> | Reply;

/** Turns a thrown error into the route's error reply. */
export type ErrorFormatter = (err: ProtocolError) => Reply;

/** Control-API errors: `{ code, message }` with the code's HTTP status. */
export const defaultErrorFormat: ErrorFormatter = (e) => ({
  status: httpStatus[e.code],
  body: { code: errorName[e.code], message: e.message },
});

export interface RouteOptions {
  maxBody?: number;
  errorFormat?: ErrorFormatter;
  onError?: (err: ProtocolError) => void;
  /**
   * A browser-facing route: the origins that may call it from another origin (empty: none).
   * Its answers carry `Access-Control-Allow-Origin` for those, and an OPTIONS preflight is
   * answered. Never set on routes that take a backend secret.
   */
  cors?: (query: URLSearchParams) => Origins;
}

/** Request headers a browser may send to a browser-facing route (a JSON body's type). */
const CORS_ALLOWED_HEADERS = ['content-type'];

const statusLine = (s: number): string => `${s} ${STATUS_CODES[s] ?? ''}`;

const readBody = (res: HttpResponse, max: number, aborted: () => boolean): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    // uWS reuses the chunk's memory after the callback returns: copy it.
    res.onData((chunk, isLast) => {
      if (failed || aborted()) return;
      size += chunk.byteLength;
      if (size > max) {
        failed = true;
        reject(new ProtocolError(ErrorCode.PayloadTooLarge, `body larger than ${max} bytes`));
        return;
      }
      chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
      if (isLast) resolve(Buffer.concat(chunks, size));
    });
  });

/**
 * Registers a JSON route on a uWS app. Handlers are async; the response is written corked and
 * only if the client has not gone away. Errors never escape: ProtocolErrors become the
 * route's error reply, anything else a 500 (logged, never shown to the client).
 */
export function route(
  app: TemplatedApp,
  method: 'get' | 'post' | 'put' | 'del',
  pattern: string,
  handler: Handler,
  log: Logger,
  opts: RouteOptions = {},
): void {
  const maxBody = opts.maxBody ?? 64 * 1024;
  const format = opts.errorFormat ?? defaultErrorFormat;
  const paramCount = (pattern.match(/\/:/g) ?? []).length;
  if (opts.cors !== undefined) preflight(app, method === 'del' ? 'delete' : method, pattern, opts.cors);
  app[method](pattern, (res: HttpResponse, r: HttpRequest) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const headers = new Map<string, string>();
    r.forEach((k, v) => headers.set(k, v));
    const params: string[] = [];
    for (let i = 0; i < paramCount; i++) params.push(safeDecode(r.getParameter(i) ?? ''));
    const hasBody = method !== 'get';
    let bodyP: Promise<Buffer> | undefined;
    if (hasBody) {
      bodyP = readBody(res, maxBody, () => aborted);
      bodyP.catch(() => {}); // observed by whoever calls body(); the route's catch reports it
    }
    const body = (): Promise<Buffer> => bodyP ?? Promise.resolve(Buffer.alloc(0));
    const req: Req = {
      method: r.getCaseSensitiveMethod(),
      path: r.getUrl(),
      query: new URLSearchParams(r.getQuery() ?? ''),
      headers,
      params,
      body,
      async json() {
        const b = await body();
        try {
          return JSON.parse(b.toString('utf8')) as unknown;
        } catch {
          throw new ProtocolError(ErrorCode.BadRequest, 'body is not valid JSON');
        }
      },
    };
    const allowed = opts.cors?.(req.query) ?? [];
    const send = (reply: Reply): void => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(reply.status));
        corsHeaders(res, allowed, headers.get('origin'));
        if (reply.text !== undefined) {
          res.writeHeader('content-type', reply.contentType ?? 'text/plain; charset=utf-8');
          res.end(reply.text);
        } else {
          res.writeHeader('content-type', 'application/json');
          res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
        }
      });
    };
    const fail = (err: unknown): void => {
      const e = toClientError(err);
      if (!(err instanceof ProtocolError)) log.error({ err, path: req.path }, 'request failed');
      opts.onError?.(e);
      send(format(e));
    };
    try {
      Promise.resolve(handler(req)).then(send, fail);
    } catch (err) {
      fail(err);
    }
  });
}

/** `Access-Control-Allow-Origin` for an allowed origin, and `Vary: Origin` where the answer depends on it. */
export function corsHeaders(res: HttpResponse, allowed: Origins, origin: string | undefined): void {
  if (allowed.length === 0) return;
  if (allowed[0] !== '*') res.writeHeader('vary', 'Origin');
  const allow = allowOrigin(allowed, origin);
  if (allow !== undefined) res.writeHeader('access-control-allow-origin', allow);
}

/**
 * Answers a browser's preflight (`OPTIONS`) for a browser-facing route: 204 with the method,
 * the allowed headers and how long to cache it for an allowed origin; 403 otherwise (the
 * browser then refuses the request itself).
 */
export function preflight(
  app: TemplatedApp,
  method: string,
  pattern: string,
  cors: (q: URLSearchParams) => Origins,
  allowedHeaders: readonly string[] = CORS_ALLOWED_HEADERS,
): void {
  app.options(pattern, (res: HttpResponse, r: HttpRequest) => {
    const allowed = cors(new URLSearchParams(r.getQuery() ?? ''));
    const origin = r.getHeader('origin');
    const allow = allowOrigin(allowed, origin);
    const asked = r.getHeader('access-control-request-headers').toLowerCase().split(',').map((h) => h.trim()).filter((h) => h !== '');
    res.cork(() => {
      if (allow === undefined) {
        res.writeStatus(statusLine(403));
        corsHeaders(res, allowed, origin);
        res.writeHeader('content-type', 'application/json');
        res.end(JSON.stringify({ code: 'permission_denied', message: origin === '' ? 'a preflight needs an Origin header' : `origin ${origin} may not call this endpoint (--cors-origins)` }));
        return;
      }
      res.writeStatus(statusLine(204));
      corsHeaders(res, allowed, origin);
      res.writeHeader('access-control-allow-methods', `${method.toUpperCase()}, OPTIONS`);
      res.writeHeader('access-control-allow-headers', asked.filter((h) => allowedHeaders.includes(h)).join(', ') || allowedHeaders.join(', '));
      res.writeHeader('access-control-max-age', String(CORS_MAX_AGE_SECONDS));
      res.end();
    });
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Reads `Authorization: Bearer …`, or '' when absent. */
export const bearerOf = (req: Req): string => {
  const h = req.headers.get('authorization') ?? '';
  return h.startsWith('Bearer ') ? h.slice(7).trim() : '';
};
