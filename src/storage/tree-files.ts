import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { errnoCode, storageError } from './storage-errors.js';

export interface TreeFiles {
  /** Absolute paths of the regular files that hold data (size > 0). */
  readonly dataFiles: string[];
  /** Sum of the apparent sizes of all regular files. */
  readonly totalBytes: number;
}

/**
 * Lists the regular files under `root`. Entries that vanish during the walk are ignored: usage is
 * measured on live volumes, and a file deleted mid-walk simply no longer counts.
 *
 * One directory at a time with synchronous calls, yielding to the event loop between
 * directories. The walk runs in `serve` for every volume its size refresh measures, and a
 * promise per lstat (a threadpool round trip, a wake-up, the promise machinery) made each
 * walk of a data directory cost ~100 ms of serve's CPU, competing with creates. Synchronously an
 * lstat costs ~20 µs on a fresh snapshot (its inodes are not in memory yet) and a few µs once
 * they are, so a directory of a few hundred files holds the loop for a few milliseconds at most.
 */
export async function listTreeFiles(root: string): Promise<TreeFiles> {
  const dataFiles: string[] = [];
  let totalBytes = 0;
  const pending = [root];
  try {
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (err) {
        if (dir !== root && errnoCode(err) === 'ENOENT') continue;
        throw err;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) pending.push(path);
        else if (entry.isFile()) {
          const st = lstatSync(path, { throwIfNoEntry: false });
          if (st === undefined) continue;
          totalBytes += st.size;
          if (st.size > 0) dataFiles.push(path);
        }
      }
      if (pending.length > 0) await yieldToLoop();
    }
  } catch (err) {
    throw storageError(`cannot list files under ${root}`, err, { path: root });
  }
  return { dataFiles, totalBytes };
}
