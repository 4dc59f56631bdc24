import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { authorize, canAccessBranch, tokenActor, type BranchService } from '../branches/index.js';
import { branchRef, requireRole, snapshotRef, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { toApiSnapshot } from '../client/index.js';
import { jsonContent, out, problems } from './route-support.js';
import { CreateSnapshotBody, SnapshotListSchema, SnapshotParams, SnapshotSchema } from './schemas.js';

const tags = ['snapshots'];
const SNAPSHOT = '/v1/snapshots/{name}';

const createSnapshot = createRoute({
  method: 'post',
  path: '/v1/snapshots',
  operationId: 'createSnapshot',
  tags,
  summary: 'Take a named, immutable snapshot of a branch (branches can then be created from it)',
  description: 'Needs write access to the branch.',
  middleware: requireRole('write'),
  request: { body: { required: true, content: { 'application/json': { schema: CreateSnapshotBody } } } },
  responses: { 201: jsonContent(SnapshotSchema, 'created'), ...problems(400, 401, 403, 404, 409, 507) },
});

const listSnapshots = createRoute({
  method: 'get',
  path: '/v1/snapshots',
  operationId: 'listSnapshots',
  tags,
  summary: "Snapshots of branches the token's patterns allow, oldest first",
  middleware: requireRole('read'),
  responses: { 200: jsonContent(SnapshotListSchema, 'snapshots'), ...problems(401, 403) },
});

const getSnapshot = createRoute({
  method: 'get',
  path: SNAPSHOT,
  operationId: 'getSnapshot',
  tags,
  summary: 'One snapshot',
  middleware: requireRole('read'),
  request: { params: SnapshotParams },
  responses: { 200: jsonContent(SnapshotSchema, 'the snapshot'), ...problems(400, 401, 403, 404) },
});

const deleteSnapshot = createRoute({
  method: 'delete',
  path: SNAPSHOT,
  operationId: 'deleteSnapshot',
  tags,
  summary: 'Remove a snapshot (branches made from it keep working but cannot be reset any more)',
  description: 'Needs write access to the branch the snapshot was taken of.',
  middleware: requireRole('write'),
  request: { params: SnapshotParams },
  responses: { 204: { description: 'deleted' }, ...problems(400, 401, 403, 404) },
});

export function registerSnapshotRoutes(app: OpenAPIHono<ApiEnv>, apiHost: ApiHost): void {
  const as = (c: Context<ApiEnv>): BranchService => apiHost.as(tokenActor(c.get('principal')));

  app.openapi(createSnapshot, async (c) => {
    const body = c.req.valid('json');
    authorize(c.get('principal'), 'write', await branchRef(c.get('principal'), as(c), body.branch));
    return c.json(out(SnapshotSchema, toApiSnapshot(await as(c).createSnapshot(body.branch, body.name))), 201);
  });

  app.openapi(listSnapshots, async (c) => {
    const principal = c.get('principal');
    const visible = (await as(c).listSnapshots()).filter((s) => canAccessBranch(principal, snapshotRef(s))).map(toApiSnapshot);
    return c.json(out(SnapshotListSchema, { snapshots: visible }), 200);
  });

  app.openapi(getSnapshot, async (c) => {
    const { name } = c.req.valid('param');
    const snapshot = await as(c).getSnapshot(name);
    authorize(c.get('principal'), 'read', snapshotRef(snapshot));
    return c.json(out(SnapshotSchema, toApiSnapshot(snapshot)), 200);
  });

  app.openapi(deleteSnapshot, async (c) => {
    const { name } = c.req.valid('param');
    const snapshot = await as(c).getSnapshot(name);
    authorize(c.get('principal'), 'write', snapshotRef(snapshot));
    await as(c).deleteSnapshot(name);
    return c.body(null, 204);
  });
}
