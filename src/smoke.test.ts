import { describe, expect, it } from 'vitest';
import { PgbranchError, ERROR_CATALOGUE } from './errors.js';

describe('error catalogue', () => {
  it('maps every code to a status and exit code', () => {
    const err = new PgbranchError('BRANCH_NOT_FOUND', 'no such branch: x');
    expect(err.spec.httpStatus).toBe(404);
    expect(err.spec.exitCode).toBe(3);
    for (const spec of Object.values(ERROR_CATALOGUE)) expect(spec.exitCode).toBeGreaterThan(0);
  });
});
