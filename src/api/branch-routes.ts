import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { timed } from '../util/index.js';
import { PgbranchError } from '../errors.js';
import { authorize, canAccessBranch, rulesSha256, tokenActor, type Access, type BranchService, type CreateOrigin, type CreateRequest, type Principal } from '../branches/index.js';
import { branchRef, requireRole, snapshotRef, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { fromApiCreateBody, toApiBranch, toApiConnection, toApiMaskCheck } from '../client/index.js';
import { jsonContent, out, problems } from './route-support.js';
import {
  BranchListSchema,
  BranchParams,
  BranchSchema,
  ConnectionSchema,
  CreateBranchBody,
  CreatedBranchSchema,
  ListBranchesQuery,
  MaskCheckBody,
  MaskCheckSchema,
  ResetBranchBody,
  UpdateBranchBody,
} from './schemas.js';

const tags = ['branches'];
const BRANCH = '/v1/branches/{name}';

const listBranches = createRoute({
  method: 'get',
  path: '/v1/branches',
  operationId: 'listBranches',
  tags,
  summary: 'List the branches the token may act on',
  middleware: requireRole('read'),
  request: { query: ListBranchesQuery },
  responses: { 200: jsonContent(BranchListSchema, 'branches, oldest first'), ...problems(400, 401, 403) },
});

const createBranch = createRoute({
  method: 'post',
  path: '/v1/branches',
  operationId: 'createBranch',
  tags,
  summary: 'Create a branch from a parent (copy-on-write), or a root branch from a source',
  description:
    'The token must be allowed the new name; the parent may be any branch. With if_not_exists an existing branch of the same ' +
    'name and origin is returned with 200 and created: false. A dump or URL source needs an admin token (the host reads its own ' +
    'files or connects out), and so does mask (the rules decide what masked-only tokens read).',
  middleware: requireRole('write'),
  request: { body: { required: true, content: { 'application/json': { schema: CreateBranchBody } } } },
  responses: {
    201: jsonContent(CreatedBranchSchema, 'created'),
    200: jsonContent(CreatedBranchSchema, 'already there (if_not_exists)'),
    ...problems(400, 401, 403, 404, 409, 422, 507),
  },
});

const getBranch = createRoute({
  method: 'get',
  path: BRANCH,
  operationId: 'getBranch',
  tags,
  summary: 'One branch',
  middleware: requireRole('read'),
  request: { params: BranchParams },
  responses: { 200: jsonContent(BranchSchema, 'the branch'), ...problems(400, 401, 403, 404) },
});

const updateBranch = createRoute({
  method: 'patch',
  path: BRANCH,
  operationId: 'updateBranch',
  tags,
  summary: 'Change per-branch settings (idle timeout, protection, expiry, size cap)',
  description:
    'Protecting needs a write token; unprotecting and changing max_own_bytes need an admin token (protection and caps guard against ' +
    'automation mistakes and runaway tests).',
  middleware: requireRole('write'),
  request: { params: BranchParams, body: { required: true, content: { 'application/json': { schema: UpdateBranchBody } } } },
  responses: { 200: jsonContent(BranchSchema, 'the changed branch'), ...problems(400, 401, 403, 404, 422) },
});

const deleteBranch = createRoute({
  method: 'delete',
  path: BRANCH,
  operationId: 'deleteBranch',
  tags,
  summary: 'Stop the branch and remove its data (its children keep working); refused for a protected branch',
  middleware: requireRole('write'),
  request: { params: BranchParams },
  responses: { 204: { description: 'deleted' }, ...problems(400, 401, 403, 404, 409) },
});

function branchAction(action: 'start' | 'stop' | 'suspend', operationId: string, summary: string) {
  return createRoute({
    method: 'post',
    path: `${BRANCH}/${action}`,
    operationId,
    tags,
    summary,
    middleware: requireRole('write'),
    request: { params: BranchParams },
    responses: { 200: jsonContent(BranchSchema, 'the branch afterwards'), ...problems(400, 401, 403, 404, 409) },
  });
}

const resetBranch = createRoute({
  method: 'post',
  path: `${BRANCH}/reset`,
  operationId: 'resetBranch',
  tags,
  summary: "Replace the branch's data with its parent's current state (name, port, password and URL stay)",
  description:
    'With mask (masking rules text), the new data is checked and masked before the branch accepts connections again, and the branch is ' +
    'marked masked with these rules (allowed while protected; rules other than the branch\'s own need an admin token). Without mask, a ' +
    'masked branch made with mask re-masks with the rules it keeps; other masked branches whose parent is not masked are refused (BRANCH_MASKED).',
  middleware: requireRole('write'),
  request: { params: BranchParams, body: { required: false, content: { 'application/json': { schema: ResetBranchBody } } } },
  responses: { 200: jsonContent(BranchSchema, 'the branch afterwards'), ...problems(400, 401, 403, 404, 409, 422) },
});
const startBranch = branchAction('start', 'startBranch', 'Start the branch instance');
const stopBranch = branchAction('stop', 'stopBranch', 'Stop the branch instance (data is kept; connections are refused until started)');
const suspendBranch = branchAction('suspend', 'suspendBranch', 'Suspend the branch now (the next endpoint connection wakes it)');

const rotatePassword = createRoute({
  method: 'post',
  path: `${BRANCH}/rotate-password`,
  operationId: 'rotatePassword',
  tags,
  summary: 'Give the branch a new password; returns the new connection details',
  middleware: requireRole('write'),
  request: { params: BranchParams },
  responses: { 200: jsonContent(ConnectionSchema, 'connection details with the new password'), ...problems(400, 401, 403, 404, 409) },
});

const getConnection = createRoute({
  method: 'get',
  path: `${BRANCH}/connection`,
  operationId: 'getConnection',
  tags,
  summary: 'Connection details: endpoint URL (DATABASE_URL) and direct URL (DATABASE_URL_UNPOOLED); starts the branch if it is stopped',
  middleware: requireRole('read'),
  request: { params: BranchParams },
  responses: { 200: jsonContent(ConnectionSchema, 'connection details'), ...problems(400, 401, 403, 404) },
});

const maskCheck = createRoute({
  method: 'post',
  path: `${BRANCH}/mask-check`,
  operationId: 'maskCheck',
  tags,
  summary: 'Check masking rules against a branch: every personal-looking column must have a rule or an explicit keep',
  description:
    'Fail-closed check (starts the branch if it is stopped): 200 when covered; 422 MASK_UNCOVERED_COLUMNS naming the columns (`columns`), ' +
    'or 422 MASK_RULES_INVALID with every problem at file:line:column (`problems`).',
  middleware: requireRole('read'),
  request: { params: BranchParams, body: { required: true, content: { 'application/json': { schema: MaskCheckBody } } } },
  responses: { 200: jsonContent(MaskCheckSchema, 'every personal-looking column is covered'), ...problems(400, 401, 403, 404, 422) },
});

/**
 * A masked-only token creates branches only from a masked parent or a masked snapshot (a masked
 * create from anything else would need the token to read unmasked data); the new name must match
 * its patterns.
 */
async function authorizeCreate(principal: Principal, host: BranchService, name: string, request: CreateRequest): Promise<void> {
  authorize(principal, request.mask ? 'admin' : accessFor(request.origin), principal.maskedOnly ? { name, masked: true } : name);
  if (!principal.maskedOnly) return;
  const { origin } = request;
  const from =
    origin.kind === 'parent'
      ? await branchRef(principal, host, origin.parent)
      : origin.kind === 'snapshot'
        ? await host.getSnapshot(origin.snapshot).then(snapshotRef, () => undefined)
        : undefined;
  if (!from || typeof from === 'string' || !from.masked) {
    const what = origin.kind === 'parent' || origin.kind === 'snapshot' ? `from ${origin.kind} "${origin.kind === 'parent' ? origin.parent : origin.snapshot}", which is not masked` : `from a ${origin.kind}`;
    throw new PgbranchError('PERMISSION_DENIED', `token "${principal.name}" is masked-only: it creates branches from masked branches and their snapshots only, not ${what}`, {
      details: { maskedOnly: true, origin: origin.kind },
    });
  }
}

/**
 * Masking rules decide what masked-only tokens may read (an explicit `keep` passes the check), so
 * giving a branch rules is the admin's: a masked create, or a reset with rules other than the
 * branch's own. Re-masking with the same rules (or with none: the kept ones) is a write.
 */
async function maskAccess(host: BranchService, name: string, rules: string | undefined): Promise<Access> {
  if (rules === undefined) return 'write';
  const current = (await host.getBranch(name, { withUsage: false }).catch(() => undefined))?.masked?.rulesSha256;
  return current !== undefined && current === rulesSha256(rules) ? 'write' : 'admin';
}

/** Importing from a file or a server makes the host read its own files or connect out: admin only. */
function accessFor(origin: CreateOrigin): Access {
  return origin.kind === 'source' && origin.source.kind !== 'empty' ? 'admin' : 'write';
}

export function registerBranchRoutes(app: OpenAPIHono<ApiEnv>, apiHost: ApiHost): void {
  // Every call goes through a per-request view of the host that names the token in the audit log.
  const as = (c: Context<ApiEnv>): BranchService => apiHost.as(tokenActor(c.get('principal')));

  app.openapi(listBranches, async (c) => {
    const principal = c.get('principal');
    const { with_usage } = c.req.valid('query');
    // Sizes as last measured: never-measured volumes are measured in the background, not in this call.
    const branches = await as(c).listBranches({ withUsage: with_usage !== 'false', measureMissing: 0 });
    const visible = branches.filter((b) => canAccessBranch(principal, { name: b.name, masked: b.masked !== null })).map(toApiBranch);
    return c.json(out(BranchListSchema, { branches: visible }), 200);
  });

  app.openapi(createBranch, async (c) => {
    const { name, request } = fromApiCreateBody(c.req.valid('json'));
    await authorizeCreate(c.get('principal'), as(c), name, request);
    const result = await timed('host', () => as(c).createBranch(name, request));
    const payload = out(CreatedBranchSchema, { ...toApiBranch(result.branch), created: result.created });
    return result.created ? c.json(payload, 201) : c.json(payload, 200);
  });

  app.openapi(getBranch, async (c) => {
    const { name } = c.req.valid('param');
    authorize(c.get('principal'), 'read', await branchRef(c.get('principal'), as(c), name));
    return c.json(out(BranchSchema, toApiBranch(await as(c).getBranch(name))), 200);
  });

  app.openapi(updateBranch, async (c) => {
    const { name } = c.req.valid('param');
    const body = c.req.valid('json');
    // Unprotecting and changing a size cap are the admin's: a write token could otherwise lift
    // the very limits set to contain it.
    authorize(c.get('principal'), body.protected === false || body.max_own_bytes !== undefined ? 'admin' : 'write', await branchRef(c.get('principal'), as(c), name));
    const view = await as(c).updateBranch(name, {
      idleTimeoutMs: body.idle_timeout_ms,
      protected: body.protected,
      ttlMs: body.ttl_ms,
      expiresAt: body.expires_at,
      maxOwnBytes: body.max_own_bytes,
    });
    return c.json(out(BranchSchema, toApiBranch(view)), 200);
  });

  app.openapi(deleteBranch, async (c) => {
    const { name } = c.req.valid('param');
    authorize(c.get('principal'), 'write', await branchRef(c.get('principal'), as(c), name));
    await as(c).deleteBranch(name);
    return c.body(null, 204);
  });

  app.openapi(resetBranch, async (c) => {
    const { name } = c.req.valid('param');
    const body = (c.req.header('content-type') ? c.req.valid('json') : undefined) ?? {};
    authorize(c.get('principal'), await maskAccess(as(c), name, body.mask), await branchRef(c.get('principal'), as(c), name));
    const mask = body.mask !== undefined ? { rules: body.mask, ...(body.mask_file !== undefined ? { file: body.mask_file } : {}) } : undefined;
    return c.json(out(BranchSchema, toApiBranch(await as(c).resetBranch(name, mask ? { mask } : {}))), 200);
  });

  const actions = [
    [startBranch, (host: BranchService, name: string) => host.startBranch(name)],
    [stopBranch, (host: BranchService, name: string) => host.stopBranch(name)],
    [suspendBranch, (host: BranchService, name: string) => host.suspendBranch(name)],
  ] as const;
  for (const [route, run] of actions) {
    app.openapi(route, async (c) => {
      const { name } = c.req.valid('param');
      authorize(c.get('principal'), 'write', await branchRef(c.get('principal'), as(c), name));
      return c.json(out(BranchSchema, toApiBranch(await run(as(c), name))), 200);
    });
  }

  app.openapi(rotatePassword, async (c) => {
    const { name } = c.req.valid('param');
    authorize(c.get('principal'), 'write', await branchRef(c.get('principal'), as(c), name));
    return c.json(out(ConnectionSchema, toApiConnection(await as(c).rotatePassword(name))), 200);
  });

  app.openapi(getConnection, async (c) => {
    const { name } = c.req.valid('param');
    authorize(c.get('principal'), 'read', await branchRef(c.get('principal'), as(c), name));
    return c.json(out(ConnectionSchema, toApiConnection(await as(c).connectionInfo(name))), 200);
  });

  app.openapi(maskCheck, async (c) => {
    const { name } = c.req.valid('param');
    const body = c.req.valid('json');
    authorize(c.get('principal'), 'read', await branchRef(c.get('principal'), as(c), name));
    const view = await as(c).maskCheck(name, { rules: body.rules, ...(body.file !== undefined ? { file: body.file } : {}) });
    return c.json(out(MaskCheckSchema, toApiMaskCheck(view)), 200);
  });
}
