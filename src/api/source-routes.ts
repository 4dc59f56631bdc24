import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { authorize, tokenActor, type BranchService } from '../branches/index.js';
import { fromApiSourceChange, toApiRefreshedRoot, toApiSource } from '../client/index.js';
import { requireRole, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { jsonContent, out, problems } from './route-support.js';
import { BranchParams, RefreshedRootSchema, SourceSchema, UpdateSourceBody } from './schemas.js';

const tags = ['sources'];
const SOURCE = '/v1/branches/{name}/source';

const getSource = createRoute({
  method: 'get',
  path: SOURCE,
  operationId: 'getSource',
  tags,
  summary: "How a root keeps up with its source: replication state, lag and history window (follow), or generations and schedule (refresh)",
  middleware: requireRole('read'),
  request: { params: BranchParams },
  responses: { 200: jsonContent(SourceSchema, 'the source'), ...problems(400, 401, 403, 404, 409) },
});

const refreshSource = createRoute({
  method: 'post',
  path: `${SOURCE}/refresh`,
  operationId: 'refreshSource',
  tags,
  summary: 'Import the source of a --from-url root again and switch the root to it atomically (same URL; branches made before keep their data)',
  description:
    'Needs an admin token: the host connects out to the source. Runs the after-refresh hooks on the new generation first; then every masked branch made from this root ' +
    'with mask is re-masked from the new data with its rules (one that fails keeps its old masked data: see remasked).',
  middleware: requireRole('admin'),
  request: { params: BranchParams },
  responses: { 200: jsonContent(RefreshedRootSchema, 'the root, on its new generation, and what happened to its masked branches'), ...problems(400, 401, 403, 404, 409, 422) },
});

const updateSource = createRoute({
  method: 'patch',
  path: SOURCE,
  operationId: 'updateSource',
  tags,
  summary: 'Change the history window and snapshot interval (follow) or the refresh schedule and after-refresh hooks (refresh)',
  description: 'Needs an admin token: hooks run shell commands on the host.',
  middleware: requireRole('admin'),
  request: { params: BranchParams, body: { required: true, content: { 'application/json': { schema: UpdateSourceBody } } } },
  responses: { 200: jsonContent(SourceSchema, 'the source afterwards'), ...problems(400, 401, 403, 404, 409) },
});

export function registerSourceRoutes(app: OpenAPIHono<ApiEnv>, apiHost: ApiHost): void {
  const as = (c: Context<ApiEnv>): BranchService => apiHost.as(tokenActor(c.get('principal')));

  app.openapi(getSource, async (c) => {
    const { name } = c.req.valid('param');
    authorize(c.get('principal'), 'read', name);
    return c.json(out(SourceSchema, toApiSource(await as(c).sourceStatus(name))), 200);
  });

  app.openapi(refreshSource, async (c) => {
    const { name } = c.req.valid('param');
    authorize(c.get('principal'), 'admin', name);
    return c.json(out(RefreshedRootSchema, toApiRefreshedRoot(await as(c).refreshSource(name))), 200);
  });

  app.openapi(updateSource, async (c) => {
    const { name } = c.req.valid('param');
    authorize(c.get('principal'), 'admin', name);
    return c.json(out(SourceSchema, toApiSource(await as(c).updateSource(name, fromApiSourceChange(c.req.valid('json'))))), 200);
  });
}
