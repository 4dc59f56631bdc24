import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError, isPgbranchError } from '../../errors.js';
import { run, waitFor } from '../../util/index.js';
import { serverEnv } from '../child-env.js';
import { readLogTail } from '../log-tail.js';
import { readPostmasterPid } from '../postmaster-pid.js';
import { isPostmasterOf } from '../process-info.js';
import { startInstance } from '../start-instance.js';
import type { OsUser, PgBinaries, StartOptions } from '../types.js';
import { restoreCommand } from './archive-command.js';
import { gucString, updateAutoConf } from './auto-conf.js';
import { parseLsn } from './lsn.js';
import { RECOVERY_SIGNAL, RECOVERY_TARGET_SETTINGS, STANDBY_SIGNAL, writeSignalFile } from './standby-config.js';
import type { RecoveryTargetOptions } from './types.js';

const DEFAULT_RECOVERY_TIMEOUT_MS = 120_000;
const TIMESTAMPTZ = /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d{1,6})?)?\s*(Z|UTC|[+-]\d\d(:?\d\d)?)$/;

function targetSetting(opts: RecoveryTargetOptions): [string, string] {
  const { target } = opts;
  if (target.kind === 'lsn') {
    parseLsn(target.lsn); // validates
    return ['recovery_target_lsn', gucString(target.lsn)];
  }
  if (target.time instanceof Date && Number.isNaN(target.time.getTime())) {
    throw new PgbranchError('INVALID_ARGUMENT', 'the recovery target time is an invalid Date', { cause: new Error('bad time') });
  }
  // The server's check of recovery_target_time refuses ISO 8601's "T…Z" form; spell it the way timestamptz prints.
  const text = target.time instanceof Date ? `${target.time.toISOString().replace('T', ' ').replace('Z', '')}+00` : target.time.trim();
  // An explicit zone: without one the server would read it in its own time zone.
  if (!TIMESTAMPTZ.test(text)) {
    throw new PgbranchError('INVALID_ARGUMENT', `not a recovery target time with a time zone (e.g. 2026-01-02 03:04:05.123456+00): ${JSON.stringify(text)}`, {
      cause: new Error('bad time'),
    });
  }
  return ['recovery_target_time', gucString(text)];
}

/**
 * Makes a stopped copy of a standby (a snapshot taken before the target) recover up to a time or
 * LSN from the WAL archive and then become a primary: recovery.signal (standby.signal removed),
 * restore_command from the archive, the one target, recovery_target_action = 'promote', latest
 * timeline, no connection to the source, no archiving (a branch must never write its timelines
 * into the shared archive), hot_standby off so that nobody reads a half-recovered state.
 */
export async function configureRecoveryTarget(dataDir: string, opts: RecoveryTargetOptions): Promise<void> {
  const [name, value] = targetSetting(opts);
  await updateAutoConf(dataDir, {
    ...Object.fromEntries(RECOVERY_TARGET_SETTINGS.map((k) => [k, null])),
    [name]: value,
    recovery_target_inclusive: opts.inclusive === false ? 'off' : 'on',
    recovery_target_action: gucString('promote'),
    recovery_target_timeline: gucString('latest'),
    restore_command: gucString(restoreCommand(opts.archiveDir)),
    primary_conninfo: gucString(''),
    primary_slot_name: gucString(''),
    archive_mode: 'off',
    archive_command: gucString(''),
    hot_standby: 'off',
  });
  await rm(join(dataDir, STANDBY_SIGNAL), { force: true });
  await writeSignalFile(dataDir, RECOVERY_SIGNAL);
}

/** After promotion: drop the recovery-only settings so they do not linger in a primary's config. */
export async function clearRecoverySettings(dataDir: string): Promise<void> {
  await updateAutoConf(dataDir, {
    ...Object.fromEntries(RECOVERY_TARGET_SETTINGS.map((k) => [k, null])),
    recovery_target_inclusive: null,
    recovery_target_action: null,
    restore_command: null,
    hot_standby: null,
  });
}

/** The most specific error for a recovery that stopped, from the server's last words. */
export function classifyRecoveryFailure(logTail: string, dataDir: string): PgbranchError | undefined {
  if (/recovery ended before configured recovery target was reached/.test(logTail)) {
    return new PgbranchError(
      'RECOVERY_TARGET_NOT_REACHED',
      `recovery of ${dataDir} ran out of WAL before the recovery target: the target is later than the newest archived WAL ` +
        `(the segment holding it is not archived yet, or one is missing). Choose an earlier target, or wait until the followed standby has archived it`,
      { cause: new Error(logTail), details: { dataDir } },
    );
  }
  if (/requested recovery stop point is before consistent recovery point/.test(logTail)) {
    return new PgbranchError(
      'RECOVERY_TARGET_NOT_REACHED',
      `the copy in ${dataDir} is newer than the recovery target: recovery cannot go back in time. Start from a snapshot taken before the target`,
      { cause: new Error(logTail), details: { dataDir } },
    );
  }
  return undefined;
}

export interface RecoveryWaitOptions {
  readonly dataDir: string;
  readonly logFile: string;
  /** Where in the log this start began (only later lines are read). */
  readonly logOffset?: number;
  readonly timeoutMs?: number;
}

/**
 * Waits until the instance on `dataDir` has finished recovery (postmaster.pid says "ready", as
 * it does once the startup process ended and the server accepts writes). If the postmaster goes
 * away meanwhile, the server log says why: an unreachable target becomes
 * RECOVERY_TARGET_NOT_REACHED, anything else POSTGRES_START_FAILED with the log tail.
 */
export async function waitForRecoveryEnd(opts: RecoveryWaitOptions): Promise<void> {
  const { dataDir, logFile } = opts;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RECOVERY_TIMEOUT_MS;
  try {
    await waitFor(
      async () => {
        const pm = await readPostmasterPid(dataDir);
        if (!pm || !(await isPostmasterOf(pm.pid, dataDir))) {
          const tail = await readLogTail(logFile, opts.logOffset ?? 0, 20);
          throw (
            classifyRecoveryFailure(tail, dataDir) ??
            new PgbranchError('POSTGRES_START_FAILED', `PostgreSQL on ${dataDir} stopped during recovery; server log:\n${tail}`, {
              cause: new Error('postmaster gone'),
              details: { dataDir, logFile },
            })
          );
        }
        return pm.pmStatus === 'ready' ? true : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `recovery of ${dataDir} to end` },
    );
  } catch (err) {
    if (isPgbranchError(err)) throw err;
    throw new PgbranchError('POSTGRES_ERROR', `recovery of ${dataDir} did not end within ${timeoutMs} ms`, { cause: err, details: { dataDir } });
  }
}

/**
 * Starts an instance configured by configureRecoveryTarget and resolves once it has reached the
 * target and become a primary (recovery settings are then removed from its configuration).
 */
export async function runRecovery(start: StartOptions): Promise<{ pid: number }> {
  const logOffset = await stat(start.logFile).then(
    (s) => s.size,
    () => 0,
  );
  const timeoutMs = start.timeoutMs ?? DEFAULT_RECOVERY_TIMEOUT_MS;
  let pid: number;
  try {
    ({ pid } = await startInstance({ ...start, timeoutMs }));
  } catch (err) {
    const tail = await readLogTail(start.logFile, logOffset, 20);
    throw classifyRecoveryFailure(tail, start.dataDir) ?? err;
  }
  await waitForRecoveryEnd({ dataDir: start.dataDir, logFile: start.logFile, logOffset, timeoutMs });
  await clearRecoverySettings(start.dataDir);
  return { pid };
}

export interface PromoteOptions {
  readonly dataDir: string;
  readonly binaries: PgBinaries;
  readonly osUser: OsUser;
  readonly logFile: string;
  readonly timeoutMs?: number;
}

/**
 * Promotes a running standby (e.g. a clone prepared with detachFromSource) to a primary on a new
 * timeline: `pg_ctl promote -w` (as the instance user), then waits for postmaster.pid to say
 * "ready".
 */
export async function promote(opts: PromoteOptions): Promise<void> {
  const { dataDir, binaries, osUser } = opts;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const logOffset = await stat(opts.logFile).then(
    (s) => s.size,
    () => 0,
  );
  const asOther = process.getuid?.() !== osUser.uid;
  try {
    await run(join(binaries.binDir, 'pg_ctl'), ['promote', '-D', dataDir, '-w', '-t', String(Math.max(1, Math.ceil(timeoutMs / 1000)))], {
      env: serverEnv(),
      cwd: '/',
      errorCode: 'POSTGRES_ERROR',
      timeoutMs: timeoutMs + 5_000,
      ...(asOther ? { uid: osUser.uid, gid: osUser.gid } : {}),
    });
  } catch (err) {
    throw new PgbranchError('POSTGRES_ERROR', `promoting ${dataDir} failed: ${(err as Error).message}`, { cause: err, details: { dataDir } });
  }
  await waitForRecoveryEnd({ dataDir, logFile: opts.logFile, logOffset, timeoutMs });
}
