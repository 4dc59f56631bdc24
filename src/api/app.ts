import { createRequire } from 'node:module';
import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import type { Logger } from 'pino';
import { PgbranchError } from '../errors.js';
import { log } from '../util/index.js';
import { authenticateRequests, type ApiEnv } from './auth.js';
import { limitBody } from './body-limit.js';
import { registerBranchRoutes } from './branch-routes.js';
import { registerConsoleRoutes } from './console-routes.js';
import { registerDiffRoutes } from './diff-routes.js';
import { registerRebaseRoutes } from './rebase-routes.js';
import type { ApiHost } from './branch-service.js';
import { HEALTH_PATH, registerHostRoutes } from './host-routes.js';
import { httpProblem, problemFromError, problemResponse, validationProblem } from './problem.js';
import { METRICS_PATH, type ApiMetrics } from './metrics.js';
import { requestLog } from './request-log.js';
import { serverTiming } from './server-timing.js';
import { BEARER_AUTH, jsonContent, problems } from './route-support.js';
import { OpenApiDocumentSchema } from './schemas.js';
import { registerGovernanceRoutes } from './governance-routes.js';
import { registerSnapshotRoutes } from './snapshot-routes.js';
import { registerSourceRoutes } from './source-routes.js';
import { registerTokenRoutes } from './token-routes.js';
import { registerWhoamiRoutes } from './whoami-routes.js';

export const OPENAPI_PATH = '/v1/openapi.json';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export interface ApiAppOptions {
  /** The host the API exposes (a `Host`, or anything with the same methods). */
  readonly host: ApiHost;
  /** Request and error log (default: the pgbranch logger on stderr). */
  readonly logger?: Logger;
  /** Largest request body accepted (default 64 KiB; bodies are small JSON objects). */
  readonly maxBodyBytes?: number;
  /** Prometheus metrics: counts requests and serves GET /metrics (the server passes one). */
  readonly metrics?: ApiMetrics;
}

export type ApiApp = OpenAPIHono<ApiEnv>;

/**
 * The REST API as a Hono app (`app.fetch` is a standard fetch handler). Edge only: it
 * authenticates, validates, calls the host and renders; the rules live in the domain.
 */
export function createApiApp(options: ApiAppOptions): ApiApp {
  const { host } = options;
  const logger = options.logger ?? log;
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      if (!result.success) return problemResponse(validationProblem(result.target, result.error));
      return undefined;
    },
  });

  app.use('*', requestLog(logger));
  app.use('*', serverTiming());
  if (options.metrics) app.use('*', options.metrics.middleware);
  // The console's page and assets hold no data and need no token: registered before authentication.
  registerConsoleRoutes(app);
  // The OpenAPI document describes routes, never data or secrets: tools (SDK generators, linters) fetch it without a token.
  app.use('*', authenticateRequests(host, new Set([`GET ${HEALTH_PATH}`, `HEAD ${HEALTH_PATH}`, `GET ${OPENAPI_PATH}`])));
  app.use('*', limitBody(options.maxBodyBytes ?? 64 * 1024));

  registerHostRoutes(app, host);
  registerBranchRoutes(app, host);
  registerSnapshotRoutes(app, host);
  registerDiffRoutes(app, host);
  registerRebaseRoutes(app, host);
  registerSourceRoutes(app, host);
  registerTokenRoutes(app, host);
  registerWhoamiRoutes(app);
  registerGovernanceRoutes(app, host);
  options.metrics?.register(app);

  app.openAPIRegistry.registerComponent('securitySchemes', BEARER_AUTH, {
    type: 'http',
    scheme: 'bearer',
    description: 'API token `pgb_<id>_<secret>` (`pgbranch token create`, or POST /v1/tokens with an admin token)',
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: OPENAPI_PATH,
    operationId: 'getOpenApiDocument',
    tags: ['meta'],
    summary: 'This document',
    description: 'Needs no token: the document holds no data and no secret.',
    security: [],
    responses: { 200: jsonContent(OpenApiDocumentSchema, 'OpenAPI 3.1 document') },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: METRICS_PATH,
    operationId: 'getMetrics',
    tags: ['meta'],
    summary: 'Prometheus metrics',
    description:
      'Prometheus text exposition: branch counts by state, operation latencies, per-branch own and shared bytes, pool usage, API requests by status. ' +
      'Needs a read token; per-branch series are limited to the branches the token may see. Served by `pgbranch serve`.',
    responses: {
      200: { description: 'Prometheus text format (version 0.0.4)', content: { 'text/plain': { schema: { type: 'string' } } } },
      ...problems(401, 403),
    },
  });
  app.doc31(OPENAPI_PATH, documentConfig());

  app.notFound((c) => problemResponse(httpProblem(404, `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
    // A client that hung up before its request was read (mid-body) is not a server failure: it is
    // counted apart (499, as nginx does) and logged quietly; nobody reads the answer anyway.
    if (c.req.raw.signal.aborted || (!(err instanceof PgbranchError) && isClientAbort(err))) {
      logger.debug({ method: c.req.method, path: c.req.path }, 'client closed the request');
      return new Response(null, { status: CLIENT_CLOSED_REQUEST });
    }
    if (err instanceof PgbranchError) {
      if (err.spec.httpStatus >= 500) logger.error({ code: err.code, err }, 'request failed');
      return problemResponse(problemFromError(err));
    }
    if (err instanceof HTTPException) return problemResponse(httpProblem(err.status, err.message));
    logger.error({ err }, 'unexpected error in the API');
    return problemResponse(problemFromError(new PgbranchError('INTERNAL', err.message, { cause: err })));
  });
  return app;
}

/** The document's top level (the paths come from the routes). */
function documentConfig() {
  return {
    openapi: '3.1.0',
    info: {
      title: 'pgbranch',
      version,
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Copy-on-write PostgreSQL branches. Errors are application/problem+json with a stable `code` (the same the CLI prints). ' +
        'Branch names containing "/" are percent-encoded in paths (feature%2Flogin).',
    },
    security: [{ [BEARER_AUTH]: [] }],
    tags: [
      { name: 'branches', description: 'create, inspect, connect to, reset and delete branches' },
      { name: 'snapshots', description: 'named, immutable points of branches to create branches from' },
      { name: 'tokens', description: 'API tokens (admin)' },
      { name: 'host', description: 'the host' },
      { name: 'governance', description: 'audit log and garbage collection' },
      { name: 'meta', description: 'health and this document' },
    ],
    servers: [
      {
        url: '{scheme}://{host}:{port}',
        description: 'a `pgbranch serve` host (default http://127.0.0.1:5480; `serve --api-host/--api-port`, config serve.api)',
        variables: {
          scheme: { default: 'http', enum: ['http', 'https'] },
          host: { default: '127.0.0.1' },
          port: { default: '5480' },
        },
      },
    ],
  };
}

/**
 * The OpenAPI document without a host or a server: what `npm run gen:client` turns into the light
 * client's types, and what its drift test compares with.
 */
export function openApiDocument(): ReturnType<ApiApp['getOpenAPI31Document']> {
  const app = createApiApp({ host: {} as ApiHost, logger: log, metrics: undefined });
  return app.getOpenAPI31Document(documentConfig());
}

/** nginx's "client closed request": not an HTTP status a client ever sees. */
export const CLIENT_CLOSED_REQUEST = 499;

/** What reading the body of a request whose client went away throws (undici / Node streams). */
function isClientAbort(err: unknown): boolean {
  const e = err as { name?: string; code?: string; cause?: { code?: string } };
  return e.name === 'AbortError' || e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.cause?.code === 'ECONNRESET' || /aborted|terminated/i.test(String((err as Error)?.message));
}
