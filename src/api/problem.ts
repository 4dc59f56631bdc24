import type { z } from '@hono/zod-openapi';
import { ERROR_CATALOGUE, PgbranchError, type ErrorCode } from '../errors.js';
import { PROBLEM_CONTENT_TYPE } from '../client/index.js';
import { BRANCH_NAME_ISSUE, type ApiProblem } from './schemas.js';

export { PROBLEM_CONTENT_TYPE };

/** `BRANCH_NOT_FOUND` → https://pgbranch.dev/errors/branch-not-found */
export function problemType(code: ErrorCode): string {
  return `https://pgbranch.dev/errors/${code.toLowerCase().replaceAll('_', '-')}`;
}

/** Problem members the error's details may not overwrite. */
const RESERVED = new Set(['type', 'title', 'status', 'detail', 'code', 'instance']);

export function problemFromError(err: PgbranchError, status: number = err.spec.httpStatus): ApiProblem {
  // An INTERNAL error's message is whatever some library said: it stays in the server log.
  const internal = err.code === 'INTERNAL';
  const extra = internal ? {} : Object.fromEntries(Object.entries(err.details ?? {}).filter(([key]) => !RESERVED.has(key)));
  return {
    ...extra,
    type: problemType(err.code),
    title: err.spec.title,
    status,
    detail: internal ? 'internal error; the server log has the details' : err.message,
    code: err.code,
  };
}

export function problemResponse(problem: ApiProblem): Response {
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE };
  if (problem.status === 401) headers['www-authenticate'] = 'Bearer realm="pgbranch"';
  return new Response(JSON.stringify(problem), { status: problem.status, headers });
}

export type RequestPart = 'json' | 'param' | 'query' | 'header' | 'cookie' | 'form';
const PART_NAMES: Record<RequestPart, string> = { json: 'body', param: 'path', query: 'query', header: 'header', cookie: 'cookie', form: 'body' };

/**
 * A request that failed its schema: INVALID_BRANCH_NAME when every issue is a bad branch name
 * (what the CLI reports for the same input), INVALID_ARGUMENT otherwise.
 */
export function validationProblem(part: RequestPart, error: z.ZodError): ApiProblem {
  const where = PART_NAMES[part];
  const issues = error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    // One entry per unknown key, at the key, so a client sees which field to remove.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => ({ in: where, path: [...path, key].join('.'), message: 'unknown field' }));
    return [{ in: where, path: path.join('.'), message: issue.message }];
  });
  const allNames = error.issues.length > 0 && error.issues.every((i) => i.code === 'custom' && (i.params as { pgbranch?: string } | undefined)?.pgbranch === BRANCH_NAME_ISSUE);
  const code: ErrorCode = allNames ? 'INVALID_BRANCH_NAME' : 'INVALID_ARGUMENT';
  const detail = issues.map((i) => `${i.in}${i.path ? ` ${i.path}` : ''}: ${i.message}`).join('; ');
  return { type: problemType(code), title: ERROR_CATALOGUE[code].title, status: 400, detail, code, issues };
}

/** An error raised by the HTTP layer itself (malformed JSON, wrong media type, body too large). */
export function httpProblem(status: number, message: string): ApiProblem {
  const code: ErrorCode = status === 404 ? 'NOT_FOUND' : status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT';
  return problemFromError(new PgbranchError(code, message), status);
}
