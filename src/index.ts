/**
 * `import … from 'pgbranch'`: the in-process host, the remote client and the server, for programs
 * that embed pgbranch rather than run its CLI. Only what is exported here is public.
 */
export { Host, type BranchService, type BranchView, type ConnectionInfo, type CreateRequest, type CreateOrigin, type HostStatus, type InitOptions, type OpenOptions, type SnapshotView, type TokenInfo } from './branches/index.js';
export { createApiClient, type ApiClient, type ApiClientOptions } from './client/index.js';
export { startServer, type RunningServer, type ServeOptions } from './serve/index.js';
export { ERROR_CATALOGUE, PgbranchError, isPgbranchError, type ErrorCode } from './errors.js';
