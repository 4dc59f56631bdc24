import { PgbranchError } from '../errors.js';

/** Branch names: lowercase, start with a letter or digit, up to 63 characters. */
export const BRANCH_NAME_PATTERN = /^[a-z0-9][a-z0-9._/-]{0,62}$/;

export const BRANCH_NAME_RULE =
  'a branch name is 1-63 characters of a-z, 0-9, ".", "_", "-" and "/", starts with a letter or digit, ' +
  'and has no empty, "." or ".." path segment';

/** Throws INVALID_BRANCH_NAME unless `name` follows the rules; returns it for chaining. */
export function assertBranchName(name: unknown): string {
  if (typeof name !== 'string' || !BRANCH_NAME_PATTERN.test(name) || name.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) {
    const shown = typeof name === 'string' ? JSON.stringify(name) : String(name);
    throw new PgbranchError('INVALID_BRANCH_NAME', `invalid branch name ${shown}: ${BRANCH_NAME_RULE}`, { details: { name: shown } });
  }
  return name;
}
