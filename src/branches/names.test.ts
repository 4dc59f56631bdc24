import { describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { assertBranchName } from './names.js';

describe('branch names', () => {
  it.each(['main', 'pr-123', 'feature/login', 'a', 'v1.2_rc', '0', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(assertBranchName(name)).toBe(name);
  });

  it.each(['', 'Main', '-x', '_x', '.x', '/x', 'x/', 'a//b', 'a/../b', 'a/./b', 'has space', 'ünï', 'a'.repeat(64), 'x;drop'])(
    'rejects %j with INVALID_BRANCH_NAME',
    (name) => {
      let caught: unknown;
      try {
        assertBranchName(name);
      } catch (err) {
        caught = err;
      }
      expect(isPgbranchError(caught, 'INVALID_BRANCH_NAME')).toBe(true);
    },
  );

  it('rejects non-strings', () => {
    expect(() => assertBranchName(42)).toThrow(/invalid branch name/);
  });
});
