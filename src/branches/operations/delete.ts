import type { BranchRecord } from '../../state/index.js';
import { removeBranchPoint } from '../branch-point.js';
import { crashPoint } from '../crash-points.js';
import { assertNotProtected } from '../governance.js';
import { beginIntent, resumeIntent, type IntentFor, type IntentHandle } from '../intents.js';
import type { Runtime } from '../runtime.js';
import { releaseSource } from './follow.js';

export const DELETE_POINTS = ['delete:intent', 'delete:stopped', 'delete:volume-deleted'] as const;

/**
 * Delete: stop, remove the volume, forget the branch. Children are independent volumes (CoW
 * clones share blocks, not files), so they keep working and remember the parent's name.
 * Once the intent is recorded the deletion only ever rolls forward.
 */
export async function deleteBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  assertNotProtected(branch, 'delete');
  const intent = beginIntent(rt.store, 'delete', branch, { volume: branch.volume });
  crashPoint('delete:intent');
  await finish(rt, branch.id, branch.volume, intent);
}

export async function settleDelete(rt: Runtime, intent: IntentFor<'delete'>): Promise<'rolled-forward'> {
  await finish(rt, intent.subject.id, intent.data.volume, resumeIntent(rt.store, intent));
  return 'rolled-forward';
}

async function finish(rt: Runtime, branchId: string, volume: string, intent: IntentHandle): Promise<void> {
  await rt.stop(volume).catch(() => rt.kill(volume));
  crashPoint('delete:stopped');
  await rt.storage.deleteVolume(volume);
  await removeBranchPoint(rt, volume);
  crashPoint('delete:volume-deleted');
  // A root's source goes with it: its history snapshots, WAL archive, slot on the source and
  // secrets. Their rows stay until the final commit, so a crash here repeats this (idempotent).
  const source = rt.store.getSource(branchId);
  const history = rt.store.listSnapshots().filter((s) => s.kind === 'history' && s.sourceBranchId === branchId);
  for (const snapshot of history) await rt.storage.deleteVolume(snapshot.volume);
  const name = rt.store.getBranchById(branchId)?.name ?? branchId;
  if (source) await releaseSource(rt, { id: branchId, name }, { slot: source.slotName, archiveVolume: source.archiveVolume });
  rt.store.transaction(() => {
    for (const snapshot of history) rt.store.deleteSnapshot(snapshot.id);
    rt.store.deleteSource(branchId);
    rt.store.deleteBranch(branchId);
    intent.finish();
  });
  await rt.removeBranchFiles(branchId);
}
