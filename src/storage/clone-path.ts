import { randomBytes } from 'node:crypto';
import { chmod, lchown, lstat, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { cloneTree, type CloneMethod } from './clone-tree.js';
import { errnoCode, storageError } from './storage-errors.js';
import { normaliseRelativePath, STAGING_PREFIX } from './volume-names.js';

/**
 * Makes `targetVolumePath/relativePath` a clone of `sourceVolumePath/relativePath`. The new copy is
 * built next to the old one under a staging name and swapped in by rename, so a failed clone
 * leaves the old content in place. (Staging stays inside the target volume because btrfs cannot
 * rename across subvolumes.)
 */
export async function replaceWithClone(sourceVolumePath: string, targetVolumePath: string, relativePath: string, method: CloneMethod): Promise<void> {
  const rel = normaliseRelativePath(relativePath);
  const source = join(sourceVolumePath, rel);
  const target = join(targetVolumePath, rel);
  try {
    await lstat(source);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new PgbranchError('VOLUME_NOT_FOUND', `${rel} does not exist in ${sourceVolumePath}`, { cause: err, details: { relativePath: rel } });
    }
    throw storageError(`cannot inspect ${source}`, err);
  }
  await mirrorParents(sourceVolumePath, targetVolumePath, rel);

  const suffix = randomBytes(4).toString('hex');
  const staging = join(dirname(target), `${STAGING_PREFIX}clone-${suffix}`);
  const replaced = join(dirname(target), `${STAGING_PREFIX}replaced-${suffix}`);
  await cloneTree(source, staging, { method });

  let movedAside = false;
  try {
    try {
      await rename(target, replaced);
      movedAside = true;
    } catch (err) {
      if (errnoCode(err) === 'ENOTEMPTY' && (await readdir(target)).length === 0) {
        // btrfs: where a snapshot left out a nested subvolume it leaves an empty placeholder
        // directory that cannot be renamed, only removed — and there is nothing in it to keep.
        await rmdir(target);
      } else if (errnoCode(err) !== 'ENOENT') throw err;
    }
    await rename(staging, target);
  } catch (err) {
    if (movedAside) await rename(replaced, target).catch(() => undefined);
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw storageError(`cannot put the clone of ${rel} in place in ${targetVolumePath}`, err, { relativePath: rel });
  }
  if (movedAside) {
    await rm(replaced, { recursive: true, force: true }).catch((err: unknown) => {
      throw storageError(`cloned ${rel} but could not remove its previous content at ${replaced}`, err, { relativePath: rel });
    });
  }
}

/** Creates directories leading to `rel` that the target lacks, with the source's owner and mode. */
async function mirrorParents(sourceRoot: string, targetRoot: string, rel: string): Promise<void> {
  const segments = rel.split('/').slice(0, -1);
  let prefix = '';
  for (const segment of segments) {
    prefix = prefix ? `${prefix}/${segment}` : segment;
    const target = join(targetRoot, prefix);
    try {
      if ((await lstat(target)).isDirectory()) continue;
      throw new PgbranchError('STORAGE_ERROR', `${target} is in the way of ${rel}: it is not a directory`, {
        cause: new Error('not a directory'),
        details: { relativePath: rel },
      });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw storageError(`cannot inspect ${target}`, err);
    }
    try {
      const st = await lstat(join(sourceRoot, prefix));
      await mkdir(target);
      await lchown(target, st.uid, st.gid);
      await chmod(target, st.mode & 0o7777);
    } catch (err) {
      throw storageError(`cannot create ${target}`, err, { relativePath: rel });
    }
  }
}
