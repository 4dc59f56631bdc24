import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { authorize, tokenActor, type RebaseReport } from '../branches/index.js';
import { isPgbranchError, PgbranchError } from '../errors.js';
import { fromApiRebaseBody, toApiRebase } from '../client/index.js';
import { branchRef, requireRole, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { RebaseBody, RebaseReportSchema } from './rebase-schemas.js';
import { BranchParams } from './schemas.js';
import { jsonContent, out, problems } from './route-support.js';

const rebaseRoute = createRoute({
  method: 'post',
  path: '/v1/branches/{name}/rebase',
  operationId: 'rebaseBranch',
  tags: ['branches'],
  summary: "Move the branch onto its parent's current state (or a snapshot of it), replaying its own changes; report conflicts",
  description:
    'Conflicts leave the branch unchanged (409 REBASE_CONFLICT, the report in the problem\'s details) unless `prefer` settles them. ' +
    '`dry_run` reports without changing anything; `undo` returns to the state before the last rebase (409 REBASE_UNDO_UNAVAILABLE without one).',
  middleware: requireRole('write'),
  request: { params: BranchParams, body: { content: { 'application/json': { schema: RebaseBody } }, required: false } },
  responses: { 200: jsonContent(RebaseReportSchema, 'what was (or, dry run, would be) replayed'), ...problems(400, 401, 403, 404, 409) },
});

export function registerRebaseRoutes(app: OpenAPIHono<ApiEnv>, apiHost: ApiHost): void {
  app.openapi(rebaseRoute, async (c) => {
    const { name } = c.req.valid('param');
    const principal = c.get('principal');
    const host = apiHost.as(tokenActor(principal));
    authorize(principal, 'write', await branchRef(principal, host, name));
    const body = (c.req.valid('json') as unknown as Parameters<typeof fromApiRebaseBody>[0] | undefined) ?? {};
    const request = fromApiRebaseBody(body);
    // Like a create, a rebase may read its parent (or `onto`, a snapshot of it) whatever the token's
    // patterns; a masked-only token, only masked data (the domain refuses unmasked data into a
    // masked branch too: this says so before any work).
    if (request.onto !== undefined && principal.maskedOnly) {
      const onto = await host.getSnapshot(request.onto).catch(() => undefined);
      if (!onto?.masked) {
        throw new PgbranchError('PERMISSION_DENIED', `token "${principal.name}" is masked-only: it rebases onto masked snapshots only, not "${request.onto}"`, {
          details: { maskedOnly: true, onto: request.onto },
        });
      }
    }
    try {
      const report = await host.rebaseBranch(name, request);
      return c.json(out(RebaseReportSchema, toApiRebase(report)), 200);
    } catch (err) {
      // The report in the problem speaks the wire format, like a 200 answer.
      if (isPgbranchError(err, 'REBASE_CONFLICT') && err.details?.report) {
        throw new PgbranchError(err.code, err.message, { cause: err, details: { report: toApiRebase(err.details.report as RebaseReport) } });
      }
      throw err;
    }
  });
}
