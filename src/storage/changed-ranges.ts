import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { mapExtents, type FileExtentMap } from './filefrag.js';
import type { ByteRange, ChangedRanges, ChangedRangesOptions, FileChange } from './types.js';
import { listFileSizes } from './tree-sizes.js';
import { normaliseRelativePath } from './volume-names.js';

/**
 * Flags whose extents still read exactly what their physical location holds, so two files
 * mapping the same offset to the same place hold the same bytes there. Anything else (`inline`,
 * `encoded` — compressed extents report the start of the whole compressed extent, whatever
 * part of it a file uses —, `not_aligned`, `delalloc`, `unknown_loc`, `encrypted`, unknown flags)
 * makes the extent opaque: reported as changed.
 */
const COMPARABLE_FLAGS = new Set(['shared', 'last', 'eof', 'merged', 'unwritten']);

/**
 * Files up to this size whose extents say "changed" are compared by content instead: btrfs keeps
 * such files inline in its metadata, where extents tell nothing, and reading them costs less
 * than reporting them.
 */
const SMALL_FILE_BYTES = 64 * 1024;
/** Granularity of the differences found by reading small files. */
const COMPARE_PAGE_BYTES = 4096;

type Piece =
  | { readonly startBytes: number; readonly endBytes: number; readonly kind: 'hole' }
  | { readonly startBytes: number; readonly endBytes: number; readonly kind: 'opaque' }
  | {
      readonly startBytes: number;
      readonly endBytes: number;
      readonly kind: 'extent';
      /** physical − logical: equal on both sides ⇔ the same offset maps to the same place. */
      readonly deltaBytes: number;
      readonly unwritten: boolean;
    };

/** The file's content in [0, sizeBytes) as consecutive pieces: extents, holes between them. */
function piecesOf(map: FileExtentMap): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  const extents = [...map.extents].sort((a, b) => a.logicalStartBytes - b.logicalStartBytes);
  for (const extent of extents) {
    if (at >= map.sizeBytes) break;
    const start = Math.max(extent.logicalStartBytes, at);
    const end = Math.min(extent.logicalEndBytes, map.sizeBytes);
    if (end <= start) continue;
    if (start > at) pieces.push({ startBytes: at, endBytes: start, kind: 'hole' });
    // An extent overlapping the previous one cannot be trusted to describe the bytes it claims.
    const overlaps = extent.logicalStartBytes < at;
    const comparable = !overlaps && extent.flags.every((flag) => COMPARABLE_FLAGS.has(flag));
    pieces.push(
      comparable
        ? {
            startBytes: start,
            endBytes: end,
            kind: 'extent',
            deltaBytes: extent.physicalStartBytes - extent.logicalStartBytes,
            unwritten: extent.flags.includes('unwritten'),
          }
        : { startBytes: start, endBytes: end, kind: 'opaque' },
    );
    at = end;
  }
  if (at < map.sizeBytes) pieces.push({ startBytes: at, endBytes: map.sizeBytes, kind: 'hole' });
  return pieces;
}

function samePlace(a: Piece, b: Piece): boolean {
  if (a.kind === 'hole' && b.kind === 'hole') return true;
  return a.kind === 'extent' && b.kind === 'extent' && a.deltaBytes === b.deltaBytes && a.unwritten === b.unwritten;
}

/**
 * The byte ranges of `head` that may differ from `base` (sorted, disjoint, merged). A range is
 * left out only where both files are holes, or both map it to the same physical place with
 * comparable extents; everything past the base's end is changed.
 */
export function changedByteRanges(base: FileExtentMap, head: FileExtentMap): ByteRange[] {
  const headPieces = piecesOf(head);
  const basePieces = piecesOf(base);
  const ranges: ByteRange[] = [];
  const addChanged = (start: number, end: number): void => {
    const last = ranges[ranges.length - 1];
    if (last && last.offsetBytes + last.lengthBytes === start) {
      ranges[ranges.length - 1] = { offsetBytes: last.offsetBytes, lengthBytes: end - last.offsetBytes };
    } else {
      ranges.push({ offsetBytes: start, lengthBytes: end - start });
    }
  };
  let j = 0;
  for (const piece of headPieces) {
    let at = piece.startBytes;
    while (at < piece.endBytes) {
      while (j < basePieces.length && basePieces[j]!.endBytes <= at) j++;
      const other = basePieces[j];
      if (!other || other.startBytes > at) {
        // Past the base's end (pieces leave no gaps below the size).
        addChanged(at, piece.endBytes);
        break;
      }
      const end = Math.min(piece.endBytes, other.endBytes);
      if (!samePlace(piece, other)) addChanged(at, end);
      at = end;
    }
  }
  return ranges;
}

/**
 * `changedRanges` for drivers whose clones share extents: compares the FIEMAP maps of the files
 * under `options.directory` of two volume roots. One filefrag process maps hundreds of files.
 */
export async function compareVolumeExtents(baseRoot: string, headRoot: string, options: ChangedRangesOptions = {}): Promise<ChangedRanges> {
  const directory = options.directory === undefined ? undefined : normaliseRelativePath(options.directory);
  const relativePaths = options.relativePaths?.map((path) => normaliseRelativePath(path));
  const baseDir = directory === undefined ? baseRoot : join(baseRoot, directory);
  const headDir = directory === undefined ? headRoot : join(headRoot, directory);
  const [baseSizes, headSizes] = await Promise.all([listFileSizes(baseDir, relativePaths), listFileSizes(headDir, relativePaths)]);

  const files: FileChange[] = [];
  const common: string[] = [];
  for (const [path, sizeBytes] of headSizes) {
    const baseSizeBytes = baseSizes.get(path);
    if (baseSizeBytes === undefined) files.push({ path, change: 'added', sizeBytes });
    else if (sizeBytes === 0 && baseSizeBytes === 0) continue;
    else common.push(path);
  }
  for (const [path, baseSizeBytes] of baseSizes) if (!headSizes.has(path)) files.push({ path, change: 'removed', baseSizeBytes });

  // Both sides of a pair next to each other, so they usually share one filefrag process.
  const maps = await mapExtents(common.flatMap((path) => [join(baseDir, path), join(headDir, path)]));
  const compared = await Promise.all(
    common.map(async (path, i): Promise<FileChange | undefined> => {
      const base = maps[2 * i];
      const head = maps[2 * i + 1];
      const sizeBytes = head?.sizeBytes ?? headSizes.get(path)!;
      const baseSizeBytes = base?.sizeBytes ?? baseSizes.get(path)!;
      if (!base || !head) {
        // Vanished or unmappable since the walk: nothing can be said about its bytes.
        return { path, change: 'unknown', sizeBytes, baseSizeBytes, reason: `filefrag could not map the ${!head ? 'file' : 'base file'}` };
      }
      let ranges = changedByteRanges(base, head);
      if (ranges.length > 0 && Math.max(sizeBytes, baseSizeBytes) <= SMALL_FILE_BYTES) {
        ranges = (await compareSmallFiles(join(baseDir, path), join(headDir, path), baseSizeBytes, sizeBytes)) ?? ranges;
      }
      return ranges.length > 0 || sizeBytes !== baseSizeBytes ? { path, change: 'modified', sizeBytes, baseSizeBytes, ranges } : undefined;
    }),
  );
  for (const change of compared) if (change) files.push(change);

  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  let changedBytes = 0;
  for (const file of files) {
    if (file.change === 'modified') for (const range of file.ranges) changedBytes += range.lengthBytes;
    else if (file.change === 'added' || file.change === 'unknown') changedBytes += file.sizeBytes;
  }
  return { kind: 'ranges', files, comparedFiles: common.length, changedBytes };
}

/** Differences by content; undefined when either file is gone or no longer has the mapped size. */
async function compareSmallFiles(basePath: string, headPath: string, baseSizeBytes: number, sizeBytes: number): Promise<ByteRange[] | undefined> {
  const [base, head] = await Promise.all([readSmall(basePath), readSmall(headPath)]);
  if (!base || !head || base.length !== baseSizeBytes || head.length !== sizeBytes) return undefined;
  return differingPages(base, head);
}

async function readSmall(path: string): Promise<Buffer | undefined> {
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(SMALL_FILE_BYTES + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

/** Pages of `head` whose bytes differ from `base` (or lie past its end), merged into ranges. */
export function differingPages(base: Buffer, head: Buffer): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (let at = 0; at < head.length; at += COMPARE_PAGE_BYTES) {
    const end = Math.min(at + COMPARE_PAGE_BYTES, head.length);
    const same = end <= base.length && head.subarray(at, end).equals(base.subarray(at, end));
    if (same) continue;
    const last = ranges[ranges.length - 1];
    if (last && last.offsetBytes + last.lengthBytes === at) ranges[ranges.length - 1] = { offsetBytes: last.offsetBytes, lengthBytes: end - last.offsetBytes };
    else ranges.push({ offsetBytes: at, lengthBytes: end - at });
  }
  return ranges;
}
