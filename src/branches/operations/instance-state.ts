import { PgbranchError } from '../../errors.js';
import type { BranchRecord } from '../../state/index.js';
import { log } from '../../util/index.js';
import { assertPoolRoom } from '../pool-room.js';
import type { Runtime } from '../runtime.js';

/**
 * Start, stop, suspend and wake: one metadata row (the desired state) and one process each. No
 * intent is needed: reconcile brings every instance to its desired state at the next open.
 */

export async function startBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  const running = await rt.isRunning(branch.volume);
  // Refused for want of room, a start changes nothing: the branch is not left wanting to run.
  if (!running) await assertPoolRoom(rt, 'start', `start branch "${branch.name}"`);
  rt.store.setDesiredState(branch.id, 'running');
  if (!running) await rt.start(branch, branch.volume);
}

export async function stopBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  rt.store.setDesiredState(branch.id, 'stopped');
  await rt.stop(branch.volume);
}

/** Stopped until the next connection through the endpoint wakes it. */
export async function suspendBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  rt.store.setDesiredState(branch.id, 'suspended');
  await rt.stop(branch.volume);
}

export function branchStopped(branch: BranchRecord): PgbranchError {
  return new PgbranchError('BRANCH_STOPPED', `branch "${branch.name}" is stopped; start it with \`pgbranch branch start ${branch.name}\``, {
    details: { branch: branch.name },
  });
}

/** Makes a suspended (or crashed) branch serve again. A branch stopped on request stays down. */
export async function wakeBranch(rt: Runtime, branch: BranchRecord): Promise<void> {
  if (branch.desiredState === 'stopped') throw branchStopped(branch);
  const running = await rt.isRunning(branch.volume);
  if (!running) await assertPoolRoom(rt, 'start', `wake branch "${branch.name}"`);
  if (branch.desiredState === 'suspended') rt.store.setDesiredState(branch.id, 'running');
  if (!running) await rt.start(branch, branch.volume);
}

/** Stops every instance cleanly (serve shutdown); desired states are kept for the next start. */
export async function stopAllInstances(rt: Runtime): Promise<void> {
  for (const branch of rt.store.listBranches()) {
    await rt.stop(branch.volume).catch((err: unknown) => log.warn({ branch: branch.name, err: (err as Error).message }, 'could not stop branch'));
  }
}
