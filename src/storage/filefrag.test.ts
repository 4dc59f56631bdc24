import { describe, expect, it } from 'vitest';
import { batchFiles, parseFilefragOutput } from './filefrag.js';

// Real `filefrag -v -s a b 'we ird is: name' missing 2>&1` output. On XFS (reflink=1): `b` is a
// reflink copy of `a` with blocks 20..29 rewritten, so those 10 blocks are b's own and, as the
// old extent is split, `a` still shares all of its blocks with b.
const XFS_OUTPUT = `open: No such file or directory
Filesystem type is: 58465342
File size of a is 1000000 (245 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..     244:      32792..     33036:    245:             last,shared,eof
a: 1 extent found
File size of b is 1000000 (245 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..      19:      32792..     32811:     20:             shared
   1:       20..      29:      33057..     33066:     10:      32812:
   2:       30..     244:      32822..     33036:    215:      33067: last,shared,eof
b: 3 extents found
File size of we ird is: name is 1 (1 block of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..       0:      32778..     32778:      1:             last,eof
we ird is: name: 1 extent found
`;

// The same on btrfs, where a 1-byte file is stored inline and filefrag prints its extent in bytes.
const BTRFS_INLINE = `Filesystem type is: 9123683e
File size of we ird is: name is 1 (1 block of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..    4095:          0..      4095:   4096:             last,not_aligned,inline,eof
we ird is: name: 1 extent found
`;

// Without -s, XFS reports not-yet-written data as a delayed-allocation extent of length 0.
const XFS_DELALLOC = `Filesystem type is: 58465342
File size of /p/v/new is 4 (1 block of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..       0:          0..         0:      0:             last,unknown_loc,delalloc,eof
/p/v/new: 1 extent found
`;

describe('parseFilefragOutput', () => {
  it('sums allocated and shared extents per file, in the order passed', () => {
    const [a, b, weird, missing] = parseFilefragOutput(XFS_OUTPUT, ['a', 'b', 'we ird is: name', 'missing']);
    expect(a).toEqual({ allocatedBytes: 245 * 4096, sharedBytes: 245 * 4096 });
    expect(b).toEqual({ allocatedBytes: 245 * 4096, sharedBytes: (20 + 215) * 4096 });
    expect(weird).toEqual({ allocatedBytes: 4096, sharedBytes: 0 });
    expect(missing).toBeUndefined();
  });

  it('finds a file whose header is missing without shifting the others', () => {
    const [missing, b] = parseFilefragOutput(XFS_OUTPUT, ['missing', 'b']);
    expect(missing).toBeUndefined();
    expect(b?.allocatedBytes).toBe(245 * 4096);
  });

  it('reads inline extents in bytes', () => {
    expect(parseFilefragOutput(BTRFS_INLINE, ['we ird is: name'])).toEqual([{ allocatedBytes: 4096, sharedBytes: 0 }]);
  });

  it('counts a delayed-allocation extent by its logical range', () => {
    expect(parseFilefragOutput(XFS_DELALLOC, ['/p/v/new'])).toEqual([{ allocatedBytes: 4096, sharedBytes: 0 }]);
  });

  it('reports a file with no extents (a hole-only file) as zero', () => {
    const output = 'File size of /p/sparse is 10485760 (2560 blocks of 4096 bytes)\n/p/sparse: 0 extents found\n';
    expect(parseFilefragOutput(output, ['/p/sparse'])).toEqual([{ allocatedBytes: 0, sharedBytes: 0 }]);
  });
});

describe('batchFiles', () => {
  it('keeps every file, in order, in bounded batches', () => {
    const files = Array.from({ length: 1300 }, (_, i) => `/pool/volume/base/16384/${i}`);
    const batches = batchFiles(files);
    expect(batches.flat()).toEqual(files);
    expect(batches.length).toBe(3);
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(512);
  });

  it('splits on command-line length too', () => {
    const files = Array.from({ length: 100 }, (_, i) => `/${'x'.repeat(4000)}/${i}`);
    const batches = batchFiles(files);
    expect(batches.flat()).toEqual(files);
    for (const batch of batches) expect(batch.join(' ').length).toBeLessThanOrEqual(96 * 1024);
  });
});
