import { mkdir } from 'node:fs/promises';
import { PgbranchError } from '../errors.js';
import { driverSupported, probeDirectory, type ProbeResult } from './probe.js';
import { storageError } from './storage-errors.js';
import type { StorageConfig } from './types.js';

const MISSING: Record<StorageConfig['driver'], string> = {
  btrfs: 'btrfs subvolumes (a btrfs filesystem, the btrfs CLI from btrfs-progs, and the right to create and delete subvolumes)',
  reflink: 'reflinks (FICLONE: XFS formatted with reflink=1, or btrfs)',
  copy: 'nothing special',
};

/**
 * Creates the pool directory if needed (mode 0755) and checks, by trying, that its filesystem
 * supports `config.driver`; throws STORAGE_UNAVAILABLE saying what is missing otherwise. Meant
 * for `init`; drivers themselves never create the pool, so an unmounted pool fails loudly.
 */
export async function preparePool(config: StorageConfig): Promise<ProbeResult> {
  try {
    await mkdir(config.poolPath, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw storageError(`cannot create pool directory ${config.poolPath}`, err, { poolPath: config.poolPath });
  }
  const probe = await probeDirectory(config.poolPath);
  if (!driverSupported(config.driver, probe)) {
    throw new PgbranchError('STORAGE_UNAVAILABLE', `the ${config.driver} driver needs ${MISSING[config.driver]}, which ${config.poolPath} (${probe.fsType}) does not offer`, {
      cause: new Error(`probe: ${JSON.stringify(probe)}`),
      details: { poolPath: config.poolPath, driver: config.driver, probe },
    });
  }
  return probe;
}
