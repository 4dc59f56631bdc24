import { PgbranchError } from '../errors.js';
import { poolFloorBytes } from './quotas.js';
import type { Runtime } from './runtime.js';

/**
 * Room on the pool for what pgbranch itself writes. On a CoW pool a CHECKPOINT writes new space
 * (every dirty page goes to a new extent) and so does an instance start (crash recovery, the
 * end-of-recovery checkpoint, new WAL segments). When the pool is nearly full those writes fail
 * with ENOSPC and PostgreSQL PANICs: the instance pgbranch wrote through goes down, not only the
 * branch that filled the pool. So pgbranch never makes those writes without room:
 * - making new data (create, reset, snapshot, a CHECKPOINT of a running parent) needs the pool's
 *   free-space floor (quotas.minPoolFreeBytes, by default 5% of the pool, see poolFloorBytes);
 * - starting an instance needs a quarter of it (at least 16 MiB): a branch that was running keeps
 *   running as long as it can, and one that could not start is started again by `serve` once
 *   space returns;
 * - a refresh's new generation (initdb, then the restore) is new data too.
 */

const MIB = 1024 * 1024;

export type PoolRoomPurpose = 'new-data' | 'start';

/** The free bytes an operation of this kind needs on a pool of `totalBytes`. */
export function roomNeededBytes(rt: Runtime, totalBytes: number, purpose: PoolRoomPurpose): number {
  const floor = poolFloorBytes(rt, totalBytes);
  return purpose === 'new-data' ? floor : Math.max(16 * MIB, Math.floor(floor / 4));
}

/** Refuses (POOL_FULL) when the pool has less free space than `purpose` needs. */
export async function assertPoolRoom(rt: Runtime, purpose: PoolRoomPurpose, what: string): Promise<void> {
  let pool = await rt.storage.poolUsage();
  const needed = roomNeededBytes(rt, pool.totalBytes, purpose);
  if (pool.freeBytes >= needed) return;
  // Short of room: space of volumes deleted moments ago (the branches a user just deleted to make
  // room) may still be on its way back; wait for it before refusing. Costs nothing when there is room.
  if (rt.storage.reclaimDeleted) {
    await rt.storage.reclaimDeleted();
    pool = await rt.storage.poolUsage();
    if (pool.freeBytes >= needed) return;
  }
  const configured = rt.config.quotas.minPoolFreeBytes !== undefined;
  const rule =
    purpose === 'new-data'
      ? `its floor of ${formatMiB(needed)} (quotas.minPoolFreeBytes${configured ? '' : ', by default 5% of the pool'})`
      : `the ${formatMiB(needed)} an instance start needs (a quarter of quotas.minPoolFreeBytes, at least 16 MiB)`;
  throw new PgbranchError(
    'POOL_FULL',
    `cannot ${what}: the pool has ${formatMiB(pool.freeBytes)} free, below ${rule}; delete branches or snapshots, or grow the pool`,
    { details: { freeBytes: pool.freeBytes, minPoolFreeBytes: poolFloorBytes(rt, pool.totalBytes), neededBytes: needed } },
  );
}

function formatMiB(bytes: number): string {
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)} MiB`;
}
