import { access, chown, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { PgbranchError } from '../../errors.js';
import { defaultSettings } from '../config-defaults.js';
import { writeHba } from '../hba.js';
import { prepareDirectory } from '../os-user.js';
import { archiveCommand, restoreCommand } from './archive-command.js';
import { gucString, updateAutoConf } from './auto-conf.js';
import { assertSlotName } from './commands.js';
import type { ReplicationSource, StandbyOptions } from './types.js';

export const STANDBY_SIGNAL = 'standby.signal';
export const RECOVERY_SIGNAL = 'recovery.signal';

/** Every recovery target setting: at most one may be non-empty, so the unused ones are removed. */
export const RECOVERY_TARGET_SETTINGS = ['recovery_target', 'recovery_target_time', 'recovery_target_lsn', 'recovery_target_xid', 'recovery_target_name'] as const;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Creates `name` in the data directory (empty, 0600, owned like the directory). */
export async function writeSignalFile(dataDir: string, name: string): Promise<void> {
  const path = join(dataDir, name);
  const dirStat = await stat(dataDir);
  await writeFile(path, '', { mode: 0o600 });
  await chown(path, dirStat.uid, dirStat.gid);
}

/** A libpq conninfo value: single-quoted, backslash and quote escaped. */
function conninfoValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** primary_conninfo for the walreceiver: everything but the password, which comes from `passfile`. */
export function primaryConninfo(source: ReplicationSource, passfile: string): string {
  const parts: [string, string][] = [
    ['host', source.host],
    ['port', String(source.port)],
    ['user', source.user],
    ['passfile', passfile],
    ['sslmode', source.sslmode],
    ['application_name', source.applicationName ?? 'pgbranch'],
  ];
  if (source.sslrootcert) parts.push(['sslrootcert', source.sslrootcert]);
  if (source.connectTimeoutMs) parts.push(['connect_timeout', String(Math.max(1, Math.ceil(source.connectTimeoutMs / 1000)))]);
  return parts.map(([k, v]) => `${k}=${conninfoValue(v)}`).join(' ');
}

/**
 * A data directory copied from another server may lack files PostgreSQL needs to start (Debian
 * keeps postgresql.conf and pg_hba.conf in /etc): create minimal ones.
 */
async function ensureConfigFiles(dataDir: string): Promise<void> {
  const dirStat = await stat(dataDir);
  for (const name of ['postgresql.conf', 'pg_ident.conf']) {
    const path = join(dataDir, name);
    if (await exists(path)) continue;
    await writeFile(path, '', { mode: 0o600 });
    await chown(path, dirStat.uid, dirStat.gid);
  }
  if (!(await exists(join(dataDir, 'pg_hba.conf')))) await writeHba(dataDir, { allowTcp: true });
}

/**
 * Makes a base backup (or a stopped copy of a standby) a hot standby of `source`, all through
 * postgresql.auto.conf (startInstance's -c flags stay free of secrets): standby.signal,
 * primary_conninfo with passfile= (no password anywhere in the data directory or on a command
 * line), optional slot, WAL archiving of everything received (archive_mode = always) into
 * `archiveDir` and restore_command from it, the source's max_* values (a standby refuses to
 * run with less), pgbranch's small-instance defaults, ssl off (the source's certificate files
 * are not part of a copy; instances listen on loopback only).
 */
export async function configureStandby(dataDir: string, opts: StandbyOptions): Promise<void> {
  const { source, passfile, sourceSettings: s, archiveDir, osUser } = opts;
  if (!isAbsolute(passfile) || !isAbsolute(archiveDir)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'passfile and archiveDir must be absolute paths', { cause: new Error('relative path') });
  }
  if (opts.slotName !== undefined) assertSlotName(opts.slotName);
  await ensureConfigFiles(dataDir);
  await prepareDirectory(archiveDir, osUser, 0o700);

  const defaults = defaultSettings(opts.major);
  delete defaults.max_connections;
  const changes: Record<string, string | null> = {
    ...defaults,
    ssl: 'off',
    wal_level: s.walLevel === 'logical' ? 'logical' : 'replica',
    max_connections: String(s.maxConnections),
    max_worker_processes: String(s.maxWorkerProcesses),
    max_wal_senders: String(s.maxWalSenders),
    max_prepared_transactions: String(s.maxPreparedTransactions),
    max_locks_per_transaction: String(s.maxLocksPerTransaction),
    hot_standby: 'on',
    hot_standby_feedback: 'off',
    primary_conninfo: gucString(primaryConninfo(source, passfile)),
    primary_slot_name: gucString(opts.slotName ?? ''),
    archive_mode: 'always',
    archive_command: gucString(archiveCommand(archiveDir)),
    ...(opts.major >= 15 ? { archive_library: gucString('') } : {}),
    restore_command: gucString(restoreCommand(archiveDir)),
    recovery_target_timeline: gucString('latest'),
    recovery_target_action: null,
    recovery_target_inclusive: null,
    ...Object.fromEntries(RECOVERY_TARGET_SETTINGS.map((k) => [k, null])),
    ...(opts.settings ?? {}),
  };
  await updateAutoConf(dataDir, changes);
  await rm(join(dataDir, RECOVERY_SIGNAL), { force: true });
  await writeSignalFile(dataDir, STANDBY_SIGNAL);
}

/**
 * For a clone of a standby that is to become a primary: cut every tie to the source and the
 * shared archive (no walreceiver, no slot, no archiving, no restore_command) while keeping
 * standby.signal, so the clone starts as a standby, replays what its pg_wal holds, and is then
 * promoted (promote()) onto a new timeline.
 */
export async function detachFromSource(dataDir: string, options: { major: number }): Promise<void> {
  await updateAutoConf(dataDir, {
    primary_conninfo: gucString(''),
    primary_slot_name: gucString(''),
    archive_mode: 'off',
    archive_command: gucString(''),
    ...(options.major >= 15 ? { archive_library: gucString('') } : {}),
    restore_command: gucString(''),
    recovery_target_action: null,
    recovery_target_inclusive: null,
    ...Object.fromEntries(RECOVERY_TARGET_SETTINGS.map((k) => [k, null])),
  });
  await rm(join(dataDir, RECOVERY_SIGNAL), { force: true });
  if (!(await exists(join(dataDir, STANDBY_SIGNAL)))) await writeSignalFile(dataDir, STANDBY_SIGNAL);
}
