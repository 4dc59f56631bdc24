import { basename, dirname, posix } from 'node:path';
import { blocksInByteRanges, parseRelationFileName, type RelationFiles } from '../postgres/index.js';
import type { ChangedRanges } from '../storage/index.js';

/**
 * Where storage and PostgreSQL meet for a block-level data diff: the byte ranges the storage
 * reports as changed in `base/<db>/<relfilenode>[.<segment>]` files (main fork only: free-space
 * and visibility maps, indexes and TOAST are not heap blocks of the table) become the block
 * numbers of each relation, keyed by its path relative to the data directory as
 * `pg_relation_filepath` gives it. Undefined when the storage could not tell (compare whole).
 *
 * A file present on one side only counts whole; a file that shrank adds the blocks only the base
 * still has (a truncation the head's smaller file cannot show as a changed range).
 */
export function blocksByRelation(ranges: ChangedRanges, files: Pick<RelationFiles, 'blockSize' | 'segmentBlocks'>): Map<string, number[]> | undefined {
  if (ranges.kind === 'unknown') return undefined;
  const out = new Map<string, Set<number>>();
  const where = { blockSize: files.blockSize, segmentBlocks: files.segmentBlocks };
  const whole = (segment: number, bytes: number): number[] => blocksInByteRanges([{ offsetBytes: 0, lengthBytes: bytes }], { ...where, segment });
  for (const file of ranges.files) {
    const name = parseRelationFileName(basename(file.path));
    if (!name || name.fork !== 'main') continue;
    const relation = posix.join(dirname(file.path), String(name.relfilenode));
    let blocks = out.get(relation);
    if (!blocks) out.set(relation, (blocks = new Set<number>()));
    const add = (list: readonly number[]): void => list.forEach((b) => blocks.add(b));
    switch (file.change) {
      case 'added':
        add(whole(name.segment, file.sizeBytes));
        break;
      case 'removed':
        add(whole(name.segment, file.baseSizeBytes));
        break;
      case 'unknown':
        add(whole(name.segment, Math.max(file.sizeBytes, file.baseSizeBytes)));
        break;
      case 'modified':
        add(blocksInByteRanges(file.ranges, { ...where, segment: name.segment }));
        if (file.baseSizeBytes > file.sizeBytes) {
          add(blocksInByteRanges([{ offsetBytes: file.sizeBytes, lengthBytes: file.baseSizeBytes - file.sizeBytes }], { ...where, segment: name.segment }));
        }
        break;
    }
  }
  return new Map([...out].map(([relation, blocks]) => [relation, [...blocks].sort((a, b) => a - b)]));
}
