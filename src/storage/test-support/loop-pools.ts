import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../util/index.js';
import { createLoopPool, isMountPoint, loopPoolPrerequisites, unmountLoopPool, type DriverName, type LoopFsType } from '../index.js';

/**
 * Real, loop-mounted pools for tests anywhere in the project: each kind is the filesystem a driver
 * needs (btrfs → btrfs, XFS with reflink → reflink, ext4 → copy, as ext4 has no CoW at all).
 */

export type TestPoolKind = LoopFsType;

export interface TestPool {
  readonly kind: TestPoolKind;
  readonly driver: DriverName;
  /** Where the filesystem is mounted. */
  readonly mountPoint: string;
  /** Directory for the storage driver, on the mounted filesystem (created, mode 0755). */
  readonly poolPath: string;
  /** Unmounts, detaches the loop device and removes image and directories. Idempotent. */
  cleanup(): Promise<void>;
}

export interface CreateTestPoolOptions {
  /** Apparent image size; sparse, so only written data costs disk. At least 300 for XFS. */
  readonly sizeMb?: number;
}

const DRIVER_FOR: Readonly<Record<TestPoolKind, DriverName>> = { btrfs: 'btrfs', xfs: 'reflink', ext4: 'copy' };
const DEFAULT_SIZE_MB = 512;
/** A process still leaving the pool (a postgres shutting down) may hold it busy for a moment. */
const UNMOUNT_TIMEOUT_MS = 15_000;

/** Why this machine cannot provide a pool of `kind` (for describe.skipIf), or undefined if it can. */
export async function testPoolSkipReason(kind: TestPoolKind): Promise<string | undefined> {
  try {
    await loopPoolPrerequisites(kind);
    return undefined;
  } catch (err) {
    return `no ${kind} test pool: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Pools (mount point → temp dir) that must not outlive this process even if a test forgets cleanup. */
const livePools = new Map<string, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible on 'exit'; umount -l detaches at once and the loop device
  // autoclears when the last user goes. The directory is removed only once nothing is mounted in it.
  process.once('exit', () => {
    for (const [mountPoint, dir] of livePools) {
      if (spawnSync('umount', ['-l', mountPoint], { stdio: 'ignore' }).status === 0) rmSync(dir, { recursive: true, force: true });
    }
  });
}

export async function createTestPool(kind: TestPoolKind, options: CreateTestPoolOptions = {}): Promise<TestPool> {
  const sizeMb = options.sizeMb ?? DEFAULT_SIZE_MB;
  const dir = await mkdtemp(join(tmpdir(), `pgbranch-${kind}-pool-`));
  // Traversable by everyone: tests run postgres as an unprivileged user that must reach the pool.
  await chmod(dir, 0o755);
  const imagePath = join(dir, 'pool.img');
  const mountPoint = join(dir, 'mnt');
  const poolPath = join(mountPoint, 'volumes');
  try {
    await createLoopPool({ imagePath, mountPoint, sizeBytes: sizeMb * 1024 * 1024, fsType: kind });
    installExitHook();
    livePools.set(mountPoint, dir);
    await chmod(mountPoint, 0o755);
    await mkdir(poolPath, { mode: 0o755 });
    await chmod(poolPath, 0o755);
  } catch (err) {
    await removePool(dir, mountPoint);
    throw err;
  }
  let cleaned: Promise<void> | undefined;
  return {
    kind,
    driver: DRIVER_FOR[kind],
    mountPoint,
    poolPath,
    cleanup: () => (cleaned ??= removePool(dir, mountPoint)),
  };
}

async function removePool(dir: string, mountPoint: string): Promise<void> {
  // Retried rather than forced: a lazy unmount would hide a test that leaks open files.
  let lastError: unknown;
  try {
    await waitFor(
      async () => {
        try {
          await unmountLoopPool(mountPoint);
          return true;
        } catch (err) {
          lastError = err;
          return undefined;
        }
      },
      { timeoutMs: UNMOUNT_TIMEOUT_MS, intervalMs: 100, what: `${mountPoint} to unmount` },
    );
  } catch (err) {
    throw lastError ?? err;
  }
  livePools.delete(mountPoint);
  // Never rm a tree that still has a filesystem mounted in it.
  if (await isMountPoint(mountPoint)) throw new Error(`${mountPoint} is still mounted after unmount`);
  await rm(dir, { recursive: true, force: true });
}
