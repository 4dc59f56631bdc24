import type { IntentFor, IntentKind } from '../intents.js';
import type { Runtime } from '../runtime.js';
import { CREATE_POINTS, settleCreate } from './create.js';
import { DELETE_POINTS, settleDelete } from './delete.js';
import { DIFF_POINTS, settleDiff } from './diff.js';
import { FOLLOW_POINTS } from './follow.js';
import { LIMIT_POINTS, settleLimit } from './limit.js';
import { REBASE_POINTS, REBASE_UNDO_POINTS, settleRebase } from './rebase.js';
import { REFRESH_POINTS, settleRefresh } from './refresh.js';
import { RESET_MASKED_POINTS, RESET_POINTS, settleReset } from './reset.js';
import { ROTATE_POINTS, settleRotate } from './rotate-password.js';
import { SNAPSHOT_CREATE_POINTS, settleSnapshotCreate } from './snapshot-create.js';
import { SNAPSHOT_DELETE_POINTS, settleSnapshotDelete } from './snapshot-delete.js';
import { settleWarm } from '../warm.js';

/**
 * The operations of the domain, one module each: its checks, its steps, its crash points and its
 * settle function. This file is the table reconcile reads and the crash test iterates.
 */
export { createBranch, createRootFrom, originDetails, type CreateOrigin, type CreateRequest, type RootSource } from './create.js';
export { deleteBranch } from './delete.js';
export { checkCoverage, inheritMasking, isMasked, rulesSha256, type MaskCheckView, type MaskRequest } from './mask.js';
export { diffSides } from './diff.js';
export { branchStopped, startBranch, stopAllInstances, stopBranch, suspendBranch, wakeBranch } from './instance-state.js';
export { resetBranch } from './reset.js';
export { rebaseBranch, undoSnapshotName } from './rebase.js';
export { refreshRoot, type RefreshOptions, type RefreshResult, type RemaskOutcome } from './refresh.js';
export { historySnapshots, historyWindow, pruneHistory, takeHistorySnapshot, type HistoryWindow, type RecoveryPoint } from './history.js';
export { FOLLOW_POINTS, type FollowSettings } from './follow.js';
export { rotatePassword } from './rotate-password.js';
export { createSnapshot, findSnapshot } from './snapshot-create.js';
export { deleteSnapshot } from './snapshot-delete.js';
export { updateBranch, type BranchChange } from './update.js';

export type Settled = 'rolled-back' | 'rolled-forward';

/** How an interrupted operation of each kind is finished or undone (see reconcile). */
export const SETTLE: { readonly [K in IntentKind]: (rt: Runtime, intent: IntentFor<K>) => Promise<Settled> } = {
  create: settleCreate,
  reset: settleReset,
  refresh: settleRefresh,
  delete: settleDelete,
  rotate: settleRotate,
  limit: settleLimit,
  'snapshot-create': settleSnapshotCreate,
  'snapshot-delete': settleSnapshotDelete,
  diff: settleDiff,
  rebase: settleRebase,
  warm: settleWarm,
};

/** Every crash point of the multi-step operations, in step order, for the crash-safety tests. */
export const CRASH_POINTS = {
  create: CREATE_POINTS.clone,
  createRoot: CREATE_POINTS.root,
  createMasked: CREATE_POINTS.masked,
  createFollowing: FOLLOW_POINTS,
  reset: RESET_POINTS,
  resetMasked: RESET_MASKED_POINTS,
  refresh: REFRESH_POINTS,
  delete: DELETE_POINTS,
  rotate: ROTATE_POINTS,
  limit: LIMIT_POINTS,
  snapshotCreate: SNAPSHOT_CREATE_POINTS,
  snapshotDelete: SNAPSHOT_DELETE_POINTS,
  diff: DIFF_POINTS,
  rebase: REBASE_POINTS,
  rebaseUndo: REBASE_UNDO_POINTS,
} as const;
