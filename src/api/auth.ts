import type { MiddlewareHandler } from 'hono';
import { authorize, type Access, type BranchRef, type BranchService, type Principal, type SnapshotView } from '../branches/index.js';
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
 * A branch as access checks see it: for a masked-only token, whether it is masked (an unknown
 * branch counts as not masked, so the answer is the same 403 whether or not it exists). Other
 * tokens need only the name.
 */
export async function branchRef(principal: Principal, host: Pick<BranchService, 'getBranch'>, name: string): Promise<BranchRef> {
  if (!principal.maskedOnly) return name;
  const view = await host.getBranch(name, { withUsage: false }).catch(() => undefined);
  return { name, masked: view?.masked != null };
}

/**
 * A snapshot as access checks see it: the branch it was taken of (its patterns), and whether the
 * snapshot itself holds masked data (its own mark, whatever its branch holds now).
 */
export function snapshotRef(snapshot: Pick<SnapshotView, 'branch' | 'masked'>): BranchRef {
  return { name: snapshot.branch, masked: snapshot.masked !== null };
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
