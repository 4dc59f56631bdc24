import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode, storageError } from './storage-errors.js';
import { createTaskLimiter } from './task-limiter.js';

const WALK_CONCURRENCY = 32;

export interface TreeFiles {
  /** Absolute paths of the regular files that hold data (size > 0). */
  readonly dataFiles: string[];
  /** Sum of the apparent sizes of all regular files. */
  readonly totalBytes: number;
}

/**
 * Lists the regular files under `root`. Entries that vanish during the walk are ignored: usage is
 * measured on live volumes, and a file deleted mid-walk simply no longer counts.
 */
export async function listTreeFiles(root: string): Promise<TreeFiles> {
  const limiter = createTaskLimiter(WALK_CONCURRENCY);
  const dataFiles: string[] = [];
  let totalBytes = 0;

  const visitDirectory = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await limiter.run(() => readdir(dir, { withFileTypes: true }));
    } catch (err) {
      if (dir !== root && errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    await Promise.all(
      entries.map(async (entry) => {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) return visitDirectory(path);
        if (!entry.isFile()) return;
        try {
          const st = await limiter.run(() => lstat(path));
          totalBytes += st.size;
          if (st.size > 0) dataFiles.push(path);
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw err;
        }
      }),
    );
  };

  try {
    await visitDirectory(root);
  } catch (err) {
    throw storageError(`cannot list files under ${root}`, err, { path: root });
  }
  return { dataFiles, totalBytes };
}
