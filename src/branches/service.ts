import type { Host } from './host.js';

/**
 * What the CLI (and any other client) needs from a host, whether it runs in this process
 * (`Host`) or behind `pgbranch serve` (the API client). Same methods, same shapes, same errors.
 */
export type BranchService = Pick<
  Host,
  | 'status'
  | 'listBranches'
  | 'getBranch'
  | 'connectionInfo'
  | 'maskCheck'
  | 'createBranch'
  | 'resetBranch'
  | 'rebaseBranch'
  | 'deleteBranch'
  | 'startBranch'
  | 'stopBranch'
  | 'suspendBranch'
  | 'rotatePassword'
  | 'updateBranch'
  | 'createToken'
  | 'listTokens'
  | 'revokeToken'
  | 'listAudit'
  | 'gc'
  | 'createSnapshot'
  | 'listSnapshots'
  | 'getSnapshot'
  | 'diff'
  | 'deleteSnapshot'
  | 'sourceStatus'
  | 'refreshSource'
  | 'updateSource'
  | 'close'
>;
