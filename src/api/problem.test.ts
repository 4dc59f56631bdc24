import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PgbranchError } from '../errors.js';
import { problemFromError, problemResponse, problemType, validationProblem } from './problem.js';
import { BranchName } from './schemas.js';

describe('problem+json', () => {
  it('names the type after the code', () => {
    expect(problemType('BRANCH_NOT_FOUND')).toBe('https://pgbranch.dev/errors/branch-not-found');
  });

  it('carries the catalogue status and title, the message and the details, which cannot overwrite members', () => {
    const err = new PgbranchError('BRANCH_EXISTS', 'branch "x" already exists', { details: { name: 'x', status: 200, code: 'NOPE' } });
    expect(problemFromError(err)).toEqual({
      type: 'https://pgbranch.dev/errors/branch-exists',
      title: 'Branch already exists',
      status: 409,
      detail: 'branch "x" already exists',
      code: 'BRANCH_EXISTS',
      name: 'x',
    });
  });

  it('keeps the text of an INTERNAL error out of the response', () => {
    const p = problemFromError(new PgbranchError('INTERNAL', 'ENOENT /var/lib/pgbranch/secret/path', { details: { path: '/x' } }));
    expect(JSON.stringify(p)).not.toContain('/var/lib');
    expect(p).toMatchObject({ status: 500, code: 'INTERNAL' });
  });

  it('answers with application/problem+json, and a Bearer challenge on 401', async () => {
    const res = problemResponse(problemFromError(new PgbranchError('UNAUTHENTICATED', 'missing or invalid API token')));
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('reports bad branch names as INVALID_BRANCH_NAME, anything else as INVALID_ARGUMENT', () => {
    const schema = z.strictObject({ name: BranchName, n: z.number().optional() });
    const onlyName = schema.safeParse({ name: 'Bad!' });
    expect(validationProblem('json', onlyName.error!)).toMatchObject({ code: 'INVALID_BRANCH_NAME', status: 400, issues: [{ in: 'body', path: 'name' }] });
    const mixed = schema.safeParse({ name: 'Bad!', n: 'x', extra: 1 });
    const p = validationProblem('json', mixed.error!);
    expect(p.code).toBe('INVALID_ARGUMENT');
    expect(p.issues).toContainEqual({ in: 'body', path: 'extra', message: 'unknown field' });
    expect(schema.safeParse({ name: 'feature/login' }).success).toBe(true);
    expect(schema.safeParse({ name: 'a/../b' }).success).toBe(false);
  });
});
