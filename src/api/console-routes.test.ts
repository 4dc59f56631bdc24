import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { ApiEnv } from './auth.js';
import { CONSOLE_CSP, CONSOLE_DIR, registerConsoleRoutes } from './console-routes.js';

describe('console routes: the page and its assets, and nothing else from disk', () => {
  if (!existsSync(join(CONSOLE_DIR, 'index.html'))) throw new Error(`${CONSOLE_DIR} is missing: run \`npm run build\` (npm test does)`);
  const app = new Hono<ApiEnv>();
  registerConsoleRoutes(app);
  const assets = readdirSync(CONSOLE_DIR);
  const script = assets.find((f) => f.endsWith('.js'))!;

  it('serves the page with the CSP and no caching, and assets by content-hashed name for good', async () => {
    const page = await app.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    expect(html).toContain(`/console/${script}`);
    // No inline script or style for the CSP to refuse.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=/);

    const js = await app.request(`/console/${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers 404 for anything that is not a console file, however the name is spelled', async () => {
    for (const path of ['/console/nope.js', '/console/..%2F..%2Fpackage.json', '/console/.hidden.js', '/console/%2e%2e%2fpackage.json', '/console/app.exe', '/console/']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(404);
    }
  });
});
