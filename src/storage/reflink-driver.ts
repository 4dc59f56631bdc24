import { compareVolumeExtents } from './changed-ranges.js';
import { createDirectoryDriver } from './directory-driver.js';
import { measureExtents } from './filefrag.js';
import type { StorageDriver } from './types.js';
import { xfsProjectQuotaLimiter } from './xfs-project-quota.js';

/**
 * Volumes are directories; a clone shares every file's extents through FICLONE (XFS reflink=1,
 * btrfs). ownBytes counts the bytes in extents FIEMAP does not flag shared, so a fresh clone owns
 * almost nothing and grows as it is written. Sharing between two files of the same volume also
 * counts as shared, which only makes ownBytes an under-estimate of what deleting the volume frees
 * in that unusual case.
 */
export function createReflinkDriver(poolPath: string): StorageDriver {
  return createDirectoryDriver(poolPath, {
    name: 'reflink',
    capabilities: { atomicSnapshot: false, constantTimeClone: true, ownBytes: 'exact' },
    method: 'reflink',
    ownBytes: async (files) => {
      const extents = await measureExtents(files.dataFiles);
      return extents.allocatedBytes - extents.sharedBytes;
    },
    // Caps need XFS project quotas; on btrfs or without prjquota the limiter reports `none`.
    limits: xfsProjectQuotaLimiter(poolPath),
    changedRanges: compareVolumeExtents,
  });
}
