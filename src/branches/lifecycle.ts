import { PgbranchError } from '../errors.js';
import type { BranchRecord } from '../state/index.js';
import { failpoint } from '../util/failpoint.js';
import { bringUpClone, cloneConsistent } from './clone.js';
import { volumeName } from './create.js';
import { applyVolumeLimit } from './quotas.js';
import type { Runtime } from './runtime.js';

/**
 * Reset: the branch gets a fresh clone of its parent's current state and keeps its id, name,
 * port, password and so its connection string. The new data is made in a new volume first, so a
 * crash before the swap leaves the old branch as it was, and one after it only leaves the old
 * volume to remove.
 */
export async function resetBranch(rt: Runtime, branch: BranchRecord): Promise<BranchRecord> {
  const parent = branch.parentId ? rt.store.getBranchById(branch.parentId) : undefined;
  // A branch made from a snapshot resets to that snapshot (immutable: always the same data).
  const snapshot = branch.parentSnapshotId ? rt.store.getSnapshotById(branch.parentSnapshotId) : undefined;
  if (branch.parentSnapshotId && !snapshot) {
    throw new PgbranchError('SNAPSHOT_NOT_FOUND', `cannot reset "${branch.name}": the snapshot it was made from was deleted`, {
      details: { branch: branch.name, snapshotId: branch.parentSnapshotId },
    });
  }
  if (!parent && !snapshot) {
    if (branch.parentName) {
      throw new PgbranchError('PARENT_NOT_FOUND', `cannot reset "${branch.name}": its parent "${branch.parentName}" was deleted`, {
        details: { branch: branch.name, parent: branch.parentName },
      });
    }
    throw new PgbranchError('ROOT_BRANCH_RESET', `cannot reset "${branch.name}": it is a root branch and has no parent`, {
      details: { branch: branch.name },
    });
  }
  const oldVolume = branch.volume;
  const newVolume = volumeName(branch.id);
  const opId = rt.store.beginOperation({
    kind: 'reset',
    branchId: branch.id,
    branchName: branch.name,
    step: 'intent',
    data: { oldVolume, newVolume },
  });
  failpoint('reset:intent');
  let branchTime: string;
  if (snapshot) {
    // No instance runs on a snapshot: a plain clone is consistent.
    await rt.storage.cloneVolume(snapshot.volume, newVolume);
    branchTime = snapshot.time;
  } else {
    ({ branchTime } = await cloneConsistent(rt, parent!, newVolume));
  }
  // The new generation is capped like the old one before anything writes to it.
  await applyVolumeLimit(rt, newVolume, branch.maxOwnBytes);
  failpoint('reset:cloned');
  await rt.stop(oldVolume);
  failpoint('reset:old-stopped');
  const { branchLsn: recoveredLsn } = await bringUpClone(rt, branch, newVolume);
  const branchLsn = snapshot?.lsn ?? recoveredLsn;
  failpoint('reset:new-started');
  rt.store.transaction(() => {
    rt.store.replaceVolume(branch.id, { volume: newVolume, branchLsn, branchTime });
    rt.store.advanceOperation(opId, 'swapped');
  });
  failpoint('reset:swapped');
  await rt.storage.deleteVolume(oldVolume);
  failpoint('reset:old-deleted');
  rt.store.finishOperation(opId);
  if (branch.desiredState !== 'running') await rt.stop(newVolume);
  return rt.store.getBranchById(branch.id)!;
}

/**
 * Delete: stop, remove the volume, forget the branch. Children are independent volumes (CoW
 * clones share blocks, not files), so they keep working and remember the parent's name.
 * Once the intent is recorded the deletion only ever rolls forward.
 */
export async function deleteBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  const opId = rt.store.beginOperation({
    kind: 'delete',
    branchId: branch.id,
    branchName: branch.name,
    step: 'intent',
    data: { volume: branch.volume },
  });
  failpoint('delete:intent');
  await finishDelete(rt, branch.id, branch.volume, opId);
}

/** The roll-forward part of delete, shared with reconcile. */
export async function finishDelete(rt: Runtime, branchId: string, volume: string, opId: number): Promise<void> {
  await rt.stop(volume).catch(() => rt.kill(volume));
  failpoint('delete:stopped');
  await rt.storage.deleteVolume(volume);
  failpoint('delete:volume-deleted');
  rt.store.transaction(() => {
    rt.store.deleteBranch(branchId);
    rt.store.finishOperation(opId);
  });
  await rt.removeBranchFiles(branchId);
}

export async function startBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  rt.store.setDesiredState(branch.id, 'running');
  if (!(await rt.isRunning(branch.volume))) await rt.start(branch.id, branch.volume, branch.port);
}

export async function stopBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  rt.store.setDesiredState(branch.id, 'stopped');
  await rt.stop(branch.volume);
}

/** Every crash point of the multi-step operations, for the crash-safety test. */
export const CRASH_POINTS = {
  create: ['create:intent', 'create:cloned', 'clone:after-backup-stop', 'clone:after-start', 'create:started', 'create:committed'],
  createRoot: ['create:intent', 'create:initialised', 'create:imported', 'create:committed'],
  reset: ['reset:intent', 'clone:after-backup-stop', 'reset:cloned', 'reset:old-stopped', 'clone:after-start', 'reset:new-started', 'reset:swapped', 'reset:old-deleted'],
  delete: ['delete:intent', 'delete:stopped', 'delete:volume-deleted'],
  rotate: ['rotate:intent', 'rotate:applied'],
  snapshotCreate: ['snapshot-create:intent', 'clone:after-backup-stop', 'snapshot-create:cloned', 'snapshot-create:committed'],
  snapshotDelete: ['snapshot-delete:intent', 'snapshot-delete:volume-deleted'],
} as const;
