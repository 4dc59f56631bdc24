/**
 * The REST API edge: a Hono app with an OpenAPI 3.1 document and a Node server for it. The remote
 * client (src/client) speaks it; its wire types are exported here.
 */
export { createApiApp, openApiDocument, OPENAPI_PATH, type ApiApp, type ApiAppOptions } from './app.js';
export { startApiServer, type ApiServer, type ApiServerOptions } from './server.js';
export { createApiClient, type ApiClient, type ApiClientOptions } from '../client/index.js';
export type * from './schemas.js';
export type { ApiDiff, ApiDiffQuery, ApiDiffSide } from './diff-schemas.js';
export type { ApiRebaseBody, ApiRebaseReport } from './rebase-schemas.js';
export type { ApiHost, BranchService } from './branch-service.js';
export { HEALTH_PATH } from './host-routes.js';
export { PROBLEM_CONTENT_TYPE, problemType } from './problem.js';
/** The wire format, for clients of the HTTP API that do not use `createApiClient` (the web console). */
export type { ApiAuditEntry, ApiBranch, ApiRefreshedRoot, ApiConnection, ApiHostStatus, ApiProblem, ApiSnapshot } from './schemas.js';
export { CONSOLE_CSP } from './console-routes.js';
export type { ApiCallerToken } from './whoami-routes.js';
