import { describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { assertVolumeName, isStagingName, isValidVolumeName, normaliseRelativePath } from './volume-names.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isPgbranchError(err) ? err.code : 'not a PgbranchError';
  }
  return undefined;
}

describe('volume names', () => {
  it.each(['main', 'pr-123', 'feature_x.2', 'A', '0day', 'b'.repeat(200)])('accepts %s', (name) => {
    expect(isValidVolumeName(name)).toBe(true);
    expect(codeOf(() => assertVolumeName(name))).toBeUndefined();
  });

  it.each(['', '.hidden', '.tmp-clone-x', '-dash', '_under', 'a/b', '../x', '..', 'a b', 'lost+found', 'é', 'a\0b', 'b'.repeat(201)])(
    'rejects %j with INVALID_ARGUMENT',
    (name) => {
      expect(isValidVolumeName(name)).toBe(false);
      expect(codeOf(() => assertVolumeName(name))).toBe('INVALID_ARGUMENT');
    },
  );

  it('recognises staging entries only by their prefix', () => {
    expect(isStagingName('.tmp-clone-1a2b3c4d-main')).toBe(true);
    expect(isStagingName('.tmp-')).toBe(false);
    expect(isStagingName('.tmp-x/y')).toBe(false);
    expect(isStagingName('main')).toBe(false);
  });
});

describe('normaliseRelativePath', () => {
  it('normalises paths that stay inside the volume', () => {
    expect(normaliseRelativePath('pgdata/pg_wal')).toBe('pgdata/pg_wal');
    expect(normaliseRelativePath('pgdata/pg_wal/')).toBe('pgdata/pg_wal');
    expect(normaliseRelativePath('./pgdata//x/../pg_wal')).toBe('pgdata/pg_wal');
  });

  it.each(['', '.', './', '..', '../x', 'a/../../x', '/etc', 'a\0b'])('rejects %j', (path) => {
    expect(codeOf(() => normaliseRelativePath(path))).toBe('INVALID_ARGUMENT');
  });
});
