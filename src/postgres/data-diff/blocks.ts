import { PgbranchError } from '../../errors.js';

/** Largest valid heap block number (InvalidBlockNumber is 0xFFFFFFFF). */
const MAX_BLOCK = 0xfffffffe;

/** Consecutive blocks [startBlock, endBlock). */
export interface BlockRange {
  readonly startBlock: number;
  readonly endBlock: number;
}

/** Sorted, de-duplicated union of block lists, each number checked. */
export function unionBlocks(...lists: ReadonlyArray<readonly number[]>): number[] {
  const all = new Set<number>();
  for (const list of lists) {
    for (const block of list) {
      if (!Number.isInteger(block) || block < 0 || block > MAX_BLOCK) {
        throw new PgbranchError('INVALID_ARGUMENT', `not a heap block number: ${String(block)} (blocks are integers from 0 to ${MAX_BLOCK})`, {
          cause: new Error(`block ${String(block)}`),
        });
      }
      all.add(block);
    }
  }
  return [...all].sort((a, b) => a - b);
}

/** Groups sorted blocks into runs, so each run is one TID range scan. */
export function blockRanges(sortedBlocks: readonly number[]): BlockRange[] {
  const ranges: BlockRange[] = [];
  for (const block of sortedBlocks) {
    const last = ranges[ranges.length - 1];
    if (last && last.endBlock === block) ranges[ranges.length - 1] = { startBlock: last.startBlock, endBlock: block + 1 };
    else ranges.push({ startBlock: block, endBlock: block + 1 });
  }
  return ranges;
}

/**
 * The WHERE clause of a TID range scan (PostgreSQL 14+) over a run of blocks: offset 0 is never
 * a tuple, so `(start,0) <= ctid < (end,0)` is exactly the tuples of those blocks.
 */
export function tidRangeCondition(range: BlockRange): string {
  return `ctid >= '(${range.startBlock},0)'::tid AND ctid < '(${range.endBlock},0)'::tid`;
}

/** A file of a relation, from its name: `16385`, `16385.2`, `16385_vm`, `16385_fsm.1`. */
export interface RelationFileName {
  readonly relfilenode: number;
  readonly fork: 'main' | 'fsm' | 'vm' | 'init';
  /** Segment number: the file holds the fork's blocks from `segment × segmentBlocks`. */
  readonly segment: number;
}

const FILE_NAME = /^(\d+)(?:_(fsm|vm|init))?(?:\.(\d+))?$/;

export function parseRelationFileName(fileName: string): RelationFileName | undefined {
  const m = FILE_NAME.exec(fileName);
  if (!m) return undefined;
  return { relfilenode: Number(m[1]), fork: (m[2] as 'fsm' | 'vm' | 'init' | undefined) ?? 'main', segment: m[3] === undefined ? 0 : Number(m[3]) };
}

/**
 * Block numbers touched by byte ranges of one segment file: every block that overlaps a range
 * (block = segment × segmentBlocks + offset / blockSize).
 */
export function blocksInByteRanges(
  ranges: ReadonlyArray<{ readonly offsetBytes: number; readonly lengthBytes: number }>,
  where: { readonly segment: number; readonly blockSize: number; readonly segmentBlocks: number },
): number[] {
  const blocks = new Set<number>();
  const first = where.segment * where.segmentBlocks;
  for (const range of ranges) {
    if (range.lengthBytes <= 0) continue;
    const from = Math.floor(range.offsetBytes / where.blockSize);
    const to = Math.ceil((range.offsetBytes + range.lengthBytes) / where.blockSize);
    for (let block = from; block < to; block++) blocks.add(first + block);
  }
  return [...blocks].sort((a, b) => a - b);
}
