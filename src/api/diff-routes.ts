import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { authorize, parseDiffSide, tokenActor, type BranchService, type DiffSide } from '../branches/index.js';
import { isPgbranchError } from '../errors.js';
import { toApiDiff } from '../client/index.js';
import { branchRef, requireRole, snapshotRef, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { DiffParams, DiffQuery, DiffSchema } from './diff-schemas.js';
import { jsonContent, out, problems } from './route-support.js';

const diffRoute = createRoute({
  method: 'get',
  path: '/v1/branches/{name}/diff',
  operationId: 'diffBranch',
  tags: ['branches'],
  summary: 'What changed: the schema as migration SQL (applied to `against`, it gives {name}) and the data row by row',
  description:
    'Default `against`: the branch point of {name}, which reads only the blocks changed since (a cost that follows the change, not ' +
    'the size). Any other pair is compared whole. Needs read access to both sides (a snapshot: to the branch it was taken of). ' +
    'Sides of different databases are refused (DATABASE_MISMATCH); a branch without a kept branch point answers BRANCH_POINT_UNAVAILABLE.',
  middleware: requireRole('read'),
  request: { params: DiffParams, query: DiffQuery },
  responses: { 200: jsonContent(DiffSchema, 'the diff'), ...problems(400, 401, 403, 404, 409, 422) },
});

const flag = (value: 'true' | 'false' | undefined): boolean | undefined => (value === undefined ? undefined : value === 'true');

export function registerDiffRoutes(app: OpenAPIHono<ApiEnv>, apiHost: ApiHost): void {
  const as = (c: Context<ApiEnv>): BranchService => apiHost.as(tokenActor(c.get('principal')));

  /**
   * Read access to one side, and the side made explicit, so the host compares what was authorised:
   * a bare name is the branch when one exists, else the snapshot (authorised by its branch).
   */
  const authorised = async (c: Context<ApiEnv>, side: DiffSide): Promise<DiffSide> => {
    const principal = c.get('principal');
    const snapshotSide = async (name: string): Promise<DiffSide> => {
      authorize(principal, 'read', snapshotRef(await as(c).getSnapshot(name)));
      return { kind: 'snapshot', name };
    };
    switch (side.kind) {
      case 'branch':
        authorize(principal, 'read', await branchRef(principal, as(c), side.name));
        return side;
      case 'branch-point':
        // A branch point holds the branch's data as it was made: masked when the branch is.
        authorize(principal, 'read', await branchRef(principal, as(c), side.branch));
        return side;
      case 'snapshot':
        return snapshotSide(side.name);
      case 'name':
        try {
          await as(c).getBranch(side.name);
        } catch (err) {
          if (!isPgbranchError(err, 'BRANCH_NOT_FOUND')) throw err;
          return snapshotSide(side.name).catch((e: unknown) => {
            if (isPgbranchError(e, 'SNAPSHOT_NOT_FOUND')) throw err;
            throw e;
          });
        }
        authorize(principal, 'read', await branchRef(principal, as(c), side.name));
        return { kind: 'branch', name: side.name };
    }
  };

  app.openapi(diffRoute, async (c) => {
    const { name } = c.req.valid('param');
    const q = c.req.valid('query');
    const to = await authorised(c, parseDiffSide(name));
    const from = q.against === undefined ? undefined : await authorised(c, parseDiffSide(q.against));
    const view = await as(c).diff({
      to,
      ...(from ? { from } : {}),
      ...Object.fromEntries(
        (['schema', 'data', 'rows', 'verify', 'full'] as const).flatMap((k) => (q[k] === undefined ? [] : [[k, flag(q[k])]])),
      ),
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
    });
    return c.json(out(DiffSchema, toApiDiff(view)), 200);
  });
}
