import { describe, expect, it } from 'vitest';
import { isPgbranchError } from '../../errors.js';
import { blockRanges, blocksInByteRanges, parseRelationFileName, tidRangeCondition, unionBlocks } from './blocks.js';

describe('block lists', () => {
  it('unions, sorts and groups blocks into TID ranges', () => {
    const blocks = unionBlocks([9, 3, 4], [4, 5, 20, 0]);
    expect(blocks).toEqual([0, 3, 4, 5, 9, 20]);
    expect(blockRanges(blocks)).toEqual([
      { startBlock: 0, endBlock: 1 },
      { startBlock: 3, endBlock: 6 },
      { startBlock: 9, endBlock: 10 },
      { startBlock: 20, endBlock: 21 },
    ]);
    expect(tidRangeCondition({ startBlock: 3, endBlock: 6 })).toBe("ctid >= '(3,0)'::tid AND ctid < '(6,0)'::tid");
    expect(blockRanges([])).toEqual([]);
  });

  it('refuses what is not a block number', () => {
    for (const bad of [-1, 1.5, Number.NaN, 0xffffffff]) {
      let caught: unknown;
      try {
        unionBlocks([bad]);
      } catch (err) {
        caught = err;
      }
      expect(isPgbranchError(caught, 'INVALID_ARGUMENT'), String(bad)).toBe(true);
    }
    expect(unionBlocks([0xfffffffe])).toEqual([0xfffffffe]);
  });
});

describe('relation files', () => {
  it('parses segment and fork from a file name', () => {
    expect(parseRelationFileName('16385')).toEqual({ relfilenode: 16385, fork: 'main', segment: 0 });
    expect(parseRelationFileName('16385.2')).toEqual({ relfilenode: 16385, fork: 'main', segment: 2 });
    expect(parseRelationFileName('16385_vm')).toEqual({ relfilenode: 16385, fork: 'vm', segment: 0 });
    expect(parseRelationFileName('16385_fsm.1')).toEqual({ relfilenode: 16385, fork: 'fsm', segment: 1 });
    for (const other of ['PG_VERSION', 'pg_filenode.map', '16385_x', '16385.', 'pg_internal.init']) expect(parseRelationFileName(other), other).toBeUndefined();
  });

  it('turns byte ranges of a segment into the blocks they touch', () => {
    const where = { blockSize: 8192, segmentBlocks: 131072 };
    // A 4 KiB extent straddles no block boundary; one crossing a boundary touches both blocks.
    expect(blocksInByteRanges([{ offsetBytes: 8192 * 3 + 4096, lengthBytes: 4096 }], { ...where, segment: 0 })).toEqual([3]);
    expect(blocksInByteRanges([{ offsetBytes: 8192 * 3 + 4096, lengthBytes: 8192 }], { ...where, segment: 0 })).toEqual([3, 4]);
    expect(blocksInByteRanges([{ offsetBytes: 0, lengthBytes: 16384 }, { offsetBytes: 8192, lengthBytes: 1 }], { ...where, segment: 2 })).toEqual([262144, 262145]);
    expect(blocksInByteRanges([{ offsetBytes: 100, lengthBytes: 0 }], { ...where, segment: 0 })).toEqual([]);
  });
});
