import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode } from './test-support/expect-code.js';
import { createStorageDriver, type DriverName, type StorageDriver, type VolumeLimitKind } from './index.js';
import { createTestPool, testPoolSkipReason, type TestPool, type TestPoolKind } from './test-support/loop-pools.js';
import { kernelLacksXfsQuota } from './xfs-project-quota.js';

/**
 * Per-volume caps on real loop pools: the filesystem itself must stop a capped volume at about its
 * cap while its clone siblings and its source keep writing.
 */

const NOBODY = 65534;
const MIB = 1024 * 1024;
const CAP_BYTES = 8 * MIB;
const SOURCE_BYTES = 20 * MIB;
const WRITE_BYTES = 32 * MIB;
/** Filesystems account in blocks and reserve ahead (XFS preallocation, btrfs qgroup reservations). */
const MIN_WRITTEN_WHEN_CAPPED = 4 * MIB;
const MAX_WRITTEN_WHEN_CAPPED = 16 * MIB;
const POOL_SIZE_MB = 512;

/**
 * Writes up to `bytes` of random data in 1 MiB chunks, each synced: delayed allocation and
 * deferred quota accounting must not let the writes run past the cap unnoticed.
 */
async function writeUntilFull(path: string, bytes: number): Promise<{ written: number; errno?: string }> {
  const handle = await open(path, 'w');
  let written = 0;
  try {
    while (written < bytes) {
      const chunk = randomBytes(Math.min(MIB, bytes - written));
      const { bytesWritten } = await handle.write(chunk, 0, chunk.length, written);
      written += bytesWritten;
      await handle.sync();
    }
    return { written };
  } catch (err) {
    return { written, errno: errnoName(err as NodeJS.ErrnoException) };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** libuv has no name for EDQUOT (Linux errno 122): Node reports "Unknown system error -122". */
function errnoName(err: NodeJS.ErrnoException): string | undefined {
  return err.errno === -122 ? 'EDQUOT' : err.code;
}

async function expectWrites(path: string, bytes: number): Promise<void> {
  expect(await writeUntilFull(path, bytes)).toEqual({ written: bytes });
}

function expectStoppedNearCap(result: { written: number; errno?: string }): void {
  // XFS reports a project over its hard limit as ENOSPC; btrfs qgroups and user quotas as EDQUOT.
  expect(['EDQUOT', 'ENOSPC']).toContain(result.errno);
  expect(result.written).toBeGreaterThanOrEqual(MIN_WRITTEN_WHEN_CAPPED);
  expect(result.written).toBeLessThanOrEqual(MAX_WRITTEN_WHEN_CAPPED);
}

interface Case {
  readonly kind: TestPoolKind;
  readonly driver: DriverName;
  readonly expected: VolumeLimitKind;
}

const CASES: readonly Case[] = [
  { kind: 'btrfs', driver: 'btrfs', expected: 'exclusive' },
  { kind: 'xfs', driver: 'reflink', expected: 'growth' },
  { kind: 'ext4', driver: 'copy', expected: 'none' },
  // The reflink driver runs on btrfs too, but only the btrfs driver can cap there.
  { kind: 'btrfs', driver: 'reflink', expected: 'none' },
];

function volumeLimits({ kind, driver: driverName, expected: declared }: Case): void {
  let pool: TestPool;
  let driver: StorageDriver;
  let expected: VolumeLimitKind;

  beforeAll(async () => {
    pool = await createTestPool(kind, { sizeMb: POOL_SIZE_MB });
    driver = createStorageDriver({ driver: driverName, poolPath: pool.poolPath });
    // The test pool mounts with prjquota only where the kernel has XFS quotas (checked after the
    // mount, which loads XFS); elsewhere the right answer is `none`.
    expected = kind === 'xfs' && (await kernelLacksXfsQuota()) ? 'none' : declared;
    if (expected !== declared) console.warn(`volume limits: this kernel has no XFS quota support; expecting 'none' on ${kind}`);
  });
  afterAll(async () => {
    await pool?.cleanup();
  });

  const path = (volume: string, ...rel: string[]): string => join(driver.volumePath(volume), ...rel);

  it(`reports what it can cap`, async () => {
    const support = await driver.limitSupport();
    expect(support.kind).toBe(expected);
    if (expected === 'none') {
      expect(support.reason).toMatch(/\S/);
      if (kind === 'xfs') expect(support.reason).toMatch(/prjquota/);
      if (kind === 'btrfs') expect(support.reason).toMatch(/btrfs/);
    }
    expect(await driver.limitSupport()).toEqual(support);
  });

  it('refuses to cap when it cannot, and rejects a missing volume', async () => {
    await driver.createVolume('plain');
    if (expected === 'none') {
      await expectCode(driver.setVolumeLimit('plain', CAP_BYTES), 'STORAGE_UNAVAILABLE');
      await expectCode(driver.setVolumeLimit('plain', null), 'STORAGE_UNAVAILABLE');
    }
    await expectCode(driver.setVolumeLimit('no-such-volume', CAP_BYTES), 'VOLUME_NOT_FOUND');
    await driver.deleteVolume('plain');
  });

  it('stops a capped clone near its cap while its sibling and source keep writing', async (ctx) => {
    if (expected === 'none') return ctx.skip();
    await driver.createVolume('src');
    await mkdir(path('src', 'data'));
    await expectWrites(path('src', 'data', 'base'), SOURCE_BYTES);
    await driver.cloneVolume('src', 'a');
    await driver.cloneVolume('src', 'b');

    await driver.setVolumeLimit('a', CAP_BYTES);
    await driver.setVolumeLimit('a', CAP_BYTES);

    // How postgres writes: a directory created after the cap, owned by an unprivileged user.
    await mkdir(path('a', 'pg'));
    await chown(path('a', 'pg'), NOBODY, NOBODY);
    const dd = spawnSync('runuser', ['-u', 'nobody', '--', 'dd', 'if=/dev/urandom', `of=${path('a', 'pg', 'x')}`, 'bs=1M', `count=${WRITE_BYTES / MIB}`, 'oflag=dsync', 'status=none'], {
      encoding: 'utf8',
    });
    expect(dd.status, 'dd as nobody must hit the cap').not.toBe(0);
    expect(dd.stderr).toMatch(/quota|No space/i);
    const byNobody = (await stat(path('a', 'pg', 'x'))).size;
    expect(byNobody).toBeGreaterThanOrEqual(MIN_WRITTEN_WHEN_CAPPED);
    expect(byNobody).toBeLessThanOrEqual(MAX_WRITTEN_WHEN_CAPPED);
    // Deleting gives the room back.
    await rm(path('a', 'pg', 'x'));

    expectStoppedNearCap(await writeUntilFull(path('a', 'data', 'new'), WRITE_BYTES));
    await expectWrites(path('b', 'data', 'new'), WRITE_BYTES);
    await expectWrites(path('src', 'data', 'new'), WRITE_BYTES);

    // A clone never inherits its source's cap.
    await driver.cloneVolume('a', 'a-clone');
    await expectWrites(path('a-clone', 'data', 'more'), WRITE_BYTES);

    await driver.setVolumeLimit('a', null);
    await driver.setVolumeLimit('a', null);
    await expectWrites(path('a', 'data', 'new'), WRITE_BYTES);

    await driver.deleteVolume('a');
    expect(await driver.exists('a')).toBe(false);
    expect(await driver.listStaging()).toEqual([]);
    for (const v of ['a-clone', 'b', 'src']) await driver.deleteVolume(v);
  });

  it('a clone of a volume capped with an exempt path holds that path as a plain copy', async (ctx) => {
    if (expected === 'none') return ctx.skip();
    await driver.createVolume('walled');
    await mkdir(path('walled', 'wal'));
    await expectWrites(path('walled', 'wal', 'segment'), 2 * MIB);
    await expectWrites(path('walled', 'data'), 2 * MIB);
    await driver.setVolumeLimit('walled', CAP_BYTES, { exemptPaths: ['wal'] });
    await expectWrites(path('walled', 'wal', 'later'), MIB);
    await driver.cloneVolume('walled', 'walled-clone');
    expect((await stat(path('walled-clone', 'wal', 'segment'))).size).toBe(2 * MIB);
    expect((await stat(path('walled-clone', 'wal', 'later'))).size).toBe(MIB);
    expect((await stat(path('walled-clone', 'data'))).size).toBe(2 * MIB);
    // A clone of the clone, too (the clone's wal is a plain directory).
    await driver.cloneVolume('walled-clone', 'walled-clone-2');
    expect((await stat(path('walled-clone-2', 'wal', 'later'))).size).toBe(MIB);
    for (const v of ['walled-clone-2', 'walled-clone', 'walled']) await driver.deleteVolume(v);
    expect(await driver.listStaging()).toEqual([]);
  });

  it('caps again after a volume grew, counting only what it adds from then on', async (ctx) => {
    if (expected === 'none') return ctx.skip();
    await driver.createVolume('grown');
    await expectWrites(path('grown', 'own'), 12 * MIB);
    await driver.setVolumeLimit('grown', 20 * MIB);
    // 12 MiB of its own already count against the 20 MiB cap.
    expectStoppedNearCap(await writeUntilFull(path('grown', 'more'), WRITE_BYTES));
    await driver.deleteVolume('grown');
  });
}

for (const c of CASES) {
  const skipReason = await testPoolSkipReason(c.kind);
  if (skipReason) console.warn(`volume limits: skipping the ${c.driver} driver on ${c.kind}: ${skipReason}`);
  describe.skipIf(skipReason !== undefined)(`volume limits: ${c.driver} driver on ${c.kind}`, () => {
    volumeLimits(c);
  });
}
