import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { run } from '../util/index.js';
import { createStorageDriver, type StorageDriver } from './index.js';
import { createTestPool, testPoolSkipReason, type TestPool } from './test-support/loop-pools.js';

const skipReason = await testPoolSkipReason('btrfs');
if (skipReason) console.warn(`btrfs driver: skipping: ${skipReason}`);

describe.skipIf(skipReason !== undefined)('btrfs driver specifics', () => {
  let pool: TestPool;
  let driver: StorageDriver;
  beforeAll(async () => {
    pool = await createTestPool('btrfs', { sizeMb: 256 });
    driver = createStorageDriver({ driver: 'btrfs', poolPath: pool.poolPath });
  });
  afterAll(async () => {
    await pool?.cleanup();
  });

  it('makes every volume a subvolume, and deletes volumes holding nested subvolumes', async () => {
    await driver.createVolume('outer');
    // Someone (a user, a tool) made subvolumes inside the volume, two levels deep.
    await run('btrfs', ['subvolume', 'create', join(driver.volumePath('outer'), 'inner')]);
    await run('btrfs', ['subvolume', 'create', join(driver.volumePath('outer'), 'inner', 'innermost')]);
    await writeFile(join(driver.volumePath('outer'), 'inner', 'innermost', 'f'), 'x');

    const listed = await run('btrfs', ['subvolume', 'list', '-o', pool.poolPath]);
    expect(listed.stdout).toMatch(/volumes\/outer$/m);

    await driver.deleteVolume('outer');
    expect(await driver.exists('outer')).toBe(false);
    expect(await driver.listStaging()).toEqual([]);
    expect((await run('btrfs', ['subvolume', 'list', pool.mountPoint])).stdout.trim()).toBe('');
  });

  it("marks each volume's content: a write (also one into a nested subvolume) moves its mark and no other's", async () => {
    await driver.createVolume('m-a');
    await driver.createVolume('m-b');
    await run('btrfs', ['subvolume', 'create', join(driver.volumePath('m-b'), 'wal')]);
    const before = await driver.changeMarks!();
    expect([...before.keys()].sort()).toEqual(expect.arrayContaining(['m-a', 'm-b']));
    expect(await driver.changeMarks!(), 'nothing written: every mark stays').toEqual(before);
    // Not synced by the writer: the driver's own commit makes it count.
    await writeFile(join(driver.volumePath('m-a'), 'f'), 'written');
    const afterA = await driver.changeMarks!();
    expect(afterA.get('m-a')).not.toBe(before.get('m-a'));
    expect(afterA.get('m-b')).toBe(before.get('m-b'));
    await writeFile(join(driver.volumePath('m-b'), 'wal', 'seg'), 'written');
    const afterB = await driver.changeMarks!();
    expect(afterB.get('m-b'), 'a write in a nested subvolume moves the mark of the volume holding it').not.toBe(before.get('m-b'));
    expect(afterB.get('m-a')).toBe(afterA.get('m-a'));
    await driver.cloneVolume('m-a', 'm-c');
    expect((await driver.changeMarks!()).get('m-c'), 'a clone has a mark of its own').toBeDefined();
    for (const v of ['m-a', 'm-b', 'm-c']) await driver.deleteVolume(v);
  });

  it('gives back the space of deleted volumes once the cleaner is done (reclaimDeleted waits for it)', async () => {
    await driver.createVolume('big');
    // 96 MiB of incompressible data, committed, in a 256 MiB pool.
    await writeFile(join(driver.volumePath('big'), 'data'), randomBytes(96 * 1024 * 1024));
    await run('btrfs', ['filesystem', 'sync', pool.poolPath]);
    const full = await driver.poolUsage();
    await driver.deleteVolume('big');
    await driver.reclaimDeleted!();
    const after = await driver.poolUsage();
    expect(after.freeBytes - full.freeBytes).toBeGreaterThan(90 * 1024 * 1024);
    expect((await run('btrfs', ['subvolume', 'list', '-d', pool.mountPoint])).stdout.trim()).toBe('');
  });

  it('refuses to snapshot a volume that is a plain directory', async () => {
    await mkdir(join(pool.poolPath, 'plain'));
    const err = await driver.cloneVolume('plain', 'plain-clone').catch((e: unknown) => e);
    expect(isPgbranchError(err, 'STORAGE_ERROR')).toBe(true);
    expect(String((err as Error).message)).toMatch(/not a btrfs subvolume/);
    expect(await driver.exists('plain-clone')).toBe(false);
    await driver.deleteVolume('plain');
    expect(await driver.exists('plain')).toBe(false);
  });
});
