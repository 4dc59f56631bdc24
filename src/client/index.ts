/**
 * The remote client: the same `BranchService` as an in-process `Host`, over the REST API, and the
 * mappers between the domain's views and the API's wire shapes (shared with the API routes, so
 * each shape is written once). It imports nothing of the server at run time, so the CLI's remote
 * mode and the GitHub Action bundle stay small.
 */
export { createApiClient, type ApiClient, type ApiClientOptions } from './client.js';
export * from './mapping.js';
export { PROBLEM_CONTENT_TYPE } from './media-types.js';
