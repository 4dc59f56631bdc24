import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { chooseDriver, preparePool, probeDirectory, type DriverName } from './index.js';
import { createTestPool, testPoolSkipReason, type TestPool, type TestPoolKind } from './test-support/loop-pools.js';

const EXPECTED: Record<TestPoolKind, { btrfsSubvolumes: boolean; reflink: boolean; chosen: DriverName | undefined }> = {
  btrfs: { btrfsSubvolumes: true, reflink: true, chosen: 'btrfs' },
  xfs: { btrfsSubvolumes: false, reflink: true, chosen: 'reflink' },
  ext4: { btrfsSubvolumes: false, reflink: false, chosen: undefined },
};

for (const kind of ['btrfs', 'xfs', 'ext4'] as const) {
  const skipReason = await testPoolSkipReason(kind);
  if (skipReason) console.warn(`probe: skipping ${kind}: ${skipReason}`);

  describe.skipIf(skipReason !== undefined)(`probeDirectory on ${kind}`, () => {
    let pool: TestPool;
    beforeAll(async () => {
      pool = await createTestPool(kind, { sizeMb: 512 });
    });
    afterAll(async () => {
      await pool?.cleanup();
    });

    it('finds the filesystem and what it can do, by trying, and cleans up', async () => {
      const probe = await probeDirectory(pool.poolPath);
      const expected = EXPECTED[kind];
      expect(probe).toEqual({ fsType: kind, btrfsSubvolumes: expected.btrfsSubvolumes, reflink: expected.reflink });
      expect(chooseDriver(probe)).toBe(expected.chosen);
      expect(await readdir(pool.poolPath)).toEqual([]);
    });

    it('preparePool creates the pool directory and accepts only drivers the filesystem supports', async () => {
      const poolPath = join(pool.mountPoint, 'prepared', 'volumes');
      await preparePool({ driver: 'copy', poolPath });
      expect(await readdir(poolPath)).toEqual([]);
      for (const driver of ['btrfs', 'reflink'] as const) {
        const supported = driver === 'btrfs' ? EXPECTED[kind].btrfsSubvolumes : EXPECTED[kind].reflink;
        const outcome = await preparePool({ driver, poolPath }).then(
          () => 'ok',
          (err: unknown) => (isPgbranchError(err) ? err.code : err),
        );
        expect(outcome).toBe(supported ? 'ok' : 'STORAGE_UNAVAILABLE');
      }
    });
  });
}

describe('probeDirectory elsewhere', () => {
  it('sees tmpfs as unable to reflink', async () => {
    const dir = await mkdtemp('/dev/shm/pgbranch-probe-test-');
    try {
      expect(await probeDirectory(dir)).toEqual({ fsType: 'tmpfs', btrfsSubvolumes: false, reflink: false });
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers STORAGE_UNAVAILABLE for a directory that does not exist', async () => {
    const outcome = await probeDirectory('/nonexistent/pgbranch/pool').catch((err: unknown) => err);
    expect(isPgbranchError(outcome, 'STORAGE_UNAVAILABLE')).toBe(true);
  });
});
