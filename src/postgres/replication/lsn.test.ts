import { describe, expect, it } from 'vitest';
import { formatLsn, lsnDiff, parseLsn, walFileName } from './lsn.js';

describe('LSN arithmetic', () => {
  it('parses and formats like PostgreSQL', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(lsnDiff('1/0', '0/FFFFFFFF')).toBe(1);
    expect(() => parseLsn('nope')).toThrow(/LSN/);
  });

  it('names WAL segments as XLogFileName does', () => {
    const MB16 = 16 * 1024 * 1024;
    expect(walFileName(1, parseLsn('0/3000148'), MB16)).toBe('000000010000000000000003');
    expect(walFileName(2, parseLsn('1/0'), MB16)).toBe('000000020000000100000000');
    expect(walFileName(1, parseLsn('1/FF000000'), MB16)).toBe('0000000100000001000000FF');
    expect(walFileName(1, parseLsn('2/40000000'), 1024 * 1024 * 1024)).toBe('000000010000000200000001');
  });
});
