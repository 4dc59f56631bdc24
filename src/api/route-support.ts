import type { z } from '@hono/zod-openapi';
import { ERROR_CATALOGUE, PgbranchError, type ErrorCode } from '../errors.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';
import { ProblemSchema } from './schemas.js';

/** Name of the bearer-token security scheme in the OpenAPI document. */
export const BEARER_AUTH = 'bearerAuth';

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } } as const;
}

/** What each status means here; the codes that answer with it come from the error catalogue. */
const PROBLEM_MEANINGS = {
  400: 'invalid request',
  401: 'missing, invalid or revoked token',
  403: "the token's role or branch patterns do not allow this",
  404: 'not found',
  409: 'conflict with the current state',
  422: 'refused by a quota or limit, a post-create hook failed, or the request cannot be carried out as asked (e.g. the two sides of a diff hold different databases)',
  507: 'the pool is below its free-space floor',
  500: 'the operation failed',
  503: 'host busy or not available',
} as const;
type ProblemStatus = keyof typeof PROBLEM_MEANINGS;

export function problemDescription(status: ProblemStatus): string {
  const codes = (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).filter((code) => ERROR_CATALOGUE[code].httpStatus === status);
  return `${PROBLEM_MEANINGS[status]} (${codes.join(', ')})`;
}


type ProblemResponses<S extends ProblemStatus> = {
  [K in S]: { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } };
};

/** The error responses of a route; every route also answers 500 and 503. */
export function problems<S extends ProblemStatus>(...statuses: S[]): ProblemResponses<S | 500 | 503> {
  const all = [...new Set<ProblemStatus>([...statuses, 500, 503])];
  return Object.fromEntries(
    all.map((status) => [status, { description: problemDescription(status), content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } }]),
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
