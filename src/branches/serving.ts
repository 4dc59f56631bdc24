import { PgbranchError } from '../errors.js';
import { setRolePassword, withClient } from '../postgres/index.js';
import type { BranchRecord } from '../state/index.js';
import { failpoint } from '../util/failpoint.js';
import type { ActivityTracker } from './activity.js';
import { newPassword } from './create.js';
import type { Runtime } from './runtime.js';

/** The idle timeout that applies to a branch (0 = never suspend). */
export function effectiveIdleTimeoutMs(rt: Runtime, branch: BranchRecord): number {
  return branch.idleTimeoutMs ?? rt.config.serve.idleTimeoutMs;
}

export function branchStopped(branch: BranchRecord): PgbranchError {
  return new PgbranchError('BRANCH_STOPPED', `branch "${branch.name}" is stopped; start it with \`pgbranch branch start ${branch.name}\``, {
    details: { branch: branch.name },
  });
}

/** Makes a suspended (or crashed) branch serve again. A branch stopped on request stays down. */
export async function wake(rt: Runtime, branch: BranchRecord): Promise<void> {
  if (branch.desiredState === 'stopped') throw branchStopped(branch);
  if (branch.desiredState === 'suspended') rt.store.setDesiredState(branch.id, 'running');
  if (!(await rt.isRunning(branch.volume))) await rt.start(branch.id, branch.volume, branch.port);
}

export async function suspend(rt: Runtime, branch: BranchRecord): Promise<void> {
  rt.store.setDesiredState(branch.id, 'suspended');
  await rt.stop(branch.volume);
}

/** Client backends connected to the instance right now, the endpoint's and direct ones alike. */
export async function clientConnections(rt: Runtime, branch: BranchRecord): Promise<number> {
  return withClient(rt.adminTarget(branch), async (client) => {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return rows[0]!.n;
  });
}

/**
 * Branches that are running, have had no endpoint connection for their idle timeout and have no
 * direct connection either. The caller suspends them under the host lock, re-checking activity.
 */
export async function idleCandidates(rt: Runtime, tracker: ActivityTracker, nowMs: number): Promise<BranchRecord[]> {
  const idle: BranchRecord[] = [];
  for (const branch of rt.store.listBranches()) {
    const timeout = effectiveIdleTimeoutMs(rt, branch);
    if (branch.desiredState !== 'running' || timeout === 0 || tracker.connections(branch.id) > 0) continue;
    if (nowMs - tracker.lastActiveAt(branch.id, nowMs) < timeout) continue;
    if (!(await rt.isRunning(branch.volume))) continue;
    if ((await clientConnections(rt, branch)) > 0) {
      tracker.touch(branch.id, nowMs);
      continue;
    }
    idle.push(branch);
  }
  return idle;
}

/**
 * A new password for the branch's role. The intent (with the new password) is recorded first;
 * a crash after ALTER ROLE is rolled forward by reconcile, so metadata and server never disagree
 * for longer than the next command.
 */
export async function rotatePassword(rt: Runtime, branch: BranchRecord): Promise<BranchRecord> {
  const password = newPassword();
  const opId = rt.store.beginOperation({ kind: 'rotate', branchId: branch.id, branchName: branch.name, step: 'intent', data: { password } });
  failpoint('rotate:intent');
  await applyPassword(rt, branch, password);
  failpoint('rotate:applied');
  rt.store.transaction(() => {
    rt.store.setPassword(branch.id, password);
    rt.store.finishOperation(opId);
  });
  return rt.store.getBranchById(branch.id)!;
}

/** Sets the role's password on the server, starting the instance for the moment if it is down. */
export async function applyPassword(rt: Runtime, branch: BranchRecord, password: string): Promise<void> {
  const wasRunning = await rt.isRunning(branch.volume);
  if (!wasRunning) await rt.start(branch.id, branch.volume, branch.port);
  await withClient(rt.adminTarget(branch), (client) => setRolePassword(client, branch.dbUser, password));
  if (!wasRunning && branch.desiredState !== 'running') await rt.stop(branch.volume);
}
