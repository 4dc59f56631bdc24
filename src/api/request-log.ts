import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { ApiEnv } from './auth.js';

/**
 * One line per request: method, path, status, duration and the token's id. Never the token,
 * headers, query strings or bodies (a create body may hold a source URL with a password).
 */
export function requestLog(logger: Logger): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const startedAt = performance.now();
    await next();
    const status = c.res.status;
    const principal = c.get('principal') as ApiEnv['Variables']['principal'] | undefined;
    const line = {
      method: c.req.method,
      path: c.req.path,
      status,
      durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
      tokenId: principal?.tokenId ?? null,
    };
    if (status >= 500) logger.error(line, 'api request failed');
    else logger.info(line, 'api request');
  };
}
