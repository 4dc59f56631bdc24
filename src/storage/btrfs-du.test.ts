import { describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { parseBtrfsDuSummary } from './btrfs-du.js';

// Real `btrfs filesystem du -s --raw s2 s1`: s2 is a snapshot of s1 with 3 blocks rewritten.
const OUTPUT = `     Total   Exclusive  Set shared  Filename
   1003520       12288      991232  /tmp/pool/mnt/volumes/s2
   1003520           0     1003520  /tmp/pool/mnt/volumes/s1
`;

describe('parseBtrfsDuSummary', () => {
  it('reads the Exclusive column of the requested path', () => {
    expect(parseBtrfsDuSummary(OUTPUT, '/tmp/pool/mnt/volumes/s2')).toEqual({ totalBytes: 1003520, exclusiveBytes: 12288 });
    expect(parseBtrfsDuSummary(OUTPUT, '/tmp/pool/mnt/volumes/s1')).toEqual({ totalBytes: 1003520, exclusiveBytes: 0 });
  });

  it('accepts paths with spaces and a "-" set-shared column', () => {
    const output = '     Total   Exclusive  Set shared  Filename\n         0           0           -  /pool/my volume\n';
    expect(parseBtrfsDuSummary(output, '/pool/my volume')).toEqual({ totalBytes: 0, exclusiveBytes: 0 });
  });

  it('refuses human-readable output rather than misreading it', () => {
    const human = '     Total   Exclusive  Set shared  Filename\n 980.00KiB    12.00KiB   968.00KiB  /pool/s2\n';
    let caught: unknown;
    try {
      parseBtrfsDuSummary(human, '/pool/s2');
    } catch (err) {
      caught = err;
    }
    expect(isPgbranchError(caught, 'STORAGE_ERROR')).toBe(true);
  });
});
