import type { SnapshotRecord } from '../../state/index.js';
import { removeBranchPoint } from '../branch-point.js';
import { crashPoint } from '../crash-points.js';
import { beginIntent, resumeIntent, type IntentFor, type IntentHandle } from '../intents.js';
import type { Runtime } from '../runtime.js';

export const SNAPSHOT_DELETE_POINTS = ['snapshot-delete:intent', 'snapshot-delete:volume-deleted'] as const;

/** Delete: once the intent is recorded it only rolls forward. Branches made from it keep working. */
export async function deleteSnapshot(rt: Runtime, snapshot: SnapshotRecord): Promise<void> {
  const intent = beginIntent(rt.store, 'snapshot-delete', snapshot, { volume: snapshot.volume });
  crashPoint('snapshot-delete:intent');
  await finish(rt, snapshot.id, snapshot.volume, intent);
}

export async function settleSnapshotDelete(rt: Runtime, intent: IntentFor<'snapshot-delete'>): Promise<'rolled-forward'> {
  await finish(rt, intent.subject.id, intent.data.volume, resumeIntent(rt.store, intent));
  return 'rolled-forward';
}

async function finish(rt: Runtime, snapshotId: string, volume: string, intent: IntentHandle): Promise<void> {
  await rt.storage.deleteVolume(volume);
  // The branch point kept with it (an undo snapshot's), if any.
  await removeBranchPoint(rt, volume);
  crashPoint('snapshot-delete:volume-deleted');
  rt.store.transaction(() => {
    rt.store.deleteSnapshot(snapshotId);
    intent.finish();
  });
}
