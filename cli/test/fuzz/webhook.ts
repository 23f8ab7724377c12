import type { TestContext } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO_BACKEND } from './seeds.js';

/** The WSaaS backend of the fuzz run: admits every client, takes every frame, echoes sentinels. */
export interface Webhook {
  readonly url: string;
  /** The `ws_uri` of the connection opened on `path` (path and query, as the POST names it). */
  wsUri(path: string): string | undefined;
  readonly calls: { post: number; put: number; delete: number; pushFailures: number };
  /** Calls that broke docs/dialects/wsaas.md's form (JSON with a `ws_uri`; `path` on POST, string `data` on PUT), first few. */
  readonly malformed: string[];
}

/** Text frames starting with this are pushed back to their client through the `ws_uri`. */
export const ECHO_PREFIX = 'sentinel:';

/**
 * A node:http backend for `/hook`: POST answers `{"code":"OK"}`, PUT and DELETE `{}`. A text
 * frame starting with ECHO_PREFIX is pushed back through the connection's `ws_uri` once its
 * PUT is answered, so the client learns that every frame before it reached the backend.
 */
export async function startWebhook(t: TestContext): Promise<Webhook> {
  const byPath = new Map<string, string>();
  const calls = { post: 0, put: 0, delete: 0, pushFailures: 0 };
  const malformed: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: { ws_uri?: unknown; path?: unknown; data?: unknown; binary?: unknown } = {};
      try {
        body = JSON.parse(raw);
      } catch {
        // reported as malformed below
      }
      const ok = typeof body.ws_uri === 'string' && (req.method !== 'POST' || typeof body.path === 'string') && (req.method !== 'PUT' || typeof body.data === 'string');
      if (!ok && malformed.length < 5) malformed.push(`${req.method} ${raw.slice(0, 300)}`);
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST') {
        calls.post++;
        if (typeof body.path === 'string' && typeof body.ws_uri === 'string') byPath.set(body.path, body.ws_uri);
        res.end('{"code":"OK"}');
        return;
      }
      res.end('{}');
      if (req.method === 'DELETE') {
        calls.delete++;
        return;
      }
      calls.put++;
      if (body.binary !== true && typeof body.ws_uri === 'string' && typeof body.data === 'string' && body.data.startsWith(ECHO_PREFIX)) {
        void push(body.ws_uri, body.data).then((ok) => {
          if (!ok) calls.pushFailures++;
        });
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/websocket`,
    wsUri: (path) => byPath.get(path),
    calls,
    malformed,
  };
}

/** PUT `text` to a connection; a 410 (the client is gone meanwhile) is not a failure. */
async function push(wsUri: string, text: string): Promise<boolean> {
  try {
    const res = await fetch(wsUri, {
      method: 'PUT',
      headers: { authorization: DEMO_BACKEND, 'content-type': 'text/plain' },
      body: text,
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    return res.status === 200 || res.status === 410;
  } catch {
    return false;
  }
}
