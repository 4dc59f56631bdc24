import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { canAccessBranch, tokenActor } from '../branches/index.js';
import { requireRole, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { toApiAuditEntry, toApiGcReport } from '../client/index.js';
import { jsonContent, out, problems } from './route-support.js';
import { AuditListSchema, AuditQuerySchema, GcBody, GcReportSchema } from './schemas.js';

const tags = ['governance'];
const DEFAULT_AUDIT_LIMIT = 100;

const listAudit = createRoute({
  method: 'get',
  path: '/v1/audit',
  operationId: 'listAudit',
  tags,
  summary: 'The audit log, newest first',
  description:
    'Every mutating call (who, what, target, when, result, duration). An admin token sees everything; other tokens see only ' +
    'entries about branches their patterns allow (token and host entries are admin only).',
  middleware: requireRole('read'),
  request: { query: AuditQuerySchema },
  responses: { 200: jsonContent(AuditListSchema, 'entries, newest first'), ...problems(400, 401, 403) },
});

const runGc = createRoute({
  method: 'post',
  path: '/v1/gc',
  operationId: 'runGc',
  tags,
  summary: 'Remove orphan volumes and instances, branches whose volume is gone, expired branches; suspend idle ones',
  middleware: requireRole('admin'),
  request: { body: { required: true, content: { 'application/json': { schema: GcBody } } } },
  responses: { 200: jsonContent(GcReportSchema, 'what was done (or would be, with dry_run)'), ...problems(400, 401, 403) },
});

export function registerGovernanceRoutes(app: OpenAPIHono<ApiEnv>, host: ApiHost): void {
  app.openapi(listAudit, async (c) => {
    const principal = c.get('principal');
    const query = c.req.valid('query');
    const limit = query.limit ?? DEFAULT_AUDIT_LIMIT;
    const admin = principal.role === 'admin';
    // A scoped token's view is filtered after the query, so the limit is applied afterwards too.
    const entries = await host.listAudit({ branch: query.branch, since: query.since, until: query.until, ...(admin ? { limit } : {}) });
    const visible = admin ? entries : entries.filter((e) => e.targetKind === 'branch' && canAccessBranch(principal, e.target)).slice(0, limit);
    return c.json(out(AuditListSchema, { entries: visible.map(toApiAuditEntry) }), 200);
  });

  app.openapi(runGc, async (c) => {
    const body = c.req.valid('json');
    const report = await host.as(tokenActor(c.get('principal'))).gc({ dryRun: body.dry_run });
    return c.json(out(GcReportSchema, toApiGcReport(report)), 200);
  });
}
