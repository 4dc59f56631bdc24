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

/** One FIEMAP extent, converted to bytes. */
export interface Extent {
  readonly logicalStartBytes: number;
  /** Exclusive. */
  readonly logicalEndBytes: number;
  /** Where the extent starts on the device (meaningless with `unknown_loc`, `inline`, `encoded`). */
  readonly physicalStartBytes: number;
  /** filefrag's flag words: `shared`, `unwritten`, `inline`, `encoded`, `not_aligned`, `last`, `eof`… */
  readonly flags: readonly string[];
}

/** A file's size and its extents in logical order (gaps between them are holes). */
export interface FileExtentMap {
  readonly sizeBytes: number;
  readonly extents: readonly Extent[];
}

// `   2:       25..    1220:         49..      1244:   1196:       1270: last,shared,eof`
// ext: logical start..end: physical start..end: length: [expected:] flags
const EXTENT_LINE = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+(\d+)\.\.\s*\d+:\s+\d+:(?:\s+\d+:)?\s*(.*)$/;
const HEADER = /^(\d+) \(\d+ blocks? of (\d+) bytes\)/;

/**
 * Parses `filefrag -v` output for `files`, in the order they were passed. A file that filefrag
 * could not map (it printed an error instead) yields `undefined`. Extent bounds come from the
 * logical range rather than the length column, which reads 0 for delayed-allocation extents.
 */
export function parseFilefragMaps(output: string, files: readonly string[]): Array<FileExtentMap | undefined> {
  // Headers are located by the exact path we passed, so spaces or " is " inside names are harmless.
  const headers: Array<{ index: number; afterMarker: number }> = [];
  let searchFrom = 0;
  files.forEach((file, index) => {
    const marker = `File size of ${file} is `;
    const at = output.indexOf(marker, searchFrom);
    if (at < 0) return;
    headers.push({ index, afterMarker: at + marker.length });
    searchFrom = at + marker.length;
  });

  const results: Array<FileExtentMap | undefined> = files.map(() => undefined);
  headers.forEach((header) => {
    // Up to the next file's header, whether or not it is one we asked about.
    const next = output.indexOf('\nFile size of ', header.afterMarker);
    const end = next < 0 ? output.length : next;
    const block = output.slice(header.afterMarker, end);
    const head = HEADER.exec(block);
    const sizeBytes = Number(head?.[1]);
    const blockSize = Number(head?.[2]);
    if (!head || !Number.isFinite(blockSize) || blockSize <= 0) return;
    const extents: Extent[] = [];
    for (const line of block.split('\n').slice(1)) {
      const m = EXTENT_LINE.exec(line);
      if (!m) continue;
      const flags = m[4]!
        .split(',')
        .map((flag) => flag.trim())
        .filter((flag) => flag !== '');
      // filefrag prints inline extents (btrfs keeps small files in metadata) in bytes, not blocks.
      const unitBytes = flags.includes('inline') ? 1 : blockSize;
      extents.push({
        logicalStartBytes: Number(m[1]) * unitBytes,
        logicalEndBytes: (Number(m[2]) + 1) * unitBytes,
        physicalStartBytes: Number(m[3]) * unitBytes,
        flags,
      });
    }
    results[header.index] = { sizeBytes, extents };
  });
  return results;
}

/** Allocated and shared bytes per file, from `parseFilefragMaps`. */
export function parseFilefragOutput(output: string, files: readonly string[]): Array<FileExtents | undefined> {
  return parseFilefragMaps(output, files).map((map) => {
    if (!map) return undefined;
    let allocatedBytes = 0;
    let sharedBytes = 0;
    for (const extent of map.extents) {
      const bytes = extent.logicalEndBytes - extent.logicalStartBytes;
      allocatedBytes += bytes;
      if (extent.flags.includes('shared')) sharedBytes += bytes;
    }
    return { allocatedBytes, sharedBytes };
  });
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
 * Runs `filefrag -v -s <extraArgs>` over `files` (batched, two processes at a time) and returns
 * each file's parsed output in order; `undefined` for a file deleted before filefrag reached it.
 * `-s` flushes each file first: until writeback, a rewrite of a shared extent lives in the page
 * cache (XFS: the CoW fork) and FIEMAP would still report the old, shared extent.
 */
async function runFilefrag(
  files: readonly string[],
  extraArgs: readonly string[],
  purpose: string,
  options: { tolerateUnmapped?: boolean } = {},
): Promise<Array<FileExtentMap | undefined>> {
  if (files.length === 0) return [];
  const filefrag = await requireTool('filefrag', 'e2fsprogs', purpose);
  const limiter = createTaskLimiter(PARALLEL_RUNS);
  const batches = batchFiles(files);
  const parsed = await Promise.all(
    batches.map((batch) =>
      limiter.run(async () => {
        const result = await runTool(filefrag, ['-v', '-s', ...extraArgs, ...batch], 'cannot map file extents', { okExitCodes: ANY_EXIT_CODE });
        const maps = parseFilefragMaps(result.stdout, batch);
        if (!options.tolerateUnmapped) for (let i = 0; i < batch.length; i++) if (!maps[i]) await assertVanished(batch[i]!, result.stderr);
        return maps;
      }),
    ),
  );
  return parsed.flat();
}

/** Sums the extents of `files`. Files deleted before filefrag reaches them count as zero. */
export async function measureExtents(files: readonly string[]): Promise<{ allocatedBytes: number; sharedBytes: number }> {
  const maps = await runFilefrag(files, [], 'measure the space of reflinked volumes');
  let allocatedBytes = 0;
  let sharedBytes = 0;
  for (const map of maps) {
    for (const extent of map?.extents ?? []) {
      const bytes = extent.logicalEndBytes - extent.logicalStartBytes;
      allocatedBytes += bytes;
      if (extent.flags.includes('shared')) sharedBytes += bytes;
    }
  }
  return { allocatedBytes, sharedBytes };
}

/**
 * Extent maps of `files` in bytes (`-b1`, so no extent is rounded to a block), flushed first.
 * `undefined` for a file filefrag could not map (vanished meanwhile, or FIEMAP refused): the
 * caller decides what that means.
 */
export function mapExtents(files: readonly string[]): Promise<Array<FileExtentMap | undefined>> {
  return runFilefrag(files, ['-b1'], 'compare the extents of cloned volumes', { tolerateUnmapped: true });
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
