import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { tokenActor } from '../branches/index.js';
import { requireRole, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { toApiToken } from '../client/index.js';
import { jsonContent, out, problems } from './route-support.js';
import { CreateTokenBody, CreatedTokenSchema, TokenListSchema, TokenParams } from './schemas.js';

const tags = ['tokens'];

const listTokens = createRoute({
  method: 'get',
  path: '/v1/tokens',
  operationId: 'listTokens',
  tags,
  summary: 'List API tokens (never their secrets)',
  middleware: requireRole('admin'),
  responses: { 200: jsonContent(TokenListSchema, 'tokens, oldest first'), ...problems(401, 403) },
});

const createToken = createRoute({
  method: 'post',
  path: '/v1/tokens',
  operationId: 'createToken',
  tags,
  summary: 'Create an API token; the secret is in this response only (the host stores a hash)',
  middleware: requireRole('admin'),
  request: { body: { required: true, content: { 'application/json': { schema: CreateTokenBody } } } },
  responses: { 201: jsonContent(CreatedTokenSchema, 'the token, with its secret'), ...problems(400, 401, 403) },
});

const revokeToken = createRoute({
  method: 'delete',
  path: '/v1/tokens/{id}',
  operationId: 'revokeToken',
  tags,
  summary: 'Revoke an API token (it is refused from the next request on)',
  middleware: requireRole('admin'),
  request: { params: TokenParams },
  responses: { 204: { description: 'revoked' }, ...problems(400, 401, 403, 404) },
});

export function registerTokenRoutes(app: OpenAPIHono<ApiEnv>, host: ApiHost): void {
  app.openapi(listTokens, async (c) => {
    const tokens = (await host.listTokens()).map(toApiToken);
    return c.json(out(TokenListSchema, { tokens }), 200);
  });

  app.openapi(createToken, async (c) => {
    const body = c.req.valid('json');
    const { token, info } = await host.as(tokenActor(c.get('principal'))).createToken(
      { name: body.name, role: body.role, branchPatterns: body.branch_patterns, ...(body.masked_only !== undefined ? { maskedOnly: body.masked_only } : {}) },
      c.get('principal'),
    );
    return c.json(out(CreatedTokenSchema, { ...toApiToken(info), token }), 201);
  });

  app.openapi(revokeToken, async (c) => {
    await host.as(tokenActor(c.get('principal'))).revokeToken(c.req.valid('param').id);
    return c.body(null, 204);
  });
}
