import { withClient } from '../postgres/index.js';
import type { BranchRecord } from '../state/index.js';
import type { ActivityTracker } from './activity.js';
import { HOST_ACTOR, audited, branchTarget, observeOperation } from './audit.js';
import type { HostCore } from './core.js';
import { isExpired } from './governance.js';
import { findBranch } from './lookup.js';
import { branchStopped, deleteBranch, suspendBranch, wakeBranch } from './operations/index.js';
import type { Runtime } from './runtime.js';
import { KEPT_APPLICATION_NAME } from './warm.js';

/**
 * Scale to zero, as the serving process runs it: endpoint sessions that wake a suspended branch
 * and count as activity, and the sweeps that suspend idle branches and delete expired ones.
 */

/** The idle timeout that applies to a branch (0 = never suspend). */
export function effectiveIdleTimeoutMs(rt: Runtime, branch: BranchRecord): number {
  return branch.idleTimeoutMs ?? rt.config.serve.idleTimeoutMs;
}

/**
 * A client connection through the endpoint wants `name`: wakes the branch if it is suspended
 * and counts the connection until `release` (idle suspension waits for zero).
 */
export async function openSession(core: HostCore, name: string): Promise<{ port: number; release: () => void }> {
  const { rt, activity } = core;
  let branch = findBranch(rt, name);
  if (branch.desiredState === 'stopped') throw branchStopped(branch);
  const release = activity.acquire(branch.id);
  try {
    if (branch.desiredState !== 'running' || !(await rt.isRunning(branch.volume))) {
      const started = performance.now();
      await core.locked(async () => {
        branch = findBranch(rt, name);
        await wakeBranch(rt, branch);
      });
      observeOperation({ operation: 'wake', result: 'ok', durationMs: Math.round(performance.now() - started) });
    }
    return { port: branch.port, release };
  } catch (err) {
    release();
    throw err;
  }
}

/**
 * Client backends connected to the instance right now (the endpoint's and direct ones alike; not
 * the connection pgbranch keeps to a warm parent, which is no use of it), and
 * how many sessions its databases have counted so far (PostgreSQL 14+), which moves with every
 * direct connection, however short.
 */
async function clientActivity(rt: Runtime, branch: BranchRecord): Promise<{ connections: number; sessions: number; startedAtMs: number }> {
  return withClient(rt.adminTarget(branch), async (client) => {
    // The start time: a start (by anyone: `branch start`, `branch url`, a wake, a restart) is activity.
    const { rows } = await client.query<{ n: number; sessions: string; started: string }>(
      `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> $1) AS n,
              (SELECT coalesce(sum(sessions), 0)::text FROM pg_stat_database) AS sessions,
              (extract(epoch FROM pg_postmaster_start_time()) * 1000)::bigint::text AS started`,
      [KEPT_APPLICATION_NAME],
    );
    const row = rows[0]!;
    return { connections: row.n, sessions: Number(row.sessions), startedAtMs: Number(row.started) };
  });
}

/**
 * Branches that are running, have had no endpoint connection for their idle timeout, and no
 * direct connection either: none open now, and none made since the sweep's look after the last
 * activity (short direct connections in between count as use). A branch seen for the first time since its
 * last activity waits for the next sweep. The caller suspends them under the host lock,
 * re-checking endpoint activity.
 */
export async function idleCandidates(rt: Runtime, tracker: ActivityTracker, nowMs: number): Promise<BranchRecord[]> {
  const idle: BranchRecord[] = [];
  for (const branch of rt.store.listBranches()) {
    const timeout = effectiveIdleTimeoutMs(rt, branch);
    if (branch.desiredState !== 'running' || timeout === 0 || tracker.connections(branch.id) > 0) continue;
    // A look after the last activity and one at the deadline (see needsLook): the session
    // counter is compared between them, so direct connections in between are seen.
    if (!tracker.needsLook(branch.id, nowMs, timeout)) continue;
    if (!(await rt.isRunning(branch.volume))) continue;
    const seen = await clientActivity(rt, branch);
    // Open connections are activity now, whatever they do; a start is activity at its time.
    if (seen.connections > 0) tracker.touch(branch.id, nowMs);
    else tracker.touchIfLater(branch.id, Math.min(nowMs, seen.startedAtMs));
    if (tracker.observeSessions(branch.id, seen.sessions, nowMs) !== 'idle') continue;
    if (nowMs - tracker.lastActiveAt(branch.id, nowMs) < timeout) continue;
    idle.push(branch);
  }
  return idle;
}

/** Suspends a branch found idle, unless a connection arrived meanwhile (checked under the lock). */
export async function suspendIfIdle(core: HostCore, branchId: string): Promise<boolean> {
  const branch = core.rt.store.getBranchById(branchId);
  if (!branch || branch.desiredState !== 'running' || core.activity.connections(branch.id) > 0) return false;
  await suspendBranch(core.rt, branch);
  return true;
}

/** Suspends branches idle for their timeout; returns their names. Run periodically by serve. */
export async function suspendIdleBranches(core: HostCore, nowMs: number): Promise<string[]> {
  const suspended: string[] = [];
  for (const candidate of await idleCandidates(core.rt, core.activity, nowMs)) {
    await core.locked(async () => {
      // A connection may have arrived while we looked: the lock orders us against its wake.
      const branch = core.rt.store.getBranchById(candidate.id);
      if (!branch || branch.desiredState !== 'running' || core.activity.connections(branch.id) > 0) return;
      await audited(core.rt.store, HOST_ACTOR, 'suspend', branchTarget(branch.name, { reason: 'idle' }), () => suspendBranch(core.rt, branch));
      suspended.push(branch.name);
    });
  }
  return suspended;
}

/** Deletes a branch and forgets its endpoint activity (the caller holds the lock). */
export async function deleteAndForget(core: HostCore, branch: BranchRecord): Promise<void> {
  await deleteBranch(core.rt, branch);
  core.activity.forget(branch.id);
}

/**
 * Deletes branches past their expiry, protected ones excepted (they wait until unprotected).
 * Run periodically by serve; returns the names deleted.
 */
export async function deleteExpiredBranches(core: HostCore, nowMs: number): Promise<string[]> {
  const deleted: string[] = [];
  for (const candidate of core.rt.store.listBranches().filter((b) => !b.protected && isExpired(b, nowMs))) {
    await core.locked(async () => {
      // Re-read under the lock: the expiry may have been extended or the branch protected since.
      const branch = core.rt.store.getBranchById(candidate.id);
      if (!branch || branch.protected || !isExpired(branch, nowMs)) return;
      await audited(core.rt.store, HOST_ACTOR, 'expire', branchTarget(branch.name, { expiresAt: branch.expiresAt }), () => deleteAndForget(core, branch));
      deleted.push(branch.name);
    });
  }
  return deleted;
}
