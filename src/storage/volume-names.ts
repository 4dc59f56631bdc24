import { posix } from 'node:path';
import { PgbranchError } from '../errors.js';

/**
 * Volume names become directory names directly under the pool, so they must never contain a
 * path separator, and must not start with a dot: dot entries are reserved for the drivers' own
 * staging (`.tmp-…`) and probes, which keeps them out of `listVolumes`.
 */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Long enough for any branch naming scheme, short enough to stay far below NAME_MAX (255) with a staging prefix. */
const MAX_VOLUME_NAME_LENGTH = 200;

/** Prefix of pool entries a driver is still building or already tearing down. */
export const STAGING_PREFIX = '.tmp-';

export function isValidVolumeName(name: string): boolean {
  return name.length <= MAX_VOLUME_NAME_LENGTH && VOLUME_NAME.test(name);
}

export function assertVolumeName(name: string): void {
  if (!isValidVolumeName(name)) {
    throw new PgbranchError(
      'INVALID_ARGUMENT',
      `invalid volume name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most ${MAX_VOLUME_NAME_LENGTH} characters)`,
      { cause: new Error(`volume name ${JSON.stringify(name)} does not match ${VOLUME_NAME}`), details: { volume: name } },
    );
  }
}

export function isStagingName(name: string): boolean {
  return name.startsWith(STAGING_PREFIX) && name.length > STAGING_PREFIX.length && !name.includes('/');
}

export function assertStagingName(name: string): void {
  if (!isStagingName(name)) {
    throw new PgbranchError('INVALID_ARGUMENT', `not a staging entry: ${JSON.stringify(name)}`, {
      cause: new Error(`staging entries start with ${STAGING_PREFIX}`),
      details: { name },
    });
  }
}

/**
 * Normalises a path inside a volume to `a/b/c` and refuses anything that could escape the volume
 * or that names the volume itself (replacing the whole volume is `cloneVolume`'s job).
 */
export function normaliseRelativePath(relativePath: string): string {
  const normalised = posix.normalize(relativePath).replace(/\/+$/, '');
  if (
    relativePath.includes('\0') ||
    posix.isAbsolute(relativePath) ||
    normalised === '' ||
    normalised === '.' ||
    normalised === '..' ||
    normalised.startsWith('../')
  ) {
    throw new PgbranchError('INVALID_ARGUMENT', `invalid path inside a volume: ${JSON.stringify(relativePath)} (must be relative and stay inside the volume)`, {
      cause: new Error(`normalised to ${JSON.stringify(normalised)}`),
      details: { relativePath },
    });
  }
  return normalised;
}
