import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '@switchyard/shared';

/**
 * The admin page's static files (control-api/admin/), read once when the routes are mounted
 * and served from memory. The same relative URL reaches them from src/routes (tests, tsx) and
 * from dist/routes (the built package and the Docker image).
 */
export const ADMIN_DIR = new URL('../../admin/', import.meta.url);

/**
 * Every file of the page: no inline script or style, nothing from another origin. The page
 * lives at `/admin/` and names everything relative to it (`admin.js`, `api/overview`), so it
 * also works behind a proxy that serves Switchyard under a path prefix.
 */
const FILES: readonly { readonly path: string; readonly file: string; readonly type: string }[] = [
  { path: '/admin/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/admin/admin.js', file: 'admin.js', type: 'text/javascript; charset=utf-8' },
  { path: '/admin/admin.css', file: 'admin.css', type: 'text/css; charset=utf-8' },
  { path: '/admin/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
];

/**
 * Same-origin scripts, styles, images and fetches only; no framing (clickjacking), no
 * `<base>`, forms post nowhere else.
 */
export const ADMIN_CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HEADERS: readonly (readonly [string, string])[] = [
  ['content-security-policy', ADMIN_CSP],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  // Revalidated on every load (the ETag makes that a 304): a new version is seen at once.
  ['cache-control', 'no-cache'],
];

/** Serves the page's files under `/admin/` (no secret in them: the page asks for the admin token). */
export function mountAdminPage(app: TemplatedApp, log: Logger): void {
  // Relative, so that a path prefix added by a proxy is kept.
  app.get('/admin', (res: HttpResponse) => {
    res.cork(() => {
      res.writeStatus('302 Found').writeHeader('location', 'admin/');
      for (const [k, v] of HEADERS) res.writeHeader(k, v);
      res.endWithoutBody(0);
    });
  });
  for (const f of FILES) {
    let body: Buffer | undefined;
    try {
      body = readFileSync(new URL(f.file, ADMIN_DIR));
    } catch (err) {
      log.error({ err, file: new URL(f.file, ADMIN_DIR).pathname }, 'an admin page file is missing from this installation; /admin will answer 500');
    }
    const etag = body === undefined ? '' : `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    app.get(f.path, (res: HttpResponse, req: HttpRequest) => {
      const fresh = body !== undefined && req.getHeader('if-none-match') === etag;
      res.cork(() => {
        if (body === undefined) {
          res.writeStatus('500 Internal Server Error').writeHeader('content-type', 'application/json');
          res.end(JSON.stringify({ code: 'internal', message: `the admin page file ${f.file} is missing from this installation (control-api/admin)` }));
          return;
        }
        res.writeStatus(fresh ? '304 Not Modified' : '200 OK');
        for (const [k, v] of HEADERS) res.writeHeader(k, v);
        res.writeHeader('etag', etag);
        if (fresh) {
          res.endWithoutBody();
          return;
        }
        res.writeHeader('content-type', f.type);
        res.end(body);
      });
    });
  }
}
