import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { cloneTree, type CloneMethod } from './clone-tree.js';
import { replaceWithClone } from './clone-path.js';
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
import { listTreeFiles, type TreeFiles } from './tree-files.js';
import type {
  ChangedRanges,
  ChangedRangesOptions,
  CloneOptions,
  StorageCapabilities,
  StorageDriver,
  VolumeLimitOptions,
  VolumeLimitSupport,
  VolumeUsage,
} from './types.js';
import { assertStagingName } from './volume-names.js';

export interface DirectoryDriverSpec {
  readonly name: 'reflink' | 'copy';
  readonly capabilities: StorageCapabilities;
  readonly method: CloneMethod;
  readonly ownBytes: (files: TreeFiles) => Promise<number>;
  /** Per-volume caps, when the filesystem under the pool can enforce them. */
  readonly limits: VolumeLimiter;
  /** How two volumes' files are compared; roots are existing volume directories. */
  readonly changedRanges: (baseRoot: string, headRoot: string, options: ChangedRangesOptions) => Promise<ChangedRanges>;
}

/** How a directory driver caps volumes; `volumePath` is an existing volume's directory. */
export interface VolumeLimiter {
  support(): Promise<VolumeLimitSupport>;
  set(volumePath: string, bytes: number | null, options: VolumeLimitOptions): Promise<void>;
}

/** For drivers that cannot cap a volume at all. */
export function noVolumeLimits(reason: string): VolumeLimiter {
  return {
    support: async () => ({ kind: 'none', reason }),
    async set() {
      throw new PgbranchError('STORAGE_UNAVAILABLE', `this pool cannot cap a volume's size: ${reason}`, { cause: new Error(reason) });
    },
  };
}

/**
 * Volumes as plain directories, cloned file by file. Clones are built under a staging name and
 * renamed into place, and deletions rename first, so a crash never leaves a half-made or
 * half-deleted volume under a real name — only staging entries (`listStaging`).
 */
export function createDirectoryDriver(poolPath: string, spec: DirectoryDriverSpec): StorageDriver {
  return {
    name: spec.name,
    capabilities: spec.capabilities,
    poolPath,

    volumePath: (volume) => volumePathIn(poolPath, volume),

    async createVolume(volume) {
      const path = volumePathIn(poolPath, volume);
      await assertPoolExists(poolPath);
      try {
        await mkdir(path);
        await chmod(path, 0o755);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') throw volumeExists(poolPath, volume, err);
        throw storageError(`cannot create volume ${volume}`, err, { volume });
      }
      return path;
    },

    async cloneVolume(source, target, options: CloneOptions = {}) {
      const sourcePath = await requireVolume(poolPath, source);
      const targetPath = await requireNoVolume(poolPath, target);
      const staging = stagingPathIn(poolPath, 'clone', target);
      await cloneTree(sourcePath, staging, { method: spec.method, excludePaths: options.excludePaths ?? [] });
      try {
        // rename(2) would also replace an *empty* directory created meanwhile under the target
        // name; creating volumes is serialised by the caller, so that race is theirs to avoid.
        await rename(staging, targetPath);
      } catch (err) {
        await rm(staging, { recursive: true, force: true }).catch(() => undefined);
        if (errnoCode(err) === 'ENOTEMPTY' || errnoCode(err) === 'EEXIST') throw volumeExists(poolPath, target, err);
        throw storageError(`cannot move the clone of ${source} into place as ${target}`, err, { source, target });
      }
      return targetPath;
    },

    async clonePath(source, target, relativePath) {
      const sourcePath = await requireVolume(poolPath, source);
      const targetPath = await requireVolume(poolPath, target);
      await replaceWithClone(sourcePath, targetPath, relativePath, spec.method);
    },

    async deleteVolume(volume) {
      const path = volumePathIn(poolPath, volume);
      const doomed = stagingPathIn(poolPath, 'delete', volume);
      try {
        await rename(path, doomed);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return assertPoolExists(poolPath);
        throw storageError(`cannot delete volume ${volume}`, err, { volume });
      }
      await rm(doomed, { recursive: true, force: true }).catch((err: unknown) => {
        throw storageError(`volume ${volume} is gone but its data at ${doomed} could not be removed`, err, { volume });
      });
    },

    // async, so an invalid name rejects like every other failure instead of throwing synchronously.
    exists: async (volume) => isDirectory(volumePathIn(poolPath, volume)),
    listVolumes: () => listVolumeNames(poolPath),
    listStaging: () => listStagingNames(poolPath),

    async removeStaging(name) {
      assertStagingName(name);
      await rm(join(poolPath, name), { recursive: true, force: true }).catch((err: unknown) => {
        throw storageError(`cannot remove staging entry ${name}`, err, { name });
      });
    },

    async usage(volume): Promise<VolumeUsage> {
      const files = await listTreeFiles(await requireVolume(poolPath, volume));
      return { ownBytes: await spec.ownBytes(files), totalBytes: files.totalBytes };
    },

    poolUsage: () => poolUsageOf(poolPath),

    limitSupport: () => spec.limits.support(),

    async setVolumeLimit(volume, bytes, options = {}) {
      await spec.limits.set(await requireVolume(poolPath, volume), bytes, options);
    },

    async changedRanges(baseVolume, volume, options = {}) {
      const [baseRoot, headRoot] = await Promise.all([requireVolume(poolPath, baseVolume), requireVolume(poolPath, volume)]);
      return spec.changedRanges(baseRoot, headRoot, options);
    },
  };
}
