import { describe, expect, it } from 'vitest';
import { parseMountInfo } from './mounts.js';

// Shape of /proc/self/mountinfo (proc(5)), including optional fields and an escaped space.
const MOUNTINFO = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
36 22 0:32 / /tmp/pgbranch-xfs-pool-Ab/mnt rw,noatime shared:20 master:3 - xfs /dev/loop0 rw,attr2,inode64
37 22 0:33 / /tmp/my\\040pool rw,noatime - btrfs /dev/loop1 rw,user_subvol_rm_allowed
38 22 0:34 / /run rw - tmpfs tmpfs rw
`;

describe('parseMountInfo', () => {
  it('reads mount point, type and source past the optional fields', () => {
    expect(parseMountInfo(MOUNTINFO)).toEqual([
      { mountPoint: '/', fsType: 'ext4', source: '/dev/vda' },
      { mountPoint: '/tmp/pgbranch-xfs-pool-Ab/mnt', fsType: 'xfs', source: '/dev/loop0' },
      { mountPoint: '/tmp/my pool', fsType: 'btrfs', source: '/dev/loop1' },
      { mountPoint: '/run', fsType: 'tmpfs', source: 'tmpfs' },
    ]);
  });
});
