import { describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { chooseDriver, createStorageDriver, type DriverName, type StorageConfig } from './index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isPgbranchError(err) ? err.code : 'not a PgbranchError';
  }
  return undefined;
}

describe('createStorageDriver', () => {
  it('declares each driver’s capabilities as data', () => {
    const capabilities = (driver: DriverName) => createStorageDriver({ driver, poolPath: '/srv/pool' }).capabilities;
    expect(capabilities('btrfs')).toEqual({ atomicSnapshot: true, constantTimeClone: true, ownBytes: 'exact' });
    expect(capabilities('reflink')).toEqual({ atomicSnapshot: false, constantTimeClone: true, ownBytes: 'exact' });
    expect(capabilities('copy')).toEqual({ atomicSnapshot: false, constantTimeClone: false, ownBytes: 'full-copy' });
  });

  it('keeps volumes directly under a canonical pool path', () => {
    const driver = createStorageDriver({ driver: 'copy', poolPath: '/srv/x/../pool/' });
    expect(driver.poolPath).toBe('/srv/pool');
    expect(driver.volumePath('main')).toBe('/srv/pool/main');
    expect(codeOf(() => driver.volumePath('../etc'))).toBe('INVALID_ARGUMENT');
  });

  it('rejects unknown drivers and relative pool paths', () => {
    expect(codeOf(() => createStorageDriver({ driver: 'zfs', poolPath: '/srv/pool' } as unknown as StorageConfig))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => createStorageDriver({ driver: 'copy', poolPath: 'pool' }))).toBe('INVALID_ARGUMENT');
  });
});

describe('chooseDriver', () => {
  it('prefers snapshots, then reflinks, and leaves the rest to the caller', () => {
    expect(chooseDriver({ fsType: 'btrfs', btrfsSubvolumes: true, reflink: true })).toBe('btrfs');
    expect(chooseDriver({ fsType: 'btrfs', btrfsSubvolumes: false, reflink: true })).toBe('reflink');
    expect(chooseDriver({ fsType: 'xfs', btrfsSubvolumes: false, reflink: true })).toBe('reflink');
    expect(chooseDriver({ fsType: 'ext4', btrfsSubvolumes: false, reflink: false })).toBeUndefined();
  });
});
