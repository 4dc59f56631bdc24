import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, lchown, lstat, mkdir, open, readdir, readFile, readlink, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCode } from './test-support/expect-code.js';
import { createStorageDriver, type DriverName, type StorageDriver } from './index.js';
import { createTestPool, testPoolSkipReason, type TestPool, type TestPoolKind } from './test-support/loop-pools.js';

/**
 * One contract, run unchanged against every driver on the filesystem it is meant for, each a real
 * loop-mounted pool. Driver differences the interface declares (capabilities) are asserted as
 * such, not skipped.
 */

const NOBODY = 65534;
const KIB = 1024;
const MIB = 1024 * KIB;
/** A fresh clone owns only metadata-ish leftovers; anything near a data block count would be a real copy. */
const FRESH_CLONE_OWN_BYTES_TOLERANCE = 256 * KIB;
const POOL_SIZE_MB = 512;

interface EntryDigest {
  readonly path: string;
  readonly type: 'dir' | 'file' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly content?: string;
}

/** Everything the clone must preserve, for a whole tree, comparable with toEqual. */
async function digestTree(root: string): Promise<EntryDigest[]> {
  const out: EntryDigest[] = [];
  const visit = async (rel: string): Promise<void> => {
    const path = rel ? join(root, rel) : root;
    const st = await lstat(path);
    const base = { path: rel || '.', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) {
      out.push({ ...base, type: 'dir' });
      for (const name of (await readdir(path)).sort()) await visit(rel ? `${rel}/${name}` : name);
    } else if (st.isFile()) {
      out.push({ ...base, type: 'file', content: sha256(await readFile(path)) });
    } else if (st.isSymbolicLink()) {
      out.push({ ...base, mode: 0, type: 'symlink', content: await readlink(path) });
    } else {
      out.push({ ...base, type: 'other' });
    }
  };
  await visit('');
  return out;
}

/** Buffers compared by digest: vitest's deep equality walks them byte by byte, seconds per MiB. */
function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function writeOwned(path: string, data: string | Buffer, mode: number, uid = NOBODY): Promise<void> {
  await writeFile(path, data);
  await chown(path, uid, uid);
  await chmod(path, mode);
}

async function mkdirOwned(path: string, mode: number, uid = NOBODY): Promise<void> {
  await mkdir(path);
  await chown(path, uid, uid);
  await chmod(path, mode);
}

/** Overwrites `length` bytes at `offset` in place (no truncation), as a database does. */
async function rewriteRange(path: string, offset: number, length: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(randomBytes(length), 0, length, offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function storageContract(makePool: () => Promise<TestPool>): void {
  let pool: TestPool;
  let driver: StorageDriver;

  beforeAll(async () => {
    pool = await makePool();
    driver = createStorageDriver({ driver: pool.driver, poolPath: pool.poolPath });
  });
  afterAll(async () => {
    await pool?.cleanup();
  });

  const path = (volume: string, ...rel: string[]): string => join(driver.volumePath(volume), ...rel);

  it('creates, lists, reports and deletes volumes; delete is idempotent', async () => {
    expect(await driver.createVolume('alpha')).toBe(path('alpha'));
    expect((await lstat(path('alpha'))).isDirectory()).toBe(true);
    expect(await driver.exists('alpha')).toBe(true);
    expect(await driver.listVolumes()).toContain('alpha');
    await expectCode(driver.createVolume('alpha'), 'VOLUME_EXISTS');

    await writeOwned(path('alpha', 'f'), 'x', 0o600);
    await driver.deleteVolume('alpha');
    expect(await driver.exists('alpha')).toBe(false);
    expect(await driver.listVolumes()).not.toContain('alpha');
    await driver.deleteVolume('alpha');
    await driver.deleteVolume('never-existed');
    expect(await driver.listStaging()).toEqual([]);
  });

  it('rejects volume names that are not plain names', async () => {
    for (const bad of ['', '../x', 'a/b', '.hidden', '-x']) {
      expect(() => driver.volumePath(bad)).toThrow();
      await expectCode(driver.createVolume(bad), 'INVALID_ARGUMENT');
      await expectCode(driver.deleteVolume(bad), 'INVALID_ARGUMENT');
    }
    await driver.createVolume('names-src');
    await expectCode(driver.cloneVolume('names-src', '../escape'), 'INVALID_ARGUMENT');
  });

  it('lists volumes only; staging leftovers are listed and removed separately', async () => {
    await driver.createVolume('listed');
    await mkdir(join(pool.poolPath, '.tmp-clone-deadbeef-crashed'));
    await writeFile(join(pool.poolPath, '.tmp-clone-deadbeef-crashed', 'half'), 'x');
    await mkdir(join(pool.poolPath, '.not-ours'));
    await writeFile(join(pool.poolPath, 'stray-file'), 'not a directory, not a volume');

    const volumes = await driver.listVolumes();
    expect(volumes).toContain('listed');
    expect(volumes.filter((v) => v.startsWith('.') || v === 'stray-file')).toEqual([]);
    expect(await driver.listStaging()).toEqual(['.tmp-clone-deadbeef-crashed']);

    await driver.removeStaging('.tmp-clone-deadbeef-crashed');
    await driver.removeStaging('.tmp-clone-deadbeef-crashed');
    expect(await driver.listStaging()).toEqual([]);
    await expectCode(driver.removeStaging('listed'), 'INVALID_ARGUMENT');
    await rm(join(pool.poolPath, '.not-ours'), { recursive: true });
    await rm(join(pool.poolPath, 'stray-file'));
  });

  it('clones preserve content, mode, owner and symlinks', async () => {
    await driver.createVolume('tree');
    const v = (...rel: string[]) => path('tree', ...rel);
    await chown(v(), NOBODY, NOBODY);
    await chmod(v(), 0o750);
    await mkdirOwned(v('data'), 0o700);
    await writeOwned(v('data', 'big.bin'), randomBytes(3 * MIB + 123), 0o600);
    await writeOwned(v('data', 'conf'), 'hello\n', 0o640);
    await writeOwned(v('data', 'empty'), '', 0o644);
    await writeOwned(v('run.sh'), '#!/bin/sh\n', 0o755, 0);
    await mkdirOwned(v('data', 'nested'), 0o755);
    await mkdirOwned(v('data', 'nested', 'deeper'), 0o711, 0);
    await writeOwned(v('data', 'nested', 'deeper', 'leaf'), 'leaf', 0o400);
    await mkdirOwned(v('readonly'), 0o500);
    await symlink('data/conf', v('link'));
    await lchown(v('link'), NOBODY, NOBODY);
    await symlink('nowhere', v('dangling'));
    await symlink('/etc/hostname', v('absolute'));

    await driver.cloneVolume('tree', 'tree-clone');
    const clone = await digestTree(path('tree-clone'));
    expect(clone).toEqual(await digestTree(v()));
    // Spot checks, so a digest bug cannot make the comparison vacuous.
    expect(clone.find((e) => e.path === 'data/conf')).toMatchObject({ type: 'file', mode: 0o640, uid: NOBODY, gid: NOBODY });
    expect(clone.find((e) => e.path === 'link')).toMatchObject({ type: 'symlink', content: 'data/conf', uid: NOBODY });
    expect(clone.find((e) => e.path === '.')).toMatchObject({ mode: 0o750, uid: NOBODY });
    expect(clone).toHaveLength(13);
    expect(await driver.listStaging()).toEqual([]);
  });

  it('clones are isolated from their source, both ways', async () => {
    await driver.createVolume('iso');
    await writeOwned(path('iso', 'block'), randomBytes(2 * MIB), 0o600);
    await writeOwned(path('iso', 'shared'), 'original', 0o600);
    await driver.cloneVolume('iso', 'iso-clone');
    const before = sha256(await readFile(path('iso', 'block')));

    await rewriteRange(path('iso-clone', 'block'), MIB, 4 * KIB);
    await writeFile(path('iso-clone', 'shared'), 'changed in clone');
    await writeFile(path('iso-clone', 'only-in-clone'), 'x');
    expect(sha256(await readFile(path('iso', 'block')))).toBe(before);
    expect(await readFile(path('iso', 'shared'), 'utf8')).toBe('original');
    expect(await driver.exists('iso')).toBe(true);
    await expect(lstat(path('iso', 'only-in-clone'))).rejects.toMatchObject({ code: 'ENOENT' });

    const cloneBlock = sha256(await readFile(path('iso-clone', 'block')));
    expect(cloneBlock).not.toBe(before);
    await rewriteRange(path('iso', 'block'), 0, 64 * KIB);
    await unlink(path('iso', 'shared'));
    expect(sha256(await readFile(path('iso-clone', 'block')))).toBe(cloneBlock);
    expect(await readFile(path('iso-clone', 'shared'), 'utf8')).toBe('changed in clone');
  });

  it('refuses a missing source and an existing target, leaving the target as it was', async () => {
    await expectCode(driver.cloneVolume('no-such-volume', 'orphan'), 'VOLUME_NOT_FOUND');
    expect(await driver.exists('orphan')).toBe(false);

    await driver.createVolume('taken-src');
    await driver.createVolume('taken');
    await writeFile(path('taken', 'mine'), 'keep me');
    await expectCode(driver.cloneVolume('taken-src', 'taken'), 'VOLUME_EXISTS');
    expect(await readFile(path('taken', 'mine'), 'utf8')).toBe('keep me');
    expect(await driver.listStaging()).toEqual([]);
  });

  it('excludePaths gives empty directories and skipped files, unless the driver snapshots atomically', async () => {
    await driver.createVolume('ex');
    await mkdirOwned(path('ex', 'pg_wal'), 0o700);
    await writeOwned(path('ex', 'pg_wal', '000000010000000000000001'), randomBytes(64 * KIB), 0o600);
    await mkdirOwned(path('ex', 'pg_wal', 'archive_status'), 0o700);
    await writeOwned(path('ex', 'postmaster.pid'), '1234\n', 0o600);
    await writeOwned(path('ex', 'keep'), 'kept', 0o600);

    await driver.cloneVolume('ex', 'ex-clone', { excludePaths: ['pg_wal', 'postmaster.pid', 'does/not/exist'] });
    const wal = await lstat(path('ex-clone', 'pg_wal'));
    expect({ dir: wal.isDirectory(), mode: wal.mode & 0o7777, uid: wal.uid, gid: wal.gid }).toEqual({ dir: true, mode: 0o700, uid: NOBODY, gid: NOBODY });
    expect(await readFile(path('ex-clone', 'keep'), 'utf8')).toBe('kept');
    if (driver.capabilities.atomicSnapshot) {
      expect(await readdir(path('ex-clone', 'pg_wal'))).toHaveLength(2);
      expect(await readFile(path('ex-clone', 'postmaster.pid'), 'utf8')).toBe('1234\n');
    } else {
      expect(await readdir(path('ex-clone', 'pg_wal'))).toEqual([]);
      await expect(lstat(path('ex-clone', 'postmaster.pid'))).rejects.toMatchObject({ code: 'ENOENT' });
    }
    if (driver.capabilities.atomicSnapshot) {
      // excludePaths is not even looked at by an atomic snapshot.
      await driver.cloneVolume('ex', 'ex-bad', { excludePaths: ['../outside'] });
    } else {
      await expectCode(driver.cloneVolume('ex', 'ex-bad', { excludePaths: ['../outside'] }), 'INVALID_ARGUMENT');
      expect(await driver.exists('ex-bad')).toBe(false);
    }
  });

  it('clonePath replaces a subtree or a file with the source version', async () => {
    await driver.createVolume('cp');
    await mkdirOwned(path('cp', 'wal'), 0o700);
    await writeOwned(path('cp', 'wal', 'a'), 'a1', 0o600);
    await writeOwned(path('cp', 'wal', 'b'), 'b1', 0o600);
    await writeOwned(path('cp', 'conf'), 'conf1', 0o644);
    await driver.cloneVolume('cp', 'cp-clone');

    await unlink(path('cp', 'wal', 'a'));
    await writeFile(path('cp', 'wal', 'b'), 'b2 longer');
    await writeOwned(path('cp', 'wal', 'c'), randomBytes(300 * KIB), 0o640);
    await mkdirOwned(path('cp', 'wal', 'sub'), 0o750);
    await writeOwned(path('cp', 'wal', 'sub', 'd'), 'd', 0o600);
    await writeFile(path('cp-clone', 'wal', 'stale'), 'only in clone');
    await writeFile(path('cp-clone', 'unrelated'), 'untouched');

    await driver.clonePath('cp', 'cp-clone', 'wal/');
    expect(await digestTree(path('cp-clone', 'wal'))).toEqual(await digestTree(path('cp', 'wal')));
    expect(await readFile(path('cp-clone', 'unrelated'), 'utf8')).toBe('untouched');

    await writeFile(path('cp', 'conf'), 'conf2');
    await driver.clonePath('cp', 'cp-clone', 'conf');
    expect(await readFile(path('cp-clone', 'conf'), 'utf8')).toBe('conf2');

    // Parents missing in the target are created like the source's.
    await mkdirOwned(path('cp', 'newdir'), 0o710);
    await mkdirOwned(path('cp', 'newdir', 'inner'), 0o700);
    await writeOwned(path('cp', 'newdir', 'inner', 'f'), 'f', 0o600);
    await driver.clonePath('cp', 'cp-clone', 'newdir/inner/f');
    expect(await digestTree(path('cp-clone', 'newdir'))).toEqual(await digestTree(path('cp', 'newdir')));

    await expectCode(driver.clonePath('cp', 'cp-clone', 'nope'), 'VOLUME_NOT_FOUND');
    await expectCode(driver.clonePath('cp', 'cp-clone', '../cp'), 'INVALID_ARGUMENT');
    await expectCode(driver.clonePath('cp', 'no-such-volume', 'conf'), 'VOLUME_NOT_FOUND');
    expect((await readdir(path('cp-clone'))).filter((n) => n.startsWith('.'))).toEqual([]);
    expect((await readdir(path('cp-clone', 'wal'))).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('a clone that fails leaves no target behind (or, atomically, takes everything)', async () => {
    await driver.createVolume('fifo');
    await writeOwned(path('fifo', 'file'), 'x', 0o600);
    const made = spawnSync('mkfifo', [path('fifo', 'pipe')]);
    expect(made.status).toBe(0);

    if (driver.capabilities.atomicSnapshot) {
      await driver.cloneVolume('fifo', 'fifo-clone');
      expect((await lstat(path('fifo-clone', 'pipe'))).isFIFO()).toBe(true);
    } else {
      await expectCode(driver.cloneVolume('fifo', 'fifo-clone'), 'STORAGE_ERROR');
      expect(await driver.exists('fifo-clone')).toBe(false);
    }
    expect(await driver.listStaging()).toEqual([]);
  });

  it('usage: a fresh clone owns (almost) nothing and grows when rewritten', async () => {
    await driver.createVolume('u');
    await writeOwned(path('u', 'data'), randomBytes(8 * MIB), 0o600);
    await writeOwned(path('u', 'small'), 'tiny', 0o600);
    const sourceUsage = await driver.usage('u');
    expect(sourceUsage.totalBytes).toBe(8 * MIB + 4);
    expect(sourceUsage.ownBytes).toBeGreaterThanOrEqual(8 * MIB);

    await driver.cloneVolume('u', 'u-clone');
    const fresh = await driver.usage('u-clone');
    expect(fresh.totalBytes).toBe(8 * MIB + 4);
    if (driver.capabilities.ownBytes === 'exact') expect(fresh.ownBytes).toBeLessThan(FRESH_CLONE_OWN_BYTES_TOLERANCE);
    else expect(fresh.ownBytes).toBe(fresh.totalBytes);

    await rewriteRange(path('u-clone', 'data'), 2 * MIB, 4 * MIB);
    const rewritten = await driver.usage('u-clone');
    expect(rewritten.totalBytes).toBe(8 * MIB + 4);
    if (driver.capabilities.ownBytes === 'exact') {
      expect(rewritten.ownBytes).toBeGreaterThanOrEqual(4 * MIB);
      expect(rewritten.ownBytes).toBeLessThan(4 * MIB + MIB);
    } else {
      expect(rewritten.ownBytes).toBe(rewritten.totalBytes);
    }
    await expectCode(driver.usage('no-such-volume'), 'VOLUME_NOT_FOUND');
  });

  it('poolUsage reports the pool filesystem', async () => {
    const usage = await driver.poolUsage();
    expect(usage.totalBytes).toBeGreaterThan(0.5 * POOL_SIZE_MB * MIB);
    expect(usage.totalBytes).toBeLessThanOrEqual(POOL_SIZE_MB * MIB);
    expect(usage.freeBytes).toBeGreaterThan(0);
    expect(usage.usedBytes).toBeGreaterThan(0);
    expect(usage.usedBytes + usage.freeBytes).toBeLessThanOrEqual(usage.totalBytes);
  });

  it('cloning a volume that is being written concurrently does not throw', async () => {
    await driver.createVolume('live');
    const stable = randomBytes(MIB);
    await writeOwned(path('live', 'stable'), stable, 0o600);
    await mkdir(path('live', 'churn'));
    for (let i = 0; i < 300; i++) await writeFile(path('live', 'churn', String(i)), randomBytes(4 * KIB));

    // The writer creates, appends to and deletes files for as long as the clone runs, so the walk
    // meets entries that vanish and files that grow under it.
    let writing = true;
    let iterations = 0;
    const writer = (async () => {
      for (let i = 300; writing; i++, iterations++) {
        await writeFile(path('live', 'churn', String(i)), randomBytes(4 * KIB));
        await rm(path('live', 'churn', String(i - 300)), { force: true });
        await writeFile(path('live', 'log'), randomBytes(KIB), { flag: 'a' });
      }
    })();
    try {
      await driver.cloneVolume('live', 'live-clone');
    } finally {
      writing = false;
      await writer;
    }
    expect(iterations).toBeGreaterThan(0);
    expect(sha256(await readFile(path('live-clone', 'stable')))).toBe(sha256(stable));
    expect((await readdir(path('live-clone', 'churn'))).length).toBeGreaterThan(0);
    expect(await driver.listStaging()).toEqual([]);
  });

  it('deletes volumes whose directories are read-only or owned by others', async () => {
    await driver.createVolume('ro');
    await mkdirOwned(path('ro', 'locked'), 0o700);
    await writeOwned(path('ro', 'locked', 'f'), 'x', 0o400);
    await chmod(path('ro', 'locked'), 0o500);
    await driver.cloneVolume('ro', 'ro-clone');
    await driver.deleteVolume('ro-clone');
    await driver.deleteVolume('ro');
    expect(await driver.exists('ro')).toBe(false);
    expect(await driver.exists('ro-clone')).toBe(false);
    expect(await driver.listStaging()).toEqual([]);
  });
}

interface Combination {
  readonly kind: TestPoolKind;
  readonly driver: DriverName;
}

/**
 * Each driver on the filesystem it is meant for, plus the reflink driver on btrfs: DESIGN lists
 * btrfs as a reflink filesystem, and its FIEMAP output differs (inline extents).
 */
const COMBINATIONS: readonly Combination[] = [
  { kind: 'btrfs', driver: 'btrfs' },
  { kind: 'xfs', driver: 'reflink' },
  { kind: 'ext4', driver: 'copy' },
  { kind: 'btrfs', driver: 'reflink' },
];

for (const { kind, driver } of COMBINATIONS) {
  const skipReason = await testPoolSkipReason(kind);
  if (skipReason) console.warn(`storage contract: skipping the ${driver} driver on ${kind}: ${skipReason}`);
  describe.skipIf(skipReason !== undefined)(`storage contract: ${driver} driver on ${kind}`, () => {
    storageContract(async () => ({ ...(await createTestPool(kind, { sizeMb: POOL_SIZE_MB })), driver }));
  });
}
