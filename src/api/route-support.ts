import type { z } from '@hono/zod-openapi';
import { PgbranchError } from '../errors.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';
import { ProblemSchema } from './schemas.js';

/** Name of the bearer-token security scheme in the OpenAPI document. */
export const BEARER_AUTH = 'bearerAuth';

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

const PROBLEM_DESCRIPTIONS = {
  400: 'invalid request (INVALID_ARGUMENT, INVALID_BRANCH_NAME)',
  401: 'missing, invalid or revoked token (UNAUTHENTICATED)',
  403: "the token's role or branch patterns do not allow this (PERMISSION_DENIED)",
  404: 'not found (BRANCH_NOT_FOUND, PARENT_NOT_FOUND, TOKEN_NOT_FOUND)',
  409: 'conflict with the current state (BRANCH_EXISTS, BRANCH_PROTECTED, ROOT_BRANCH_RESET, BRANCH_STOPPED, PORT_IN_USE)',
  422: 'refused by a quota or limit (QUOTA_EXCEEDED, LIMIT_UNSUPPORTED) or a post-create hook failed (HOOK_FAILED)',
  507: 'the pool is below its free-space floor (POOL_FULL)',
  500: 'the operation failed (INTERNAL, STORAGE_*, POSTGRES_*, IMPORT_FAILED, …)',
  503: 'host busy or not available (HOST_BUSY, STORAGE_UNAVAILABLE, …)',
} as const;
type ProblemStatus = keyof typeof PROBLEM_DESCRIPTIONS;

type ProblemResponses<S extends ProblemStatus> = {
  [K in S]: { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } };
};

/** The error responses of a route; every route also answers 500 and 503. */
export function problems<S extends ProblemStatus>(...statuses: S[]): ProblemResponses<S | 500 | 503> {
  const all = [...new Set<ProblemStatus>([...statuses, 500, 503])];
  return Object.fromEntries(
    all.map((status) => [status, { description: PROBLEM_DESCRIPTIONS[status], content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } }]),
  ) as ProblemResponses<S | 500 | 503>;
}

/**
 * Validates a response body against its documented schema before it is sent: a mismatch is a
 * bug on our side and is reported as INTERNAL rather than handing the client something the
 * document does not describe.
 */
export function out<T extends z.ZodType>(schema: T, value: z.input<T>): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new PgbranchError('INTERNAL', `response does not match its schema: ${parsed.error.message}`, { cause: parsed.error });
  }
  return parsed.data;
}
