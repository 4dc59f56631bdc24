import type { BranchRecord } from '../../state/index.js';
import { log } from '../../util/index.js';
import { crashPoint } from '../crash-points.js';
import { beginIntent, resumeIntent, type IntentFor, type IntentHandle } from '../intents.js';
import { assertEnforceable, assertWithinCeiling, CAP_OPTIONS } from '../quotas.js';
import type { Runtime } from '../runtime.js';

export const LIMIT_POINTS = ['limit:intent'] as const;

/**
 * Changes the cap of an existing branch. Intent first: a crash between the filesystem change and
 * the metadata change is rolled forward by `settleLimit`.
 */
export async function changeOwnBytesLimit(rt: Runtime, branch: BranchRecord, bytes: number | null): Promise<void> {
  if (branch.parentId !== null || branch.parentSnapshotId !== null || bytes !== null) assertWithinCeiling(rt, bytes);
  if (bytes !== null) await assertEnforceable(rt);
  if (bytes === branch.maxOwnBytes) return;
  // The first cap moves the WAL out of the capped space, which must not happen under a running
  // server: that one restart is the price of capping a branch made without a cap.
  const firstCap = bytes !== null && branch.maxOwnBytes === null;
  const intent = beginIntent(rt.store, 'limit', branch, { bytes, firstCap });
  crashPoint('limit:intent');
  await apply(rt, branch.id, bytes, firstCap, intent);
}

async function apply(rt: Runtime, branchId: string, bytes: number | null, firstCap: boolean, intent: IntentHandle): Promise<void> {
  const branch = rt.store.getBranchById(branchId);
  // Lifting a cap on a pool that cannot cap anything has nothing to undo in the filesystem.
  if (branch && (bytes !== null || (await rt.storage.limitSupport()).kind !== 'none')) {
    const restart = firstCap && (await rt.isRunning(branch.volume));
    if (restart) await rt.stop(branch.volume);
    await rt.storage.setVolumeLimit(branch.volume, bytes, CAP_OPTIONS);
    if (restart) await rt.start(branch, branch.volume);
  }
  rt.store.transaction(() => {
    if (branch) rt.store.setMaxOwnBytes(branch.id, bytes);
    intent.finish();
  });
}

/**
 * Settle: a cap change whose process died (or failed) is finished if the filesystem takes it
 * now; if it still refuses, the change is dropped and the branch keeps its recorded cap, so that
 * one stubborn volume never keeps the host from opening.
 */
export async function settleLimit(rt: Runtime, intent: IntentFor<'limit'>): Promise<'rolled-back' | 'rolled-forward'> {
  const handle = resumeIntent(rt.store, intent);
  try {
    await apply(rt, intent.subject.id, intent.data.bytes, intent.data.firstCap, handle);
    return 'rolled-forward';
  } catch (err) {
    log.warn({ branch: intent.subject.name, err: (err as Error).message }, 'could not change the size cap of a branch; it keeps its recorded cap');
    const branch = rt.store.getBranchById(intent.subject.id);
    if (branch && !(await rt.isRunning(branch.volume)) && branch.desiredState === 'running') {
      await rt.start(branch, branch.volume).catch(() => undefined);
    }
    handle.finish();
    return 'rolled-back';
  }
}
