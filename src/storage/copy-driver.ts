import { createDirectoryDriver, noVolumeLimits } from './directory-driver.js';
import type { StorageDriver } from './types.js';

/**
 * The portable fallback: volumes are directories and a clone copies every byte. Nothing is shared
 * by construction, so ownBytes is the volume's full size. (On a filesystem that can reflink, the
 * kernel may still share extents behind copy_file_range; the figure is then an upper bound.)
 */
export function createCopyDriver(poolPath: string): StorageDriver {
  return createDirectoryDriver(poolPath, {
    name: 'copy',
    capabilities: { atomicSnapshot: false, constantTimeClone: false, ownBytes: 'full-copy' },
    method: 'copy',
    ownBytes: async (files) => files.totalBytes,
    // A copy owns every byte it holds from the start, so a cap on own bytes would be a cap on the
    // database's size; that is a quota on the whole tree, which this driver leaves to the admin.
    limits: noVolumeLimits('the copy driver shares nothing, so there are no own bytes to cap separately from the whole copy'),
    // Copies share no extents, so nothing tells which bytes a clone has rewritten since.
    changedRanges: async () => ({ kind: 'unknown', reason: 'the copy driver shares no extents between volumes, so any byte may differ' }),
  });
}
