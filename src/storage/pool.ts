import { randomBytes } from 'node:crypto';
import { lstat, readdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { errnoCode, storageError } from './storage-errors.js';
import type { PoolUsage } from './types.js';
import { assertVolumeName, isStagingName, isValidVolumeName, STAGING_PREFIX } from './volume-names.js';

/** Helpers every driver shares: the pool is a directory whose entries are volumes. */

/**
 * A missing pool directory almost always means the pool filesystem is not mounted (e.g. after a
 * reboot). Failing here keeps us from quietly creating volumes on the root filesystem underneath.
 */
export async function assertPoolExists(poolPath: string): Promise<void> {
  try {
    const st = await lstat(poolPath);
    if (st.isDirectory()) return;
    throw new PgbranchError('STORAGE_UNAVAILABLE', `pool path ${poolPath} is not a directory`, { cause: new Error('not a directory'), details: { poolPath } });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new PgbranchError('STORAGE_UNAVAILABLE', `pool directory ${poolPath} does not exist (is the pool filesystem mounted?)`, {
        cause: err,
        details: { poolPath },
      });
    }
    throw storageError(`cannot access pool ${poolPath}`, err, { poolPath });
  }
}

export function volumePathIn(poolPath: string, volume: string): string {
  assertVolumeName(volume);
  return join(poolPath, volume);
}

/** True when `path` is a directory; a non-directory under a volume's name is not a volume. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw storageError(`cannot inspect ${path}`, err, { path });
  }
}

export async function requireVolume(poolPath: string, volume: string): Promise<string> {
  const path = volumePathIn(poolPath, volume);
  if (!(await isDirectory(path))) {
    await assertPoolExists(poolPath);
    throw new PgbranchError('VOLUME_NOT_FOUND', `volume ${volume} does not exist in pool ${poolPath}`, {
      cause: new Error(`no directory at ${path}`),
      details: { volume, poolPath },
    });
  }
  return path;
}

export async function requireNoVolume(poolPath: string, volume: string): Promise<string> {
  const path = volumePathIn(poolPath, volume);
  try {
    await lstat(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return path;
    throw storageError(`cannot inspect ${path}`, err, { path });
  }
  throw volumeExists(poolPath, volume, new Error(`${path} exists`));
}

export function volumeExists(poolPath: string, volume: string, cause: unknown): PgbranchError {
  return new PgbranchError('VOLUME_EXISTS', `volume ${volume} already exists in pool ${poolPath}`, { cause, details: { volume, poolPath } });
}

/**
 * A fresh, unguessable entry name for work in progress. The volume name is kept in it so a human
 * looking at leftovers knows what they were.
 */
export function stagingPathIn(poolPath: string, purpose: 'clone' | 'delete', volume: string): string {
  return join(poolPath, `${STAGING_PREFIX}${purpose}-${randomBytes(4).toString('hex')}-${volume}`);
}

async function readPool(poolPath: string): Promise<Array<{ name: string; isDirectory: boolean }>> {
  await assertPoolExists(poolPath);
  try {
    const entries = await readdir(poolPath, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory() }));
  } catch (err) {
    throw storageError(`cannot list pool ${poolPath}`, err, { poolPath });
  }
}

/** Directories with valid volume names; dot entries and things like ext4's lost+found are not volumes. */
export async function listVolumeNames(poolPath: string): Promise<string[]> {
  return (await readPool(poolPath))
    .filter((e) => e.isDirectory && isValidVolumeName(e.name))
    .map((e) => e.name)
    .sort();
}

export async function listStagingNames(poolPath: string): Promise<string[]> {
  return (await readPool(poolPath))
    .filter((e) => isStagingName(e.name))
    .map((e) => e.name)
    .sort();
}

export async function poolUsageOf(poolPath: string): Promise<PoolUsage> {
  try {
    const st = await statfs(poolPath);
    return {
      totalBytes: st.blocks * st.bsize,
      usedBytes: (st.blocks - st.bfree) * st.bsize,
      // Blocks reserved for root are neither used by data nor available to it; report what is.
      freeBytes: st.bavail * st.bsize,
    };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') await assertPoolExists(poolPath);
    throw storageError(`cannot read usage of pool ${poolPath}`, err, { poolPath });
  }
}
