import { PgbranchError } from '../errors.js';
import type { BranchRecord } from '../state/index.js';
import { assertBranchName } from './names.js';
import type { Runtime } from './runtime.js';

/** The branch named `name`; BRANCH_NOT_FOUND (or INVALID_BRANCH_NAME) otherwise. */
export function findBranch(rt: Runtime, name: string): BranchRecord {
  assertBranchName(name);
  const record = rt.store.getBranchByName(name);
  if (!record) throw new PgbranchError('BRANCH_NOT_FOUND', `no branch named "${name}"`, { details: { name } });
  return record;
}
