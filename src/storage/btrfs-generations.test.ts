import { describe, expect, it } from 'vitest';
import { parseSubvolumeMarks } from './btrfs-generations.js';

describe('parseSubvolumeMarks', () => {
  const listing = [
    'ID 257 gen 5695 top level 5 path volumes/br-a.1',
    'ID 258 gen 3260 top level 5 path volumes/br-b.2',
    'ID 259 gen 13 top level 5 path volumes/br-b.2.bp',
    'ID 260 gen 70 top level 258 path volumes/br-b.2/pgdata/pg_wal',
    'ID 261 gen 9 top level 5 path elsewhere/br-a.1',
    'ID 262 gen 11 top level 5 path volumes/not-known',
    '',
  ].join('\n');

  it('marks each volume with its generation and those of its nested subvolumes', () => {
    const marks = parseSubvolumeMarks(listing, new Set(['br-a.1', 'br-b.2', 'br-b.2.bp']));
    expect(marks).toEqual(
      new Map([
        ['br-a.1', '257:5695'],
        ['br-b.2', '258:3260,260:70'],
        ['br-b.2.bp', '259:13'],
      ]),
    );
  });

  it('a write into a nested subvolume moves the mark of the volume holding it', () => {
    const before = parseSubvolumeMarks(listing, new Set(['br-b.2']));
    const after = parseSubvolumeMarks(listing.replace('gen 70 ', 'gen 71 '), new Set(['br-b.2']));
    expect(after.get('br-b.2')).not.toBe(before.get('br-b.2'));
  });

  it('reads a pool at the top of the filesystem, and gives nothing for a listing without the pool', () => {
    expect(parseSubvolumeMarks('ID 300 gen 4 top level 5 path br-c.3\n', new Set(['br-c.3']))).toEqual(new Map([['br-c.3', '300:4']]));
    expect(parseSubvolumeMarks('ID 300 gen 4 top level 5 path other/x\n', new Set(['br-c.3']))).toEqual(new Map());
  });
});
