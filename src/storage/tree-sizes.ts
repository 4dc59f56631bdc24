import { lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { errnoCode, storageError } from './storage-errors.js';
import { createTaskLimiter } from './task-limiter.js';

const WALK_CONCURRENCY = 32;

/**
 * Sizes of the regular files under `root` (empty ones included), keyed by their path relative to
 * `root` (POSIX). `relativePaths` narrows the walk to those files or directories; one that does
 * not exist contributes nothing. Symbolic links are neither followed nor listed. A missing `root`
 * yields an empty map: a directory present in only one of two trees means all its files were
 * added or removed.
 */
export async function listFileSizes(root: string, relativePaths?: readonly string[]): Promise<Map<string, number>> {
  const limiter = createTaskLimiter(WALK_CONCURRENCY);
  const sizes = new Map<string, number>();

  const visit = async (rel: string): Promise<void> => {
    const path = rel === '' ? root : join(root, rel);
    let st;
    try {
      st = await limiter.run(() => lstat(path));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return;
      throw err;
    }
    if (st.isFile()) {
      if (rel !== '') sizes.set(rel, st.size);
      return;
    }
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = await limiter.run(() => readdir(path));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    await Promise.all(names.map((name) => visit(rel === '' ? name : posix.join(rel, name))));
  };

  try {
    await Promise.all((relativePaths ?? ['']).map((rel) => visit(rel)));
  } catch (err) {
    throw storageError(`cannot list files under ${root}`, err, { path: root });
  }
  return sizes;
}
