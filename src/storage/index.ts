import { isAbsolute, resolve } from 'node:path';
import { PgbranchError } from '../errors.js';
import { createBtrfsDriver } from './btrfs-driver.js';
import { createCopyDriver } from './copy-driver.js';
import { createReflinkDriver } from './reflink-driver.js';
import { DRIVER_NAMES, type DriverName, type StorageConfig, type StorageDriver } from './types.js';

export type {
  ByteRange,
  ChangedRanges,
  ChangedRangesOptions,
  CloneOptions,
  DriverName,
  PoolConfig,
  FileChange,
  PoolUsage,
  StorageCapabilities,
  StorageConfig,
  StorageDriver,
  VolumeLimitKind,
  VolumeLimitOptions,
  VolumeLimitSupport,
  VolumeUsage,
} from './types.js';
export { chooseDriver, driverSupported, probeDirectory, type ProbeResult } from './probe.js';
export {
  createLoopPool,
  isMountPoint,
  loopPoolPrerequisites,
  mountLoopPool,
  unmountLoopPool,
  type CreateLoopPoolOptions,
  type LoopFsType,
  type MountLoopPoolOptions,
} from './loop-pool.js';
export { preparePool } from './prepare-pool.js';
export { DEFAULT_LOOP_SIZE_BYTES, ensurePoolMounted, planPool, provisionPool, type PoolPlanRequest } from './pool-plan.js';
export { DRIVER_NAMES, POOL_IMAGE_FS_TYPES } from './types.js';
export { isValidVolumeName } from './volume-names.js';

const FACTORIES: Readonly<Record<DriverName, (poolPath: string) => StorageDriver>> = {
  btrfs: createBtrfsDriver,
  reflink: createReflinkDriver,
  copy: createCopyDriver,
};

/**
 * Returns the driver for `config`. It touches nothing on disk: use `preparePool` once (at init)
 * to check that the directory can actually host that driver.
 */
export function createStorageDriver(config: StorageConfig): StorageDriver {
  const factory = (FACTORIES as Record<string, ((poolPath: string) => StorageDriver) | undefined>)[config.driver];
  if (!factory) {
    throw new PgbranchError('INVALID_ARGUMENT', `unknown storage driver ${JSON.stringify(config.driver)} (use ${DRIVER_NAMES.join(', ')})`, {
      cause: new Error(`driver ${String(config.driver)}`),
    });
  }
  if (!isAbsolute(config.poolPath)) {
    throw new PgbranchError('INVALID_ARGUMENT', `pool path must be absolute, got ${JSON.stringify(config.poolPath)}`, {
      cause: new Error(`poolPath ${config.poolPath}`),
    });
  }
  // Canonical form (no trailing slash, no `..`), so paths built from it compare and print cleanly.
  return factory(resolve(config.poolPath));
}
