import type { MiddlewareHandler } from 'hono';
import { authorize, type Access, type Principal } from '../branches/index.js';
import type { ApiHost } from './branch-service.js';

export interface ApiEnv {
  Variables: {
    /** Set on every request but the open ones (health). */
    principal: Principal;
  };
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Every request but the `open` ones ("GET /v1/health") must carry `Authorization: Bearer pgb_…`;
 * a missing, malformed, unknown or revoked token is UNAUTHENTICATED (401), whatever the path, so
 * that an anonymous caller learns nothing about routes or branches.
 */
export function authenticateRequests(host: Pick<ApiHost, 'authenticate'>, open: ReadonlySet<string>): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (open.has(`${c.req.method} ${c.req.path}`)) return next();
    const header = c.req.header('authorization');
    const token = header ? BEARER.exec(header)?.[1] : undefined;
    c.set('principal', host.authenticate(token));
    await next();
  };
}

/**
 * Route-level role check, run before the request is validated: a read token gets 403 for any
 * write, whatever its body. Branch patterns are checked by the handler once the name is valid.
 */
export function requireRole(access: Access): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    authorize(c.get('principal'), access);
    await next();
  };
}
