import { chmod, chown, lstat, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { parseBtrfsDuSummary } from './btrfs-du.js';
import { parseSubvolumeMarks } from './btrfs-generations.js';
import { compareVolumeExtents } from './changed-ranges.js';
import { replaceWithClone } from './clone-path.js';
import { cloneTree } from './clone-tree.js';
import {
  assertPoolExists,
  isDirectory,
  listStagingNames,
  listVolumeNames,
  poolUsageOf,
  requireNoVolume,
  requireVolume,
  stagingPathIn,
  volumeExists,
  volumePathIn,
} from './pool.js';
import { errnoCode, storageError } from './storage-errors.js';
import { listTreeFiles } from './tree-files.js';
import { requireTool, runTool } from './tools.js';
import type { StorageDriver, VolumeLimitSupport, VolumeUsage } from './types.js';
import { assertStagingName, normaliseRelativePath, STAGING_PREFIX } from './volume-names.js';

/** How long a room check waits for the cleaner to free deleted volumes' space. */
const RECLAIM_TIMEOUT_MS = 60_000;

/** Inode number of every btrfs subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOLUME_ROOT_INO = 256;

/**
 * At a volume's root of a volume that was ever capped: the relative paths that are nested
 * subvolumes exempt from its cap (JSON array). A snapshot leaves a nested subvolume out (an
 * empty directory in its place), so clones read this to fill those paths in; and a snapshot
 * inherits its source's qgroup limit, which clones lift.
 */
const EXEMPT_MARKER = '.pgbranch-exempt.json';

const btrfsTool = (): Promise<string> => requireTool('btrfs', 'btrfs-progs', 'manage btrfs subvolumes');

/**
 * Each volume is a subvolume; a clone is a writable snapshot, which btrfs takes atomically (it
 * flushes the source's dirty data first), so a running instance can be cloned after a CHECKPOINT.
 * Snapshots are taken under a staging name and renamed: `btrfs subvolume snapshot src dst` nests
 * the snapshot *inside* dst if dst appeared meanwhile, which a rename cannot do.
 */
export function createBtrfsDriver(poolPath: string): StorageDriver {
  let quotasOn: Promise<void> | undefined;
  // Quotas are switched on only when the first cap is set: qgroup accounting makes every
  // snapshot and delete do more work, and it applies to the whole filesystem, which a pool may
  // share with other data.
  const enableQuotas = (): Promise<void> => {
    quotasOn ??= (async () => {
      const btrfs = await btrfsTool();
      // Enabling is a no-op when quotas are already on; a first enable starts a rescan whose
      // numbers (and so the caps) are wrong until it ends, hence the wait.
      await runTool(btrfs, ['quota', 'enable', poolPath], 'cannot enable btrfs quotas on the pool');
      await runTool(btrfs, ['quota', 'rescan', '-W', poolPath], 'cannot wait for the btrfs quota rescan');
    })().catch((err: unknown) => {
      quotasOn = undefined;
      throw err;
    });
    return quotasOn;
  };

  return {
    name: 'btrfs',
    capabilities: { atomicSnapshot: true, constantTimeClone: true, ownBytes: 'exact' },
    poolPath,

    volumePath: (volume) => volumePathIn(poolPath, volume),

    async createVolume(volume) {
      await assertPoolExists(poolPath);
      const path = await requireNoVolume(poolPath, volume);
      const btrfs = await btrfsTool();
      try {
        await runTool(btrfs, ['subvolume', 'create', path], `cannot create subvolume for volume ${volume}`);
      } catch (err) {
        if (await isDirectory(path)) throw volumeExists(poolPath, volume, err);
        throw err;
      }
      try {
        await chmod(path, 0o755);
      } catch (err) {
        throw storageError(`cannot set the mode of volume ${volume}`, err, { volume });
      }
      return path;
    },

    async cloneVolume(source, target) {
      // excludePaths is ignored on purpose: a snapshot is all or nothing (see CloneOptions).
      const sourcePath = await requireVolume(poolPath, source);
      const targetPath = await requireNoVolume(poolPath, target);
      await assertSubvolume(sourcePath, source);
      const btrfs = await btrfsTool();
      const staging = stagingPathIn(poolPath, 'clone', target);
      await runTool(btrfs, ['subvolume', 'snapshot', sourcePath, staging], `cannot snapshot volume ${source}`);
      try {
        // Exempt paths are nested subvolumes, which the snapshot left out: fill them in as plain
        // directories (a clone does not inherit the cap, nor so the exemption). They are cloned
        // after the snapshot, so they are at least as new as it: for a write-ahead log that is
        // what recovery needs (it replays to the end of the log it finds).
        const exempt = await readExempt(sourcePath);
        if (exempt !== undefined) {
          // The kernel copies the source's limits to the snapshot's qgroup; a clone starts uncapped.
          await runTool(btrfs, ['qgroup', 'limit', '-e', 'none', staging], `cannot lift the inherited cap of the snapshot of ${source}`);
          for (const rel of exempt) await replaceWithClone(sourcePath, staging, rel, 'reflink');
          await rm(join(staging, EXEMPT_MARKER), { force: true });
        }
      } catch (err) {
        await deleteSubvolumeTree(staging).catch(() => undefined);
        throw storageError(`cannot fill in the exempt paths of the snapshot of ${source}`, err, { source, target });
      }
      try {
        await rename(staging, targetPath);
      } catch (err) {
        await deleteSubvolumeTree(staging).catch(() => undefined);
        if (errnoCode(err) === 'ENOTEMPTY' || errnoCode(err) === 'EEXIST') throw volumeExists(poolPath, target, err);
        throw storageError(`cannot move the snapshot of ${source} into place as ${target}`, err, { source, target });
      }
      return targetPath;
    },

    async clonePath(source, target, relativePath) {
      // Subvolumes of one filesystem share extents across FICLONE, so the per-file path works here.
      const sourcePath = await requireVolume(poolPath, source);
      const targetPath = await requireVolume(poolPath, target);
      await replaceWithClone(sourcePath, targetPath, relativePath, 'reflink');
    },

    async deleteVolume(volume) {
      const path = volumePathIn(poolPath, volume);
      // Renamed first: `subvolume delete` does not wait for a commit, and after a crash the
      // subvolume may come back — better under a staging name than as a live volume.
      const doomed = stagingPathIn(poolPath, 'delete', volume);
      try {
        await rename(path, doomed);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return assertPoolExists(poolPath);
        throw storageError(`cannot delete volume ${volume}`, err, { volume });
      }
      await deleteSubvolumeTree(doomed);
    },

    // async, so an invalid name rejects like every other failure instead of throwing synchronously.
    exists: async (volume) => isDirectory(volumePathIn(poolPath, volume)),
    listVolumes: () => listVolumeNames(poolPath),
    listStaging: () => listStagingNames(poolPath),

    async removeStaging(name) {
      assertStagingName(name);
      await deleteSubvolumeTree(join(poolPath, name));
    },

    async usage(volume, options = {}): Promise<VolumeUsage> {
      const path = await requireVolume(poolPath, volume);
      const files = await listTreeFiles(path);
      const btrfs = await btrfsTool();
      // `filesystem du` reads extents from disk; until a commit, fresh writes are invisible to it.
      if (!options.committed) await commitPool(btrfs, path, `before measuring ${volume}`);
      // Its extent walk grows with the clones sharing the volume's extents: in the background, it
      // yields the CPU to the operations users wait for.
      const du = await runTool(btrfs, ['filesystem', 'du', '-s', '--raw', path], `cannot measure volume ${volume}`, { lowPriority: options.background === true });
      return { ownBytes: parseBtrfsDuSummary(du.stdout, path).exclusiveBytes, totalBytes: files.totalBytes };
    },

    poolUsage: () => poolUsageOf(poolPath),

    async reclaimDeleted() {
      const btrfs = await btrfsTool();
      // The cleaner takes up a deleted subvolume only once its delete is committed (left alone,
      // at the next periodic commit, up to 30 s later): commit, wait for `subvolume sync` to see
      // every deleted subvolume cleaned, and commit again so that the freed extents count as free.
      await commitPool(btrfs, poolPath);
      await runTool(btrfs, ['subvolume', 'sync', poolPath], 'cannot wait for deleted volumes to be cleaned', { timeoutMs: RECLAIM_TIMEOUT_MS });
      await commitPool(btrfs, poolPath);
    },

    async changeMarks() {
      const btrfs = await btrfsTool();
      // A generation moves when its transaction commits: commit first, so that what was written
      // just now (and fsynced into the log tree only) counts.
      await commitPool(btrfs, poolPath, 'before reading generations');
      const listed = await runTool(btrfs, ['subvolume', 'list', '-g', poolPath], 'cannot list the subvolumes of the pool');
      return parseSubvolumeMarks(listed.stdout, new Set(await listVolumeNames(poolPath)));
    },

    limitSupport: async (): Promise<VolumeLimitSupport> =>
      // Enabling quotas and setting limits are CAP_SYS_ADMIN ioctls.
      process.geteuid?.() === 0 ? { kind: 'exclusive' } : { kind: 'none', reason: 'btrfs qgroup limits need root' },

    async setVolumeLimit(volume, bytes, options = {}) {
      const path = await requireVolume(poolPath, volume);
      if (process.geteuid?.() !== 0) {
        throw new PgbranchError('STORAGE_UNAVAILABLE', `cannot cap volume ${volume}: btrfs qgroup limits need root`, {
          cause: new Error(`effective uid is ${process.geteuid?.()}`),
          details: { volume },
        });
      }
      await assertSubvolume(path, volume);
      // Every cap leaves the exempt marker, and clones lift inherited caps: a volume without the
      // marker was never capped, so lifting its cap needs neither quotas nor a tool call.
      if (bytes === null && (await readExempt(path)) === undefined) return;
      await enableQuotas();
      const btrfs = await btrfsTool();
      // Before the limit: once capped, copying the exempt data into its own subvolume could
      // itself be refused.
      if (bytes !== null) await exemptFromCap(btrfs, path, options.exemptPaths ?? []);
      // -e: the exclusive limit counts only extents no other subvolume references, i.e. what the
      // branch wrote itself; the data it shares with its parent is not charged to it. The limit is
      // set by qgroup id through the pool's directory, not through the volume: the ioctl starts a
      // transaction in the subvolume of the path it is given, and in a volume at its cap that
      // reservation itself fails with EDQUOT, so a cap could not be raised when it matters most.
      const { stdout } = await runTool(btrfs, ['inspect-internal', 'rootid', path], `cannot find the subvolume id of volume ${volume}`);
      const qgroup = `0/${stdout.trim()}`;
      await quotaRetrying(btrfs, poolPath, () =>
        runTool(btrfs, ['qgroup', 'limit', '-e', bytes === null ? 'none' : String(bytes), qgroup, poolPath], `cannot cap volume ${volume}`),
      );
    },

    async changedRanges(baseVolume, volume, options = {}) {
      // A snapshot shares its source's extents exactly like a reflink copy, and FIEMAP reports
      // them the same way, so both drivers compare physical extents.
      const [baseRoot, headRoot] = await Promise.all([requireVolume(poolPath, baseVolume), requireVolume(poolPath, volume)]);
      return compareVolumeExtents(baseRoot, headRoot, options);
    },
  };
}

/** How often a change refused with EDQUOT is tried again, each after a committed transaction. */
const EDQUOT_ATTEMPTS = 4;

function isQuotaExceeded(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (errnoCode(e) === 'EDQUOT' || /Disk quota exceeded|EDQUOT/.test(String((e as Error).message ?? ''))) return true;
    const stderr = (e as { stderr?: unknown }).stderr;
    if (typeof stderr === 'string' && /Disk quota exceeded/.test(stderr)) return true;
  }
  return false;
}

/** Commits the pool's running transaction (`btrfs filesystem sync`; `path` is any path in it). */
async function commitPool(btrfs: string, path: string, why?: string): Promise<void> {
  await runTool(btrfs, ['filesystem', 'sync', path], `cannot sync the pool${why ? ` ${why}` : ''}`);
}

/**
 * Runs a qgroup change, trying again after a filesystem sync when btrfs answers EDQUOT. Metadata
 * space a transaction reserves is charged to qgroups until the transaction commits: on a busy
 * pool (or right after a volume hit its cap) a change can be refused for reservations that a
 * commit releases. The sync commits; a refusal that outlives a few commits is real.
 */
async function quotaRetrying<T>(btrfs: string, poolPath: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= EDQUOT_ATTEMPTS || !isQuotaExceeded(err)) throw err;
      await commitPool(btrfs, poolPath);
    }
  }
}

/** The exempt paths of a volume that was ever capped; undefined for one that never was. */
async function readExempt(volumePath: string): Promise<string[] | undefined> {
  try {
    return JSON.parse(await readFile(join(volumePath, EXEMPT_MARKER), 'utf8')) as string[];
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw storageError(`cannot read ${EXEMPT_MARKER} of ${volumePath}`, err);
  }
}

/**
 * Turns each exempt directory into a nested subvolume: qgroup limits count a subvolume's own
 * extents only, so what is written there is not charged to the volume. Idempotent, and a crash
 * part-way is repaired by the next call (the original stays under `.tmp-exempt-old-…` until the
 * new subvolume is in place).
 */
async function exemptFromCap(btrfs: string, volumePath: string, exemptPaths: readonly string[]): Promise<void> {
  const recorded = await readExempt(volumePath);
  const done = new Set(recorded ?? []);
  for (const raw of exemptPaths) {
    const rel = normaliseRelativePath(raw);
    const dir = join(volumePath, rel);
    const building = join(dirname(dir), `${STAGING_PREFIX}exempt-${basename(dir)}`);
    const old = join(dirname(dir), `${STAGING_PREFIX}exempt-old-${basename(dir)}`);
    const dirStat = await lstat(dir).catch(() => undefined);
    if (!dirStat && (await lstat(old).catch(() => undefined))) await rename(old, dir);
    else if (dirStat?.ino === SUBVOLUME_ROOT_INO) {
      await rm(old, { recursive: true, force: true });
      done.add(rel);
      continue;
    }
    await deleteSubvolumeTree(building);
    const st = await lstat(dir).catch((err: unknown) => {
      throw storageError(`cannot exempt ${rel} of ${volumePath} from its cap`, err, { relativePath: rel });
    });
    await runTool(btrfs, ['subvolume', 'create', building], `cannot create a subvolume for ${rel}`);
    await chown(building, st.uid, st.gid);
    await chmod(building, st.mode & 0o7777);
    for (const entry of await readdir(dir)) await cloneTree(join(dir, entry), join(building, entry), { method: 'reflink' });
    await rename(dir, old);
    await rename(building, dir);
    await rm(old, { recursive: true, force: true });
    done.add(rel);
  }
  // Only when it changed: a volume at its cap cannot take even this small write.
  if (recorded === undefined || done.size !== recorded.length) await writeFile(join(volumePath, EXEMPT_MARKER), JSON.stringify([...done]));
}

async function assertSubvolume(path: string, volume: string): Promise<void> {
  const st = await lstat(path).catch((err: unknown) => {
    throw storageError(`cannot inspect volume ${volume}`, err, { volume });
  });
  if (st.ino !== SUBVOLUME_ROOT_INO) {
    throw new PgbranchError('STORAGE_ERROR', `volume ${volume} is a plain directory, not a btrfs subvolume, so it cannot be snapshotted (was it created outside pgbranch?)`, {
      cause: new Error(`inode ${st.ino} at ${path}`),
      details: { volume },
    });
  }
}

/**
 * Removes a subvolume, including subvolumes nested inside it (btrfs refuses to delete a subvolume
 * that still contains one). Plain directories are removed as files. Missing paths are fine.
 */
async function deleteSubvolumeTree(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw storageError(`cannot inspect ${path}`, err);
  }
  if (!st.isDirectory() || st.ino !== SUBVOLUME_ROOT_INO) {
    // rm also copes with subvolumes nested in a plain directory: the kernel lets rmdir remove an
    // emptied subvolume.
    await rm(path, { recursive: true, force: true }).catch((err: unknown) => {
      throw storageError(`cannot remove ${path}`, err);
    });
    return;
  }
  const btrfs = await btrfsTool();
  try {
    await runTool(btrfs, ['subvolume', 'delete', path], `cannot delete subvolume ${path}`);
    return;
  } catch (err) {
    // Only a nested subvolume makes btrfs answer ENOTEMPTY; look for them only then, as the
    // search walks the whole tree.
    if (!(err instanceof Error && err.message.includes('Directory not empty'))) throw err;
  }
  const nested = await findNestedSubvolumes(path);
  // Deepest first, so every subvolume is free of subvolumes when its turn comes; the CLI deletes
  // in argument order.
  const order = [...nested.sort((a, b) => b.split('/').length - a.split('/').length), path];
  await runTool(btrfs, ['subvolume', 'delete', ...order], `cannot delete subvolume ${path} and the subvolumes inside it`);
}

/**
 * Subvolume roots are recognised by their inode number. (`btrfs subvolume list` would report
 * paths relative to the filesystem root, which we would have to map back to the mount.)
 */
async function findNestedSubvolumes(root: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw storageError(`cannot list ${dir}`, err);
    }
    await Promise.all(
      entries
        .filter((e) => e.isDirectory())
        .map(async (e) => {
          const child = join(dir, e.name);
          const st = await lstat(child).catch(() => undefined);
          if (st?.ino === SUBVOLUME_ROOT_INO) found.push(child);
          await visit(child);
        }),
    );
  };
  await visit(root);
  return found;
}
