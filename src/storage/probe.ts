import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, lstat, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { which } from '../util/index.js';
import { errnoCode, storageError } from './storage-errors.js';
import { runTool } from './tools.js';
import type { DriverName } from './types.js';

export interface ProbeResult {
  /** Filesystem holding the directory, from its statfs magic; `0x…` when unknown. */
  readonly fsType: 'btrfs' | 'xfs' | 'ext4' | 'tmpfs' | 'zfs' | 'overlay' | 'nfs' | (string & {});
  /** A subvolume could actually be created and deleted here (btrfs, with the CLI, with rights). */
  readonly btrfsSubvolumes: boolean;
  /** A file could actually be cloned here with FICLONE. */
  readonly reflink: boolean;
}

/** statfs f_type values (linux/magic.h). ext2, ext3 and ext4 share one. */
const FS_MAGIC: ReadonlyMap<number, ProbeResult['fsType']> = new Map([
  [0x9123683e, 'btrfs'],
  [0x58465342, 'xfs'],
  [0xef53, 'ext4'],
  [0x01021994, 'tmpfs'],
  [0x2fc12fc1, 'zfs'],
  [0x794c7630, 'overlay'],
  [0x6969, 'nfs'],
]);

/** Prefix of the probe's scratch entries; dot-prefixed so they never look like volumes. */
const PROBE_PREFIX = '.pgbranch-probe-';

/**
 * Finds out what `path` (an existing, writable directory) can do by trying it: a filesystem type
 * says little on its own (XFS may be formatted without reflink, btrfs may lack the CLI or rights).
 * Everything the probe creates is removed before it returns.
 */
export async function probeDirectory(path: string): Promise<ProbeResult> {
  let type: number;
  try {
    if (!(await lstat(path)).isDirectory()) throw Object.assign(new Error(`${path} is not a directory`), { code: 'ENOTDIR' });
    type = (await statfs(path)).type;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      throw new PgbranchError('STORAGE_UNAVAILABLE', `cannot probe ${path}: it is not an existing directory`, { cause: err, details: { path } });
    }
    throw storageError(`cannot probe ${path}`, err, { path });
  }
  const fsType = FS_MAGIC.get(type) ?? `0x${type.toString(16)}`;
  const reflink = await canReflink(path);
  const btrfsSubvolumes = fsType === 'btrfs' && (await canCreateSubvolume(path));
  return { fsType, btrfsSubvolumes, reflink };
}

/**
 * The driver a pool directory supports best, or undefined when it supports no CoW at all (the
 * caller then decides between a loop-mounted pool and the copy driver).
 */
export function chooseDriver(probe: ProbeResult): DriverName | undefined {
  if (probe.btrfsSubvolumes) return 'btrfs';
  if (probe.reflink) return 'reflink';
  return undefined;
}

/** The probe result allows `driver` to work in that directory. */
export function driverSupported(driver: DriverName, probe: ProbeResult): boolean {
  if (driver === 'btrfs') return probe.btrfsSubvolumes;
  if (driver === 'reflink') return probe.reflink;
  return true;
}

const NO_REFLINK_CODES = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY']);

async function canReflink(dir: string): Promise<boolean> {
  const base = join(dir, `${PROBE_PREFIX}${randomBytes(4).toString('hex')}`);
  try {
    // A whole block, so the clone exercises real extents rather than an empty inode.
    await writeFile(base, randomBytes(4096));
    await copyFile(base, `${base}.clone`, constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch (err) {
    if (NO_REFLINK_CODES.has(errnoCode(err) ?? '')) return false;
    throw storageError(`cannot probe ${dir} for reflink support`, err, { path: dir });
  } finally {
    await rm(base, { force: true });
    await rm(`${base}.clone`, { force: true });
  }
}

async function canCreateSubvolume(dir: string): Promise<boolean> {
  const btrfs = await which('btrfs');
  if (!btrfs) return false;
  const subvolume = join(dir, `${PROBE_PREFIX}${randomBytes(4).toString('hex')}`);
  try {
    await runTool(btrfs, ['subvolume', 'create', subvolume], 'probe');
  } catch {
    // Not allowed or not possible here: either way the btrfs driver cannot work in this directory.
    return false;
  }
  try {
    await runTool(btrfs, ['subvolume', 'delete', subvolume], 'cannot remove the probe subvolume');
  } catch {
    // Creating works but deleting does not (unprivileged without user_subvol_rm_allowed): the
    // driver could not delete volumes, so answer no. Recent kernels still let the owner rmdir an
    // empty subvolume, which is all the cleanup this needs.
    await rm(subvolume, { recursive: true, force: true }).catch(() => undefined);
    return false;
  }
  return true;
}
