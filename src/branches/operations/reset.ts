import { PgbranchError } from '../../errors.js';
import type { BranchRecord } from '../../state/index.js';
import { removeBranchPoint, takeBranchPoint } from '../branch-point.js';
import { bringUpClone, CLONE_POINTS, cloneConsistent, openTcp, sourceHooks } from '../clone.js';
import { crashPoint } from '../crash-points.js';
import { assertNotProtected } from '../governance.js';
import { volumeName } from '../ids.js';
import { assertNoUnmaskedData, checkCoverage, checkpointLsn, isMasked, maskInstance, parseRulesText, remaskRules, rulesSha256, type MaskRequest } from './mask.js';
import { beginIntent, resumeIntent, type IntentFor } from '../intents.js';
import { assertPoolRoom } from '../pool-room.js';
import { applyVolumeLimit } from '../quotas.js';
import type { Runtime } from '../runtime.js';

/** A reset's steps up to its new instance running (with TCP still closed), and from there on. */
const RESET_UNTIL_STARTED = [
  'reset:intent',
  CLONE_POINTS.ready,
  CLONE_POINTS.afterBackupStop,
  'reset:cloned',
  'reset:old-stopped',
  CLONE_POINTS.afterStart,
  CLONE_POINTS.passwordSet,
  'reset:new-started',
] as const;
const RESET_FROM_BRANCH_POINT = ['reset:branch-point', 'reset:swapped', 'reset:old-deleted'] as const;

export const RESET_POINTS = [...RESET_UNTIL_STARTED, ...RESET_FROM_BRANCH_POINT] as const;

/** A reset with masking rules (re-masking): the new generation is checked, masked and wiped before its TCP opens. */
export const RESET_MASKED_POINTS = [...RESET_UNTIL_STARTED, 'reset:checked', 'reset:masked', 'reset:wiped', ...RESET_FROM_BRANCH_POINT] as const;

/**
 * Reset: the branch gets a fresh clone of its parent's current state (or of the snapshot it was
 * made from) and keeps its id, name, port, password and so its connection string. The new data
 * is made in a new volume first, so a crash before the swap leaves the old branch as it was, and
 * one after it only leaves the old volume to remove.
 */
export async function resetBranch(rt: Runtime, branch: BranchRecord, options: { readonly mask?: MaskRequest } = {}): Promise<BranchRecord> {
  // A masked branch that ran its masking kept its rules: a plain reset re-masks with them.
  const mask = options.mask ?? remaskRules(rt, branch);
  // A root has nothing to reset from whatever its protection: that error says more. Re-masking a
  // masked branch is what its protection is for (it never holds unmasked data), so it is allowed.
  if ((branch.parentId !== null || branch.parentSnapshotId !== null) && !(mask && isMasked(branch))) assertNotProtected(branch, 'reset');
  if (mask) {
    parseRulesText(mask);
    if (branch.parentSnapshotId !== null) {
      throw new PgbranchError('INVALID_ARGUMENT', `"${branch.name}" was made from a snapshot: masking on reset needs a parent branch`, { details: { branch: branch.name } });
    }
  } else {
    assertNoUnmaskedData(rt, branch, 'reset');
  }
  const { parent, snapshot } = resetOrigin(rt, branch);
  // A reset makes a whole new generation of data: the floor applies as to a create.
  await assertPoolRoom(rt, 'new-data', `reset branch "${branch.name}"`);
  const oldVolume = branch.volume;
  const newVolume = volumeName(branch.id);
  const intent = beginIntent(rt.store, 'reset', branch, { oldVolume, newVolume });
  crashPoint('reset:intent');
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
  crashPoint('reset:cloned');
  await rt.stop(oldVolume);
  crashPoint('reset:old-stopped');
  // With masking, TCP stays closed until the new data is masked: clients know this branch's port
  // and password, and must never reach the unmasked generation.
  const { branchLsn: recoveredLsn } = await bringUpClone(rt, branch, newVolume, snapshot ? [] : sourceHooks(rt, branch.parentId), { openTcp: !mask });
  let branchLsn = snapshot?.lsn ?? recoveredLsn;
  crashPoint('reset:new-started');
  let masked: Parameters<typeof rt.store.setMasked>[1] | undefined;
  if (mask) {
    const { rules } = await checkCoverage(rt, branch, mask);
    intent.advance('checked');
    crashPoint('reset:checked');
    await maskInstance(rt, branch, newVolume, rules, (step) => {
      intent.advance(step);
      crashPoint(`reset:${step}`);
    });
    branchLsn = await checkpointLsn(rt, branch);
    await openTcp(rt, branch, newVolume);
    masked = { rulesSha256: rulesSha256(mask.rules), maskedAt: new Date().toISOString(), rules: { rules: mask.rules, file: mask.file ?? null } };
  }
  // The new generation's branch point, before the swap: it goes with the new volume if undone.
  await takeBranchPoint(rt, { ...branch, volume: newVolume });
  crashPoint('reset:branch-point');
  // A stopped branch stays stopped: its new instance goes down before the swap, so from the swap
  // on (where a crash rolls forward) no process runs on the branch's volume to be left behind.
  if (branch.desiredState !== 'running') await rt.stop(newVolume);
  rt.store.transaction(() => {
    rt.store.replaceVolume(branch.id, { volume: newVolume, branchLsn, branchTime });
    if (masked) rt.store.setMasked(branch.id, masked);
    intent.advance('swapped');
  });
  crashPoint('reset:swapped');
  await rt.storage.deleteVolume(oldVolume);
  await removeBranchPoint(rt, oldVolume);
  crashPoint('reset:old-deleted');
  intent.finish();
  return rt.store.getBranchById(branch.id)!;
}

/** What a branch resets to: its parent's current state, or the snapshot it was made from. */
function resetOrigin(rt: Runtime, branch: BranchRecord) {
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
    throw new PgbranchError('ROOT_BRANCH_RESET', `cannot reset "${branch.name}": it is a root branch and has no parent`, { details: { branch: branch.name } });
  }
  return { parent, snapshot };
}

/** Settle: before the swap the old volume is the branch, after it the new one is; the other goes. */
export async function settleReset(rt: Runtime, intent: IntentFor<'reset'>): Promise<'rolled-back' | 'rolled-forward'> {
  const { oldVolume, newVolume } = intent.data;
  const swapped = rt.store.getBranchById(intent.subject.id)?.volume === newVolume;
  const discard = swapped ? oldVolume : newVolume;
  await rt.kill(discard);
  await rt.storage.deleteVolume(discard);
  await removeBranchPoint(rt, discard);
  // Rolled forward, the branch keeps its desired state: a stopped one has no instance.
  const branch = rt.store.getBranchById(intent.subject.id);
  if (swapped && branch && branch.desiredState !== 'running') await rt.stopOrKill(newVolume);
  resumeIntent(rt.store, intent).finish();
  return swapped ? 'rolled-forward' : 'rolled-back';
}
