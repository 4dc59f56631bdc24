import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';
import type { ApiEnv } from './auth.js';
import { httpProblem, problemResponse } from './problem.js';

/**
 * Where `npm run build` puts the web console (src/web/build.mjs). The same path from src/api
 * (tests) and dist/api (the installed CLI).
 */
export const CONSOLE_DIR = fileURLToPath(new URL('../../dist/web/console', import.meta.url));

/** Static assets live under this prefix; `/` is the page itself. */
export const CONSOLE_ASSET_PREFIX = '/console/';

/**
 * The console loads only its own script and stylesheet: no inline script or style, no other
 * origin, no frames, no form posts (the sign-in form must never be submitted as a navigation,
 * which would put the token in a request body or URL).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A plain file name: no directory part, no leading dot, so no way out of CONSOLE_DIR. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** esbuild's `[name]-[hash]` names never change content: cacheable for good. */
const HASHED = /-[A-Z0-9]{8}\.[a-z]+$/;

async function asset(name: string, cacheControl: string): Promise<Response> {
  const type = CONTENT_TYPES[extname(name)];
  if (!ASSET_NAME.test(name) || type === undefined) return problemResponse(httpProblem(404, `no console file ${name}`));
  let body: Buffer;
  try {
    body = await readFile(join(CONSOLE_DIR, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (name === 'index.html') return problemResponse(httpProblem(503, 'the web console is not built: run `npm run build`'));
    return problemResponse(httpProblem(404, `no console file ${name}`));
  }
  return new Response(new Uint8Array(body), { status: 200, headers: { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': cacheControl } });
}

/**
 * The web console: one page and its assets, served without a token (they hold no data; the page
 * asks for a token and sends it to /v1 as a Bearer header). Registered before authentication.
 */
export function registerConsoleRoutes(app: Hono<ApiEnv>): void {
  app.get('/', () => asset('index.html', 'no-cache'));
  app.get(`${CONSOLE_ASSET_PREFIX}:file`, (c) => {
    const file = c.req.param('file');
    return asset(file, HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'no-cache');
  });
}
