import { PgbranchError } from '../errors.js';
import type { Actor } from './audit.js';
import { MIN_OWN_BYTES_LIMIT } from './config.js';
import { assertPoolRoom } from './pool-room.js';
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

/**
 * The free space the pool keeps: the configured floor, else 5% of the pool (at least 64 MiB, at
 * most 10 GiB). Without one, a branch could fill the pool and the next create's CHECKPOINT on its
 * parent — on a CoW pool a checkpoint needs new space — would take the parent down with it.
 */
export function poolFloorBytes(rt: Runtime, totalBytes: number): number {
  return rt.config.quotas.minPoolFreeBytes ?? Math.min(10 * 1024 * MIB, Math.max(64 * MIB, Math.round(totalBytes * 0.05)));
}

/** Refuses to make new data while the pool's free space is under its floor. */
export async function assertPoolFloor(rt: Runtime, what: string): Promise<void> {
  await assertPoolRoom(rt, 'new-data', `create ${what}`);
}


/** Validates a requested cap: a whole number of bytes, not below the minimum, within the host's ceiling. */
export function assertWithinCeiling(rt: Runtime, bytes: number | null): void {
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
export async function assertEnforceable(rt: Runtime): Promise<void> {
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
export const CAP_OPTIONS = { exemptPaths: [`${PGDATA}/pg_wal`] };

/** Puts a new volume under its branch's cap before any instance can write to it. */
export async function applyVolumeLimit(rt: Runtime, volume: string, maxOwnBytes: number | null): Promise<void> {
  if (maxOwnBytes !== null) await rt.storage.setVolumeLimit(volume, maxOwnBytes, CAP_OPTIONS);
}
