import { describe, expect, it } from 'vitest';
import { blocksByRelation } from './changed-blocks.js';

const SIZES = { blockSize: 8192, segmentBlocks: 131072 };
const SEGMENT_BYTES = 8192 * 131072;

describe('blocksByRelation', () => {
  it('maps byte ranges of main-fork segments to block numbers per relation, ignoring other forks and files', () => {
    const map = blocksByRelation(
      {
        kind: 'ranges',
        comparedFiles: 6,
        changedBytes: 0,
        files: [
          { path: 'base/5/16384', change: 'modified', sizeBytes: 10 * 8192, baseSizeBytes: 10 * 8192, ranges: [{ offsetBytes: 8192, lengthBytes: 100 }, { offsetBytes: 3 * 8192 - 1, lengthBytes: 2 }] },
          // Second segment: block numbers continue from segmentBlocks.
          { path: 'base/5/16384.1', change: 'modified', sizeBytes: 8192, baseSizeBytes: 8192, ranges: [{ offsetBytes: 0, lengthBytes: 8192 }] },
          { path: 'base/5/16384_fsm', change: 'modified', sizeBytes: 8192, baseSizeBytes: 8192, ranges: [{ offsetBytes: 0, lengthBytes: 8192 }] },
          { path: 'base/5/16384_vm', change: 'added', sizeBytes: 8192 },
          { path: 'base/5/PG_VERSION', change: 'added', sizeBytes: 3 },
          { path: 'base/5/16390', change: 'added', sizeBytes: 2 * 8192 },
        ],
      },
      SIZES,
    );
    expect(Object.fromEntries(map!)).toEqual({ 'base/5/16384': [1, 2, 3, 131072], 'base/5/16390': [0, 1] });
    expect(SEGMENT_BYTES).toBe(1024 ** 3);
  });

  it('counts the blocks a shrunk file lost, whole removed and unknown files, and answers undefined when the storage cannot tell', () => {
    const map = blocksByRelation(
      {
        kind: 'ranges',
        comparedFiles: 3,
        changedBytes: 0,
        files: [
          { path: 'base/5/100', change: 'modified', sizeBytes: 2 * 8192, baseSizeBytes: 4 * 8192, ranges: [] },
          { path: 'base/5/200', change: 'removed', baseSizeBytes: 8192 },
          { path: 'base/5/300', change: 'unknown', sizeBytes: 8192, baseSizeBytes: 3 * 8192, reason: 'test' },
        ],
      },
      SIZES,
    );
    expect(Object.fromEntries(map!)).toEqual({ 'base/5/100': [2, 3], 'base/5/200': [0], 'base/5/300': [0, 1, 2] });
    expect(blocksByRelation({ kind: 'unknown', reason: 'copy' }, SIZES)).toBeUndefined();
  });
});
