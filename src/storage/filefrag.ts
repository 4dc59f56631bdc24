import { lstat } from 'node:fs/promises';
import { PgbranchError } from '../errors.js';
import { errnoCode } from './storage-errors.js';
import { createTaskLimiter } from './task-limiter.js';
import { requireTool, runTool } from './tools.js';

/**
 * Extent accounting through FIEMAP. Node cannot issue the ioctl itself, so we run e2fsprogs'
 * `filefrag -v` (which works on any filesystem with FIEMAP, not only ext4) over many files per
 * process and parse the extent table.
 */

export interface FileExtents {
  /** Bytes in all extents the file has on disk (block granularity, includes preallocation). */
  readonly allocatedBytes: number;
  /** The part of `allocatedBytes` whose extents carry FIEMAP_EXTENT_SHARED. */
  readonly sharedBytes: number;
}

// `   2:       25..    1220:         49..      1244:   1196:       1270: last,shared,eof`
// ext: logical start..end: physical start..end: length: [expected:] flags
const EXTENT_LINE = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+\d+\.\.\s*\d+:\s+\d+:(?:\s+\d+:)?\s*(.*)$/;
const BLOCK_SIZE = /^\d+ \(\d+ blocks? of (\d+) bytes\)/;

/**
 * Parses `filefrag -v` output for `files`, in the order they were passed. A file that filefrag
 * could not map (it printed an error instead) yields `undefined`. Extent sizes come from the
 * logical range rather than the length column, which reads 0 for delayed-allocation extents.
 */
export function parseFilefragOutput(output: string, files: readonly string[]): Array<FileExtents | undefined> {
  // Headers are located by the exact path we passed, so spaces or " is " inside names are harmless.
  const headers: Array<{ index: number; at: number; afterMarker: number }> = [];
  let searchFrom = 0;
  files.forEach((file, index) => {
    const marker = `File size of ${file} is `;
    const at = output.indexOf(marker, searchFrom);
    if (at < 0) return;
    headers.push({ index, at, afterMarker: at + marker.length });
    searchFrom = at + marker.length;
  });

  const results: Array<FileExtents | undefined> = files.map(() => undefined);
  headers.forEach((header) => {
    // Up to the next file's header, whether or not it is one we asked about.
    const next = output.indexOf('\nFile size of ', header.afterMarker);
    const end = next < 0 ? output.length : next;
    const block = output.slice(header.afterMarker, end);
    const blockSize = Number(BLOCK_SIZE.exec(block)?.[1]);
    if (!Number.isFinite(blockSize) || blockSize <= 0) return;
    let allocatedBytes = 0;
    let sharedBytes = 0;
    for (const line of block.split('\n').slice(1)) {
      const m = EXTENT_LINE.exec(line);
      if (!m) continue;
      const flags = m[3]!.split(',').map((flag) => flag.trim());
      // filefrag prints inline extents (btrfs keeps small files in metadata) in bytes, not blocks.
      const unitBytes = flags.includes('inline') ? 1 : blockSize;
      const bytes = (Number(m[2]) - Number(m[1]) + 1) * unitBytes;
      allocatedBytes += bytes;
      if (flags.includes('shared')) sharedBytes += bytes;
    }
    results[header.index] = { allocatedBytes, sharedBytes };
  });
  return results;
}

/** Keeps each command line far below ARG_MAX while amortising the process start over many files. */
const MAX_FILES_PER_RUN = 512;
const MAX_ARG_CHARS_PER_RUN = 96 * 1024;
/** filefrag is single-threaded and mostly waits on the kernel; two at once suit a small host. */
const PARALLEL_RUNS = 2;
/** filefrag exits with the errno of the last file it could not map; we inspect the output instead. */
const ANY_EXIT_CODE = Array.from({ length: 256 }, (_, i) => i);

export function batchFiles(files: readonly string[]): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let chars = 0;
  for (const file of files) {
    if (current.length > 0 && (current.length >= MAX_FILES_PER_RUN || chars + file.length + 1 > MAX_ARG_CHARS_PER_RUN)) {
      batches.push(current);
      current = [];
      chars = 0;
    }
    current.push(file);
    chars += file.length + 1;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Sums the extents of `files`. `-s` flushes each file first: until writeback, a rewrite of a shared
 * XFS extent lives in the CoW fork and FIEMAP would still report the old, shared extent. Files
 * deleted before filefrag reaches them count as zero.
 */
export async function measureExtents(files: readonly string[]): Promise<{ allocatedBytes: number; sharedBytes: number }> {
  if (files.length === 0) return { allocatedBytes: 0, sharedBytes: 0 };
  const filefrag = await requireTool('filefrag', 'e2fsprogs', 'measure the space of reflinked volumes');
  const limiter = createTaskLimiter(PARALLEL_RUNS);
  let allocatedBytes = 0;
  let sharedBytes = 0;
  await Promise.all(
    batchFiles(files).map((batch) =>
      limiter.run(async () => {
        const result = await runTool(filefrag, ['-v', '-s', ...batch], 'cannot map file extents', { okExitCodes: ANY_EXIT_CODE });
        const parsed = parseFilefragOutput(result.stdout, batch);
        for (let i = 0; i < batch.length; i++) {
          const extents = parsed[i];
          if (extents) {
            allocatedBytes += extents.allocatedBytes;
            sharedBytes += extents.sharedBytes;
          } else {
            await assertVanished(batch[i]!, result.stderr);
          }
        }
      }),
    ),
  );
  return { allocatedBytes, sharedBytes };
}

async function assertVanished(file: string, stderr: string): Promise<void> {
  try {
    await lstat(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
  }
  throw new PgbranchError('STORAGE_ERROR', `filefrag could not map ${file}: ${stderr.trim().split('\n').slice(-3).join('; ') || 'no output for this file'}`, {
    cause: new Error(stderr),
    details: { path: file },
  });
}
