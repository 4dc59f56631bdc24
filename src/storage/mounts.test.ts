import { describe, expect, it } from 'vitest';
import { mountContaining, parseMountInfo } from './mounts.js';

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

describe('mountContaining', () => {
  const mounts = parseMountInfo(MOUNTINFO);

  it('picks the deepest mount point that is a whole-component prefix', () => {
    expect(mountContaining(mounts, '/tmp/pgbranch-xfs-pool-Ab/mnt/volumes/a')?.fsType).toBe('xfs');
    expect(mountContaining(mounts, '/tmp/pgbranch-xfs-pool-Ab/mnt')?.fsType).toBe('xfs');
    expect(mountContaining(mounts, '/tmp/pgbranch-xfs-pool-Ab/mntx')?.fsType).toBe('ext4');
    expect(mountContaining(mounts, '/tmp/my pool/v')?.fsType).toBe('btrfs');
  });

  it('takes the last of several mounts stacked on one point', () => {
    const stacked = parseMountInfo(`${MOUNTINFO}39 36 0:35 / /run rw - ramfs none rw\n`);
    expect(mountContaining(stacked, '/run/x')?.fsType).toBe('ramfs');
  });
});
