import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { TokenInfo } from '../branches/index.js';
import { requireRole, type ApiEnv } from './auth.js';
import { jsonContent, out, problems } from './route-support.js';

/**
 * The calling token, without its secret. Clients (the web console) need its role and branch
 * patterns to offer only what the API would allow; GET /v1/tokens is admin-only, so this is the
 * one place a read or write token can learn them.
 */
const ROLES = ['read', 'write', 'admin'] as const satisfies readonly TokenInfo['role'][];

export const CallerTokenSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    branch_patterns: z.array(z.string()).openapi({ description: 'patterns the token may act on; empty = all branches' }),
    masked_only: z.boolean().openapi({ description: 'the token sees and operates masked branches only' }),
  })
  .openapi('CallerToken');

export type ApiCallerToken = z.infer<typeof CallerTokenSchema>;

const getCallerToken = createRoute({
  method: 'get',
  path: '/v1/token',
  operationId: 'getCallerToken',
  tags: ['tokens'],
  summary: 'The token making this request: id, name, role and branch patterns (never its secret); any role',
  middleware: requireRole('read'),
  responses: { 200: jsonContent(CallerTokenSchema, 'the calling token'), ...problems(401) },
});

export function registerWhoamiRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(getCallerToken, (c) => {
    const p = c.get('principal');
    return c.json(out(CallerTokenSchema, { id: p.tokenId, name: p.name, role: p.role, branch_patterns: [...p.branchPatterns], masked_only: p.maskedOnly }), 200);
  });
}
