import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { requireRole, type ApiEnv } from './auth.js';
import type { ApiHost } from './branch-service.js';
import { toApiHostStatus } from '../client/index.js';
import { jsonContent, out, problems } from './route-support.js';
import { HealthSchema, HostStatusSchema } from './schemas.js';

export const HEALTH_PATH = '/v1/health';

const health = createRoute({
  method: 'get',
  path: HEALTH_PATH,
  operationId: 'health',
  tags: ['meta'],
  summary: 'Liveness; the only endpoint that needs no token',
  security: [],
  responses: { 200: jsonContent(HealthSchema, 'the server answers') },
});

const hostStatus = createRoute({
  method: 'get',
  path: '/v1/host',
  operationId: 'getHostStatus',
  tags: ['host'],
  summary: 'The host: pool, driver, PostgreSQL, number of branches',
  middleware: requireRole('read'),
  responses: { 200: jsonContent(HostStatusSchema, 'host status'), ...problems(401, 403) },
});

export function registerHostRoutes(app: OpenAPIHono<ApiEnv>, host: ApiHost): void {
  app.openapi(health, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(hostStatus, async (c) => c.json(out(HostStatusSchema, toApiHostStatus(await host.status())), 200));
}
