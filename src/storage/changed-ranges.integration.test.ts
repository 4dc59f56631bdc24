import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorageDriver, type ChangedRanges, type DriverName, type FileChange, type StorageDriver } from './index.js';
import { createTestPool, testPoolSkipReason, type TestPool, type TestPoolKind } from './test-support/loop-pools.js';

/**
 * changedRanges on real pools: a volume with a few big files is cloned, pages of the clone are
 * rewritten at random (some left in the page cache, unflushed), and the answer is checked against
 * the bytes themselves: every page that differs must lie in a reported range, and the reported
 * total must stay close to what was written.
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const PAGE = 8 * KIB;

/** Deterministic positions, so a failure can be replayed (content is random, which does not matter). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function writeAt(path: string, offset: number, data: Buffer, options: { sync: boolean }): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.write(data, 0, data.length, offset);
    if (options.sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

async function put(path: string, data: Buffer | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

function rangesOf(result: ChangedRanges, path: string): FileChange | undefined {
  if (result.kind !== 'ranges') throw new Error(`expected ranges, got ${result.kind}`);
  return result.files.find((file) => file.path === path);
}

/**
 * Checks the one-way exactness promise for `path`: every page of the head that differs from the
 * base (or lies past its end) is covered by a reported range. Returns how many pages differ.
 */
async function expectCovered(result: ChangedRanges, baseFile: string, headFile: string, path: string): Promise<number> {
  const [base, head] = await Promise.all([readFile(baseFile), readFile(headFile)]);
  const change = rangesOf(result, path);
  const ranges = change?.change === 'modified' ? change.ranges : [];
  if (change && change.change !== 'modified') throw new Error(`${path} reported as ${change.change}`);
  if (!change) expect(head.length, `${path} is unreported, so its size is unchanged`).toBe(base.length);
  const covered = (start: number, end: number): boolean => ranges.some((r) => r.offsetBytes <= start && end <= r.offsetBytes + r.lengthBytes);
  let differing = 0;
  for (let at = 0; at < head.length; at += PAGE) {
    const end = Math.min(at + PAGE, head.length);
    if (end <= base.length && head.subarray(at, end).equals(base.subarray(at, end))) continue;
    differing++;
    expect(covered(at, end), `${path}: differing page at ${at} must be inside a reported range`).toBe(true);
  }
  return differing;
}

function changedRangesContract(kind: TestPoolKind, driverName: DriverName): void {
  let pool: TestPool;
  let driver: StorageDriver;
  const file = (volume: string, rel: string): string => join(driver.volumePath(volume), rel);

  beforeAll(async () => {
    pool = await createTestPool(kind, { sizeMb: 512 });
    driver = createStorageDriver({ driver: driverName, poolPath: pool.poolPath });
    await driver.createVolume('base');
    await put(file('base', 'pgdata/base/1/big'), randomBytes(24 * MIB));
    await put(file('base', 'pgdata/base/1/mid'), randomBytes(8 * MIB));
    await put(file('base', 'pgdata/base/1/shrinks'), randomBytes(8 * MIB));
    await put(file('base', 'pgdata/base/1/tiny'), 'x'.repeat(100));
    await put(file('base', 'pgdata/base/1/empty'), '');
    await put(file('base', 'pgdata/base/1/gone'), randomBytes(MIB));
    await put(file('base', 'pgdata/global/g'), randomBytes(MIB));
    await put(file('base', 'other/outside'), randomBytes(MIB));
    // Data only at both ends, a hole in between.
    const sparse = file('base', 'pgdata/base/1/sparse');
    await put(sparse, randomBytes(MIB));
    await writeAt(sparse, 15 * MIB, randomBytes(MIB), { sync: true });
  });
  afterAll(async () => {
    await pool?.cleanup();
  });

  it('a fresh clone differs in nothing', async () => {
    await driver.cloneVolume('base', 'fresh');
    const result = await driver.changedRanges!('base', 'fresh', { directory: 'pgdata' });
    if (driverName === 'copy') {
      expect(result.kind).toBe('unknown');
      return;
    }
    expect(result).toMatchObject({ kind: 'ranges', files: [], changedBytes: 0 });
    expect(result.kind === 'ranges' && result.comparedFiles).toBe(7);
  });

  it('reports every rewritten page, new, removed, grown and shrunk files, and little else', async () => {
    await driver.cloneVolume('base', 'head');
    const random = prng(20240611);
    const big = file('head', 'pgdata/base/1/big');
    let written = 0;
    for (let i = 0; i < 24; i++) {
      const page = Math.floor(random() * ((24 * MIB) / PAGE));
      // Half stay in the page cache: the answer must see them anyway.
      await writeAt(big, page * PAGE, randomBytes(PAGE), { sync: i % 2 === 0 });
      written += PAGE;
    }
    // A page rewritten with its own bytes: reporting it is allowed, missing others is not.
    const same = await readFile(file('base', 'pgdata/base/1/mid'));
    await writeAt(file('head', 'pgdata/base/1/mid'), 40 * PAGE, same.subarray(40 * PAGE, 41 * PAGE), { sync: true });
    await writeAt(file('head', 'pgdata/base/1/mid'), 8 * MIB, randomBytes(3 * PAGE), { sync: false });
    await truncate(file('head', 'pgdata/base/1/shrinks'), 4 * MIB);
    await writeAt(file('head', 'pgdata/base/1/shrinks'), 2 * MIB, randomBytes(PAGE), { sync: false });
    await writeAt(file('head', 'pgdata/base/1/sparse'), 7 * MIB, randomBytes(PAGE), { sync: false });
    await writeFile(file('head', 'pgdata/base/1/tiny'), 'y'.repeat(100));
    await unlink(file('head', 'pgdata/base/1/gone'));
    await put(file('head', 'pgdata/base/1/new'), randomBytes(64 * KIB));
    await writeAt(file('head', 'other/outside'), 0, randomBytes(PAGE), { sync: true });
    written += 3 * PAGE + 2 * PAGE + 100;

    const t0 = performance.now();
    const result = await driver.changedRanges!('base', 'head', { directory: 'pgdata' });
    const elapsedMs = performance.now() - t0;
    if (driverName === 'copy') {
      expect(result).toMatchObject({ kind: 'unknown' });
      return;
    }
    if (result.kind !== 'ranges') throw new Error('expected ranges');
    expect(result.files.map((f) => f.path).filter((p) => !p.startsWith('base/') && !p.startsWith('global/'))).toEqual([]);
    expect(rangesOf(result, 'base/1/new')).toEqual({ path: 'base/1/new', change: 'added', sizeBytes: 64 * KIB });
    expect(rangesOf(result, 'base/1/gone')).toEqual({ path: 'base/1/gone', change: 'removed', baseSizeBytes: MIB });
    expect(rangesOf(result, 'base/1/shrinks')).toMatchObject({ change: 'modified', sizeBytes: 4 * MIB, baseSizeBytes: 8 * MIB });
    expect(rangesOf(result, 'base/1/empty')).toBeUndefined();
    expect(rangesOf(result, 'global/g')).toBeUndefined();

    let differing = 0;
    for (const rel of ['big', 'mid', 'shrinks', 'sparse', 'tiny']) {
      differing += await expectCovered(result, file('base', `pgdata/base/1/${rel}`), file('head', `pgdata/base/1/${rel}`), `base/1/${rel}`);
    }
    // 24 random pages (a few may coincide), 3 appended, 1 in the shrunk file, 1 in the hole, tiny.
    expect(differing).toBeGreaterThanOrEqual(20 + 3 + 1 + 1 + 1);
    const addedBytes = 64 * KIB;
    const overReport = result.changedBytes - addedBytes;
    console.info(`changedRanges ${driverName} on ${kind}: ${(overReport / KIB).toFixed(0)} KiB reported for ${(written / KIB).toFixed(0)} KiB written, ${elapsedMs.toFixed(0)} ms`);
    // Filesystems CoW at their block size (4 KiB): only written blocks may move. The one page
    // rewritten with identical bytes counts too.
    expect(overReport).toBeLessThanOrEqual(written + PAGE + 64 * KIB);
  });

  it('restricts the comparison to the paths asked for', async () => {
    await driver.cloneVolume('base', 'narrow');
    await writeAt(file('narrow', 'pgdata/global/g'), PAGE, randomBytes(PAGE), { sync: true });
    await writeAt(file('narrow', 'pgdata/base/1/big'), PAGE, randomBytes(PAGE), { sync: true });
    const result = await driver.changedRanges!('base', 'narrow', { directory: 'pgdata', relativePaths: ['global', 'base/1/missing'] });
    if (driverName === 'copy') return expect(result.kind).toBe('unknown');
    expect(result).toMatchObject({ kind: 'ranges', comparedFiles: 1 });
    expect(result.kind === 'ranges' && result.files).toEqual([
      { path: 'global/g', change: 'modified', sizeBytes: MIB, baseSizeBytes: MIB, ranges: [{ offsetBytes: PAGE, lengthBytes: PAGE }] },
    ]);
  });
}

const COMBINATIONS: ReadonlyArray<{ kind: TestPoolKind; driver: DriverName }> = [
  { kind: 'btrfs', driver: 'btrfs' },
  { kind: 'xfs', driver: 'reflink' },
  { kind: 'btrfs', driver: 'reflink' },
  { kind: 'ext4', driver: 'copy' },
];

for (const { kind, driver } of COMBINATIONS) {
  const skipReason = await testPoolSkipReason(kind);
  if (skipReason) console.warn(`changedRanges: skipping the ${driver} driver on ${kind}: ${skipReason}`);
  describe.skipIf(skipReason !== undefined)(`changedRanges: ${driver} driver on ${kind}`, () => {
    changedRangesContract(kind, driver);
  });
}
