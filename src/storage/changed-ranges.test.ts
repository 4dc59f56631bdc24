import { describe, expect, it } from 'vitest';
import { changedByteRanges, differingPages } from './changed-ranges.js';
import { parseFilefragMaps, type Extent, type FileExtentMap } from './filefrag.js';

const K = 1024;

function extent(logicalStartBytes: number, lengthBytes: number, physicalStartBytes: number, ...flags: string[]): Extent {
  return { logicalStartBytes, logicalEndBytes: logicalStartBytes + lengthBytes, physicalStartBytes, flags };
}

function map(sizeBytes: number, ...extents: Extent[]): FileExtentMap {
  return { sizeBytes, extents };
}

// Real `filefrag -v -s -b1 a b` on XFS (reflink=1): `b` is a reflink copy of `a` with one 8 KiB
// page at 800 KiB rewritten.
const XFS_BYTES = `Filesystem type is: 58465342
File size of /p/a/f is 67108864 (67108864 blocks of 1 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..67108863:      98304..  67207167: 67108864:             last,shared,eof
/p/a/f: 1 extent found
File size of /p/b/f is 67108864 (67108864 blocks of 1 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..  819199:      98304..    917503: 819200:             shared
   1:   819200..  827391:  268566528.. 268574719:   8192:     917504:
   2:   827392..67108863:     925696..  67207167: 66281472:  268574720: last,shared,eof
/p/b/f: 3 extents found
`;

describe('changedByteRanges', () => {
  it('finds the rewritten page in real filefrag output', () => {
    const [a, b] = parseFilefragMaps(XFS_BYTES, ['/p/a/f', '/p/b/f']);
    expect(b?.extents[1]).toEqual({ logicalStartBytes: 819200, logicalEndBytes: 827392, physicalStartBytes: 268566528, flags: [] });
    expect(changedByteRanges(a!, b!)).toEqual([{ offsetBytes: 819200, lengthBytes: 8192 }]);
    expect(changedByteRanges(a!, a!)).toEqual([]);
  });

  it('compares by physical place at the same offset, whatever the extent boundaries', () => {
    const base = map(64 * K, extent(0, 64 * K, 1000 * K, 'shared'));
    // Same bytes split into two extents, then a piece moved elsewhere.
    const split = map(64 * K, extent(0, 16 * K, 1000 * K, 'shared'), extent(16 * K, 48 * K, 1016 * K, 'shared'));
    expect(changedByteRanges(base, split)).toEqual([]);
    const shifted = map(64 * K, extent(0, 16 * K, 1000 * K), extent(16 * K, 48 * K, 1020 * K));
    expect(changedByteRanges(base, shifted)).toEqual([{ offsetBytes: 16 * K, lengthBytes: 48 * K }]);
  });

  it('treats growth as changed and a pure shrink as no range', () => {
    const base = map(32 * K, extent(0, 32 * K, 4000 * K));
    const grown = map(40 * K, extent(0, 40 * K, 4000 * K));
    // Even at the "right" physical place, bytes the base never had are new.
    expect(changedByteRanges(base, grown)).toEqual([{ offsetBytes: 32 * K, lengthBytes: 8 * K }]);
    const shrunk = map(16 * K, extent(0, 16 * K, 4000 * K));
    expect(changedByteRanges(base, shrunk)).toEqual([]);
  });

  it('holes match holes only', () => {
    const base = map(64 * K, extent(0, 8 * K, 100 * K), extent(56 * K, 8 * K, 200 * K));
    expect(changedByteRanges(base, base)).toEqual([]);
    const filled = map(64 * K, extent(0, 8 * K, 100 * K), extent(24 * K, 8 * K, 900 * K), extent(56 * K, 8 * K, 200 * K));
    expect(changedByteRanges(base, filled)).toEqual([{ offsetBytes: 24 * K, lengthBytes: 8 * K }]);
    const punched = map(64 * K, extent(56 * K, 8 * K, 200 * K));
    expect(changedByteRanges(base, punched)).toEqual([{ offsetBytes: 0, lengthBytes: 8 * K }]);
  });

  it('never trusts opaque extents, even at the same place', () => {
    for (const flag of ['inline', 'encoded', 'not_aligned', 'delalloc', 'unknown_loc', 'encrypted', '0x10000']) {
      const base = map(8 * K, extent(0, 8 * K, 500 * K, 'last', flag));
      expect(changedByteRanges(base, base), flag).toEqual([{ offsetBytes: 0, lengthBytes: 8 * K }]);
    }
  });

  it('unwritten (preallocated) extents match only unwritten ones', () => {
    const base = map(16 * K, extent(0, 16 * K, 700 * K, 'unwritten', 'shared'));
    expect(changedByteRanges(base, base)).toEqual([]);
    const written = map(16 * K, extent(0, 16 * K, 700 * K, 'shared'));
    expect(changedByteRanges(base, written)).toEqual([{ offsetBytes: 0, lengthBytes: 16 * K }]);
  });

  it('merges adjacent changed pieces and ignores extents past the end of file', () => {
    const base = map(24 * K, extent(0, 24 * K, 10 * K));
    const head = map(24 * K, extent(0, 8 * K, 90 * K), extent(8 * K, 8 * K, 300 * K), extent(16 * K, 64 * K, 26 * K, 'last'));
    expect(changedByteRanges(base, head)).toEqual([{ offsetBytes: 0, lengthBytes: 16 * K }]);
  });
});

describe('differingPages', () => {
  it('reports 4 KiB pages that differ or lie past the base end', () => {
    const base = Buffer.alloc(10 * K, 1);
    const head = Buffer.alloc(14 * K, 1);
    head[1000] = 2;
    expect(differingPages(base, head)).toEqual([
      { offsetBytes: 0, lengthBytes: 4 * K },
      { offsetBytes: 8 * K, lengthBytes: 6 * K },
    ]);
    expect(differingPages(base, Buffer.from(base))).toEqual([]);
  });
});
