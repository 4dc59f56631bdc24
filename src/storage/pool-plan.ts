import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PgbranchError } from '../errors.js';
import { createLoopPool, isMountPoint, mountLoopPool } from './loop-pool.js';
import { chooseDriver, probeDirectory } from './probe.js';
import type { DriverName, PoolConfig } from './types.js';

/**
 * Storage policy of a new host: which driver a pool directory gets, and when a sparse loop image
 * is made instead (only root can). It is decided once, at init, and recorded in the host's
 * config; `ensurePoolMounted` brings a loop pool back after a reboot.
 */

export interface PoolPlanRequest {
  /** 'auto': the directory's filesystem if it can snapshot or reflink, else a loop image when root, else copy. */
  readonly driver: DriverName | 'auto';
  readonly poolPath: string;
  /** Where a loop image goes if one is needed. */
  readonly loopImagePath: string;
  /** Apparent size of a loop image (sparse). */
  readonly loopSizeBytes: number;
  /** Told when `auto` falls back to the copy driver. */
  readonly onWarning?: (message: string) => void;
}

export const DEFAULT_LOOP_SIZE_BYTES = 20 * 1024 ** 3;

export async function planPool(request: PoolPlanRequest): Promise<PoolConfig> {
  const { poolPath } = request;
  const probeAt = existsSync(poolPath) ? poolPath : dirname(poolPath);
  const probe = await probeDirectory(probeAt);
  const isRoot = process.getuid?.() === 0;
  // A reflink pool on a loop image is XFS: the filesystem the reflink driver is made for.
  const loopFor = (driver: 'btrfs' | 'reflink'): PoolConfig => {
    if (!isRoot) {
      throw new PgbranchError(
        'PERMISSION_DENIED',
        `the ${driver} driver needs a ${driver === 'btrfs' ? 'btrfs' : 'reflink-capable (XFS, btrfs)'} pool; ${probeAt} is ${probe.fsType} and only root can create a loop-mounted pool`,
      );
    }
    return { driver, poolPath, loop: { imagePath: request.loopImagePath, fsType: driver === 'btrfs' ? 'btrfs' : 'xfs', sizeBytes: request.loopSizeBytes } };
  };
  switch (request.driver) {
    case 'btrfs':
      return probe.btrfsSubvolumes ? { driver: 'btrfs', poolPath } : loopFor('btrfs');
    case 'reflink':
      return probe.reflink ? { driver: 'reflink', poolPath } : loopFor('reflink');
    case 'copy':
      return { driver: 'copy', poolPath };
    case 'auto': {
      const native = chooseDriver(probe);
      if (native) return { driver: native, poolPath };
      if (isRoot) return loopFor('btrfs');
      request.onWarning?.(`${probeAt} (${probe.fsType}) cannot snapshot or reflink and only root can make a loop pool: using the copy driver, branching is O(size)`);
      return { driver: 'copy', poolPath };
    }
  }
}

/** Makes the planned pool exist: the directory, or the loop image formatted and mounted. */
export async function provisionPool(pool: PoolConfig, onProgress?: (message: string) => void): Promise<void> {
  const { loop, poolPath } = pool;
  if (!loop) {
    await mkdir(poolPath, { recursive: true, mode: 0o755 });
    await chmod(poolPath, 0o755);
    return;
  }
  if (existsSync(loop.imagePath)) {
    await ensurePoolMounted(pool);
    return;
  }
  onProgress?.(`creating a ${Math.round(loop.sizeBytes / 1024 ** 3)} GiB sparse ${loop.fsType} pool at ${loop.imagePath}`);
  await createLoopPool({ imagePath: loop.imagePath, mountPoint: poolPath, sizeBytes: loop.sizeBytes, fsType: loop.fsType });
  await chmod(poolPath, 0o755);
}

/** After a reboot a loop image is not mounted any more: mount it before touching volumes. */
export async function ensurePoolMounted(pool: PoolConfig): Promise<void> {
  const { loop } = pool;
  if (!loop || (await isMountPoint(pool.poolPath))) return;
  await mountLoopPool({ imagePath: loop.imagePath, mountPoint: pool.poolPath, fsType: loop.fsType });
}
