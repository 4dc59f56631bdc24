import { PgbranchError } from '../errors.js';
import type { BranchRecord, OperationRecord } from '../state/index.js';
import { failpoint } from '../util/failpoint.js';
import { log } from '../util/log.js';
import type { Actor } from './audit.js';
import { MIN_OWN_BYTES_LIMIT } from './config.js';
import { PGDATA, type Runtime } from './runtime.js';

/**
 * Quotas: how many branches a host and a token may have, how many bytes a branch may own, and
 * how much free space the pool keeps. Counts and the floor are checked here before anything is
 * made; the byte cap is enforced by the storage driver (the filesystem refuses the write), so a
 * runaway branch fills only itself.
 */

const MIB = 1024 * 1024;

function quotaExceeded(message: string, details: Record<string, unknown>): PgbranchError {
  return new PgbranchError('QUOTA_EXCEEDED', message, { details });
}

/** Refuses a new branch when the host or the calling token is at its branch limit. */
export function assertBranchCountQuota(rt: Runtime, actor: Actor): void {
  const { maxBranches, maxBranchesPerToken } = rt.config.quotas;
  if (maxBranches !== undefined) {
    const count = rt.store.countBranches();
    if (count >= maxBranches) {
      throw quotaExceeded(`this host already has ${count} branches, its limit (quotas.maxBranches) is ${maxBranches}: delete some first`, {
        quota: 'maxBranches',
        limit: maxBranches,
        count,
      });
    }
  }
  // Per token: the local CLI user is the host's operator, bound by the host limit only.
  if (maxBranchesPerToken !== undefined && actor.id.startsWith('token:')) {
    const count = rt.store.countBranches(actor.id);
    if (count >= maxBranchesPerToken) {
      throw quotaExceeded(
        `token ${actor.name ?? actor.id} already created ${count} branches that still exist, its limit (quotas.maxBranchesPerToken) is ${maxBranchesPerToken}`,
        { quota: 'maxBranchesPerToken', limit: maxBranchesPerToken, count, actor: actor.id },
      );
    }
  }
}

/** Refuses to make new data while the pool's free space is under the configured floor. */
export async function assertPoolFloor(rt: Runtime, what: string): Promise<void> {
  const floor = rt.config.quotas.minPoolFreeBytes;
  if (floor === undefined) return;
  const pool = await rt.storage.poolUsage();
  if (pool.freeBytes >= floor) return;
  throw new PgbranchError(
    'POOL_FULL',
    `cannot create ${what}: the pool has ${formatMiB(pool.freeBytes)} free, below its floor of ${formatMiB(floor)} (quotas.minPoolFreeBytes); delete branches or snapshots, or grow the pool`,
    { details: { freeBytes: pool.freeBytes, minPoolFreeBytes: floor } },
  );
}

function formatMiB(bytes: number): string {
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)} MiB`;
}

/** Validates a requested cap: a whole number of bytes, not below the minimum, within the host's ceiling. */
function assertWithinCeiling(rt: Runtime, bytes: number | null): void {
  const ceiling = rt.config.quotas.maxOwnBytesPerBranch;
  if (bytes === null) {
    if (ceiling !== undefined) {
      throw quotaExceeded(`branches on this host may own at most ${ceiling} bytes (quotas.maxOwnBytesPerBranch): an unlimited branch is not allowed`, {
        quota: 'maxOwnBytesPerBranch',
        limit: ceiling,
      });
    }
    return;
  }
  if (!Number.isSafeInteger(bytes) || bytes < MIN_OWN_BYTES_LIMIT) {
    throw new PgbranchError('INVALID_ARGUMENT', `a branch size limit must be a whole number of bytes, at least ${MIN_OWN_BYTES_LIMIT} (64 MiB)`, {
      details: { requested: bytes, minimum: MIN_OWN_BYTES_LIMIT },
    });
  }
  if (ceiling !== undefined && bytes > ceiling) {
    throw quotaExceeded(`a branch on this host may own at most ${ceiling} bytes (quotas.maxOwnBytesPerBranch), ${bytes} was asked for`, {
      quota: 'maxOwnBytesPerBranch',
      limit: ceiling,
      requested: bytes,
    });
  }
}

/** Refuses a cap the pool cannot enforce: a limit that is silently not there is worse than none. */
async function assertEnforceable(rt: Runtime): Promise<void> {
  const support = await rt.storage.limitSupport();
  if (support.kind !== 'none') return;
  throw new PgbranchError('LIMIT_UNSUPPORTED', `the ${rt.storage.name} pool cannot cap a branch's size: ${support.reason ?? 'not supported'}`, {
    details: { driver: rt.storage.name, reason: support.reason ?? null },
  });
}

/**
 * The cap a new branch gets, checked before anything is made. `requested`: undefined = the
 * host's default (clones only; a root's data is all its own), null = none, else bytes. A host
 * default the pool cannot enforce is not applied (`host info` says so); an explicit request
 * it cannot enforce is refused.
 */
export async function resolveOwnBytesLimit(rt: Runtime, requested: number | null | undefined, kind: 'clone' | 'root'): Promise<number | null> {
  if (requested === undefined) {
    const ceiling = rt.config.quotas.maxOwnBytesPerBranch;
    if (kind === 'root' || ceiling === undefined) return null;
    return (await rt.storage.limitSupport()).kind === 'none' ? null : ceiling;
  }
  if (kind === 'clone' || requested !== null) assertWithinCeiling(rt, requested);
  if (requested !== null) await assertEnforceable(rt);
  return requested;
}

/**
 * The write-ahead log is exempt from the cap: PostgreSQL panics when it cannot write WAL, but
 * reports a clean disk-full error (53100) when a table cannot grow. WAL stays bounded by
 * max_wal_size (it is recycled at checkpoints).
 */
const CAP_OPTIONS = { exemptPaths: [`${PGDATA}/pg_wal`] };

/** Puts a new volume under its branch's cap before any instance can write to it. */
export async function applyVolumeLimit(rt: Runtime, volume: string, maxOwnBytes: number | null): Promise<void> {
  if (maxOwnBytes !== null) await rt.storage.setVolumeLimit(volume, maxOwnBytes, CAP_OPTIONS);
}

/**
 * Changes the cap of an existing branch. Intent first: a crash between the filesystem change and
 * the metadata change is rolled forward by reconcile (`settleLimit`).
 */
export async function changeOwnBytesLimit(rt: Runtime, branch: BranchRecord, bytes: number | null): Promise<void> {
  if (branch.parentId !== null || branch.parentSnapshotId !== null || bytes !== null) assertWithinCeiling(rt, bytes);
  if (bytes !== null) await assertEnforceable(rt);
  if (bytes === branch.maxOwnBytes) return;
  // The first cap moves the WAL out of the capped space, which must not happen under a running
  // server: that one restart is the price of capping a branch made without a cap.
  const firstCap = bytes !== null && branch.maxOwnBytes === null;
  const opId = rt.store.beginOperation({ kind: 'limit', branchId: branch.id, branchName: branch.name, step: 'intent', data: { bytes, firstCap } });
  failpoint('limit:intent');
  await settleLimitChange(rt, branch.id, bytes, firstCap, opId);
}

async function settleLimitChange(rt: Runtime, branchId: string, bytes: number | null, firstCap: boolean, opId: number): Promise<void> {
  const branch = rt.store.getBranchById(branchId);
  // Lifting a cap on a pool that cannot cap anything has nothing to undo in the filesystem.
  if (branch && (bytes !== null || (await rt.storage.limitSupport()).kind !== 'none')) {
    const restart = firstCap && (await rt.isRunning(branch.volume));
    if (restart) await rt.stop(branch.volume);
    await rt.storage.setVolumeLimit(branch.volume, bytes, CAP_OPTIONS);
    if (restart) await rt.start(branch.id, branch.volume, branch.port);
  }
  rt.store.transaction(() => {
    if (branch) rt.store.setMaxOwnBytes(branch.id, bytes);
    rt.store.finishOperation(opId);
  });
}

/**
 * Reconcile: a cap change whose process died (or failed) is finished if the filesystem takes it
 * now; if it still refuses, the change is dropped and the branch keeps its recorded cap, so that
 * one stubborn volume never keeps the host from opening. Returns whether it rolled forward.
 */
export async function settleLimit(rt: Runtime, op: OperationRecord): Promise<boolean> {
  const bytes = op.data.bytes === null ? null : Number(op.data.bytes);
  try {
    await settleLimitChange(rt, op.branchId, bytes, op.data.firstCap === true, op.id);
    return true;
  } catch (err) {
    log.warn({ branch: op.branchName, err: (err as Error).message }, 'could not change the size cap of a branch; it keeps its recorded cap');
    const branch = rt.store.getBranchById(op.branchId);
    if (branch && !(await rt.isRunning(branch.volume)) && branch.desiredState === 'running') {
      await rt.start(branch.id, branch.volume, branch.port).catch(() => undefined);
    }
    rt.store.finishOperation(op.id);
    return false;
  }
}
