import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BranchRecord } from '../state/index.js';
import { cloneConsistent } from './clone.js';
import type { Runtime } from './runtime.js';

/**
 * The branch point of a branch: a read-only CoW clone of its data as it was made (by create,
 * reset, and later rebase), which `diff` compares the branch with. It is taken once the new
 * instance is up with its own password and before anyone else can reach it (the branch row is
 * committed afterwards, so neither a client nor the endpoint knows it yet): the branch's first
 * state after recovery, whatever it was cloned from (a parent, a snapshot, a standby, a point in
 * time), and a plain primary's data that any later reader recovers in a second.
 *
 * It belongs to its generation of the branch's data: named after the branch's volume, made by the
 * operation that makes that volume (within its intent), removed with that volume. No instance ever
 * runs on it (readers run on throwaway clones of it), so it never changes.
 */

/** `<volume>.bp`: a volume name of its own, derived so that every owner of a volume knows its branch point. */
export function branchPointVolume(volume: string): string {
  return `${volume}.bp`;
}

/** Whether this host keeps branch points: `diff.keepBranchPoint`, else only where clones are constant-time. */
export function keepsBranchPoints(rt: Runtime): boolean {
  return rt.config.diff.keepBranchPoint ?? rt.storage.capabilities.constantTimeClone;
}

/**
 * Takes the branch point of `owner`'s running instance on `owner.volume`: a consistent clone, as
 * for a child branch. On an atomic-snapshot driver it is one snapshot, without the CHECKPOINT a
 * child's clone starts with: the instance has just come up through crash recovery (or a clean
 * start), whose checkpoint leaves only its own few records (the new password) to replay for a
 * reader, and pages not yet flushed cannot hide a change from the block-level diff (a page the
 * branch changes later gets a newer LSN, so its bytes differ from any earlier version). After
 * archive recovery (a point-in-time branch) the promotion's checkpoint may not be done yet and the
 * WAL since the last restartpoint may be gone, so it checkpoints first. Per-file drivers go
 * through backup mode. Does nothing when the host does not keep branch points; returns whether
 * one was taken.
 */
export async function takeBranchPoint(
  rt: Runtime,
  owner: Pick<BranchRecord, 'id' | 'volume' | 'port' | 'dbUser' | 'pgMajor'>,
  options: { readonly afterArchiveRecovery?: boolean } = {},
): Promise<boolean> {
  if (!keepsBranchPoints(rt)) return false;
  const volume = branchPointVolume(owner.volume);
  if (rt.storage.capabilities.atomicSnapshot && !options.afterArchiveRecovery) await rt.storage.cloneVolume(owner.volume, volume);
  else await cloneConsistent(rt, owner, volume);
  // The lock files came along and name the live postmaster: without them the volume never looks
  // like a running instance (to reconcile, gc or the invariants).
  const dataDir = rt.dataDir(volume);
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  await rm(join(dataDir, 'postmaster.opts'), { force: true });
  return true;
}

/** Removes the branch point of a volume's generation (idempotent: none may have been kept). */
export async function removeBranchPoint(rt: Runtime, volume: string): Promise<void> {
  await rt.storage.deleteVolume(branchPointVolume(volume));
}

/** The kept branch point volume of a branch's current data, or undefined (a root, or made before branch points were kept). */
export async function branchPointOf(rt: Runtime, branch: Pick<BranchRecord, 'volume'>): Promise<string | undefined> {
  const volume = branchPointVolume(branch.volume);
  return (await rt.storage.exists(volume)) ? volume : undefined;
}
