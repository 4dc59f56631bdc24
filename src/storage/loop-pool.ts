import { mkdir, open, readFile, realpath, rm, stat } from 'node:fs/promises';
import { PgbranchError } from '../errors.js';
import { waitFor } from '../util/index.js';
import { findMount, isMountPoint } from './mounts.js';
import { errnoCode, storageError } from './storage-errors.js';
import { requireTool, runTool } from './tools.js';
import { kernelLacksXfsQuota } from './xfs-project-quota.js';

export { isMountPoint };

/**
 * A pool on a loop-mounted image file: how `init` gets CoW storage on a host whose own disks are
 * ext4, and how tests get real btrfs/XFS/ext4 filesystems. Everything here needs root.
 */

export type LoopFsType = 'btrfs' | 'xfs' | 'ext4';

export interface MountLoopPoolOptions {
  readonly imagePath: string;
  readonly mountPoint: string;
  readonly fsType: LoopFsType;
}

export interface CreateLoopPoolOptions extends MountLoopPoolOptions {
  /** Apparent size of the image; it is sparse, so disk space is only used as data is written. */
  readonly sizeBytes: number;
}

const MIB = 1024 * 1024;

interface FsSpec {
  readonly mkfs: string;
  readonly debianPackage: string;
  readonly mkfsArgs: readonly string[];
  /** Below this mkfs refuses (xfsprogs ≥ 5.19 wants 300 MiB) or needs special modes. */
  readonly minSizeBytes: number;
  readonly mountOptions: string;
  /** Added to mountOptions where the kernel supports it; without it the pool works, uncapped. */
  readonly quotaMountOption?: string;
}

const FS_SPECS: Readonly<Record<LoopFsType, FsSpec>> = {
  btrfs: {
    mkfs: 'mkfs.btrfs',
    debianPackage: 'btrfs-progs',
    mkfsArgs: ['-f', '-q'],
    minSizeBytes: 128 * MIB,
    // noatime: on btrfs every atime update rewrites metadata shared with snapshots, unsharing it
    // just by reading. user_subvol_rm_allowed: lets a non-root service delete the volumes it made.
    mountOptions: 'loop,noatime,user_subvol_rm_allowed',
  },
  xfs: {
    mkfs: 'mkfs.xfs',
    debianPackage: 'xfsprogs',
    mkfsArgs: ['-f', '-q', '-m', 'reflink=1'],
    minSizeBytes: 300 * MIB,
    mountOptions: 'loop,noatime',
    // Project quotas cap reflink volumes; XFS can only switch them on at mount, not on remount.
    quotaMountOption: 'prjquota',
  },
  ext4: {
    mkfs: 'mkfs.ext4',
    debianPackage: 'e2fsprogs',
    // -m 0: the whole image is the pool; blocks reserved for root would just be lost space.
    mkfsArgs: ['-F', '-q', '-m', '0'],
    minSizeBytes: 16 * MIB,
    mountOptions: 'loop,noatime',
  },
};

/** How long a loop device may take to let go of its image after unmount (autoclear is deferred). */
const LOOP_DETACH_TIMEOUT_MS = 10_000;

function requireRoot(action: string): void {
  if (process.geteuid?.() === 0) return;
  throw new PgbranchError('PERMISSION_DENIED', `${action} needs root (it runs mkfs, mount and losetup); run it as root or with sudo`, {
    cause: new Error(`effective uid is ${process.geteuid?.()}`),
  });
}

async function requireLoopSupport(): Promise<void> {
  try {
    await stat('/dev/loop-control');
  } catch (err) {
    throw new PgbranchError('STORAGE_UNAVAILABLE', 'loop devices are not available (no /dev/loop-control; is the loop module loaded, or is this a container without it?)', {
      cause: err,
    });
  }
}

function fsSpec(fsType: string): FsSpec {
  const spec = (FS_SPECS as Record<string, FsSpec | undefined>)[fsType];
  if (spec) return spec;
  throw new PgbranchError('INVALID_ARGUMENT', `unsupported pool filesystem ${JSON.stringify(fsType)} (use btrfs, xfs or ext4)`, {
    cause: new Error(`fsType ${fsType}`),
  });
}

/** Checks every prerequisite of `createLoopPool` without changing anything. */
export async function loopPoolPrerequisites(fsType: LoopFsType): Promise<void> {
  requireRoot(`creating a loop pool (${fsType})`);
  const spec = fsSpec(fsType);
  await requireTool(spec.mkfs, spec.debianPackage, `format a ${fsType} pool`);
  await requireTool('mount', 'mount', 'mount the pool');
  await requireTool('losetup', 'mount', 'detach the pool');
  await requireLoopSupport();
}

/**
 * Creates a sparse image, formats it and mounts it at `mountPoint` (created if needed). Refuses
 * to overwrite an existing image or to mount over an existing mount. On failure nothing it made
 * is left behind.
 */
export async function createLoopPool(options: CreateLoopPoolOptions): Promise<void> {
  const { imagePath, mountPoint, sizeBytes, fsType } = options;
  const spec = fsSpec(fsType);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < spec.minSizeBytes) {
    throw new PgbranchError('INVALID_ARGUMENT', `a ${fsType} pool needs at least ${spec.minSizeBytes / MIB} MiB (got ${sizeBytes} bytes)`, {
      cause: new Error(`sizeBytes ${sizeBytes}`),
      details: { sizeBytes },
    });
  }
  await loopPoolPrerequisites(fsType);
  const mkfs = await requireTool(spec.mkfs, spec.debianPackage, `format a ${fsType} pool`);
  if (await isMountPoint(mountPoint)) {
    throw new PgbranchError('STORAGE_ERROR', `${mountPoint} already has a filesystem mounted on it`, {
      cause: new Error('mount point busy'),
      details: { mountPoint },
    });
  }

  try {
    // 0600: the image holds every branch's data; only root may read it directly.
    const handle = await open(imagePath, 'wx', 0o600);
    try {
      await handle.truncate(sizeBytes);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') {
      throw new PgbranchError('INVALID_ARGUMENT', `pool image ${imagePath} already exists; refusing to overwrite it (mount it with mountLoopPool)`, {
        cause: err,
        details: { imagePath },
      });
    }
    throw storageError(`cannot create pool image ${imagePath}`, err, { imagePath });
  }

  let createdMountPoint: string | undefined;
  try {
    createdMountPoint = await mkdir(mountPoint, { recursive: true, mode: 0o755 });
    await runTool(mkfs, [...spec.mkfsArgs, imagePath], `cannot format ${imagePath} as ${fsType}`);
    await mountImage(imagePath, mountPoint, fsType);
  } catch (err) {
    await rm(imagePath, { force: true }).catch(() => undefined);
    // mkdir -p reports the first directory it created; that one (empty unless mounted) is ours.
    if (createdMountPoint !== undefined && !(await isMountPoint(mountPoint).catch(() => true))) {
      await rm(createdMountPoint, { recursive: true }).catch(() => undefined);
    }
    throw storageError(`cannot create a ${fsType} pool at ${mountPoint}`, err, { imagePath, mountPoint });
  }
}

/**
 * Mounts an existing pool image (after a reboot, say). Returns false when it was already mounted
 * there, true when this call mounted it; a different filesystem on `mountPoint` is an error.
 */
export async function mountLoopPool(options: MountLoopPoolOptions): Promise<boolean> {
  const { imagePath, mountPoint, fsType } = options;
  fsSpec(fsType);
  requireRoot('mounting a loop pool');
  let image: string;
  try {
    image = await realpath(imagePath);
  } catch (err) {
    throw new PgbranchError('STORAGE_UNAVAILABLE', `pool image ${imagePath} is missing`, { cause: err, details: { imagePath } });
  }
  const existing = await findMount(mountPoint);
  if (existing) {
    if ((await loopBackingFile(existing.source)) === image) return false;
    throw new PgbranchError('STORAGE_ERROR', `${mountPoint} already has ${existing.source} (${existing.fsType}) mounted, not the pool image ${imagePath}`, {
      cause: new Error('mount point busy'),
      details: { mountPoint, source: existing.source },
    });
  }
  await loopPoolPrerequisites(fsType);
  try {
    await mkdir(mountPoint, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw storageError(`cannot create mount point ${mountPoint}`, err, { mountPoint });
  }
  await mountImage(image, mountPoint, fsType);
  return true;
}

/**
 * Unmounts the pool at `mountPoint` and makes sure its loop device is released. Nothing mounted
 * there is not an error.
 */
export async function unmountLoopPool(mountPoint: string): Promise<void> {
  const mount = await findMount(mountPoint);
  if (!mount) return;
  requireRoot('unmounting a loop pool');
  const backingFile = await loopBackingFile(mount.source);
  const umount = await requireTool('umount', 'mount', 'unmount the pool');
  await runTool(umount, [mount.mountPoint], `cannot unmount ${mount.mountPoint} (is a process still using files in it?)`);
  if (backingFile === undefined) return;
  // mount -o loop sets autoclear, but the kernel may release the device a moment after umount
  // returns, or not at all if someone else holds it open; detach explicitly, then confirm.
  const stillAttached = async (): Promise<boolean> => (await loopBackingFile(mount.source)) === backingFile;
  if (await stillAttached()) {
    const losetup = await requireTool('losetup', 'mount', 'detach the pool');
    await runTool(losetup, ['-d', mount.source], 'detach').catch(() => undefined);
  }
  try {
    await waitFor(async () => ((await stillAttached()) ? undefined : true), {
      timeoutMs: LOOP_DETACH_TIMEOUT_MS,
      what: `${mount.source} to release ${backingFile}`,
    });
  } catch (err) {
    throw storageError(`unmounted ${mount.mountPoint} but ${mount.source} still holds ${backingFile}`, err, { device: mount.source });
  }
}

async function mountImage(imagePath: string, mountPoint: string, fsType: LoopFsType): Promise<void> {
  const mount = await requireTool('mount', 'mount', 'mount the pool');
  const { mountOptions, quotaMountOption } = FS_SPECS[fsType];
  const mountWith = (options: string) =>
    runTool(mount, ['-t', fsType, '-o', options, imagePath, mountPoint], `cannot mount ${imagePath} at ${mountPoint}`);
  if (quotaMountOption === undefined) return void (await mountWith(mountOptions));
  try {
    await mountWith(`${mountOptions},${quotaMountOption}`);
  } catch (err) {
    // A kernel without CONFIG_XFS_QUOTA refuses the option; the pool is still usable, only uncapped
    // (limitSupport() then says why). Any other failure is real.
    if (!(await kernelLacksXfsQuota())) throw err;
    await mountWith(mountOptions);
  }
}

/** The file behind /dev/loopN, or undefined when `device` is not an attached loop device. */
async function loopBackingFile(device: string): Promise<string | undefined> {
  const m = /^\/dev\/loop(\d+)$/.exec(device);
  if (!m) return undefined;
  try {
    const text = await readFile(`/sys/block/loop${m[1]}/loop/backing_file`, 'utf8');
    return text.trim().replace(/ \(deleted\)$/, '');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw storageError(`cannot inspect ${device}`, err, { device });
  }
}
