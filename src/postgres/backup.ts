import type pg from 'pg';
import { PgbranchError } from '../errors.js';
import type { BackupLabel } from './types.js';

async function query<R extends pg.QueryResultRow>(client: pg.Client, what: string, sql: string, params: unknown[] = []): Promise<R[]> {
  try {
    return (await client.query<R>(sql, params)).rows;
  } catch (cause) {
    throw new PgbranchError('POSTGRES_ERROR', `${what} failed: ${(cause as Error).message}`, { cause });
  }
}

/** Forces a checkpoint, so a crash-consistent snapshot taken next needs little WAL replay. */
export async function checkpoint(client: pg.Client): Promise<void> {
  await query(client, 'CHECKPOINT', 'CHECKPOINT');
}

/**
 * Makes every WAL record inserted so far durable without a checkpoint: a commit that waits for its
 * flush flushes the WAL up to its commit record, so everything inserted before it. PostgreSQL
 * flushes at commit only for a transaction that wrote WAL besides its commit record, so this one
 * takes a transaction id and writes one tiny record, a restore point (no data, nothing logical
 * decoding sends on; a LOG line on the parent). One WAL fsync, where a CHECKPOINT writes every
 * dirty buffer. `local`: a parent that names synchronous standbys must not wait for them; READ
 * WRITE: one whose transactions default to read-only still takes the id. Needs what CHECKPOINT
 * needs (a superuser) and wal_level replica or logical; the caller checkpoints when it fails.
 */
export async function flushWal(client: pg.Client): Promise<void> {
  try {
    await client.query(
      "BEGIN READ WRITE; SET LOCAL synchronous_commit = local; SELECT pg_current_xact_id(); SELECT pg_create_restore_point('pgbranch: WAL flushed for a copy'); COMMIT",
    );
  } catch (cause) {
    // A statement that failed inside the block leaves it open and aborted: close it for the caller.
    await client.query('ROLLBACK').catch(() => undefined);
    throw new PgbranchError('POSTGRES_ERROR', `flushing the WAL failed: ${(cause as Error).message}`, { cause });
  }
}

export interface WalPosition {
  /** Where the next WAL record goes (every change made so far is before it). */
  readonly insertLsn: string;
  /** Whether everything before insertLsn is on disk (a snapshot of the files would hold it). */
  readonly flushed: boolean;
  /** WAL bytes since the redo point of the last checkpoint: what a crash-consistent copy replays. */
  readonly sinceRedoBytes: number;
}

/** A primary's WAL position and how much WAL a crash recovery of a copy taken now would replay. */
export async function walPosition(client: pg.Client): Promise<WalPosition> {
  const rows = await query<{ insert: string; flush: string; since: string }>(
    client,
    'reading the WAL position',
    `SELECT pg_current_wal_insert_lsn()::text AS insert, pg_current_wal_flush_lsn()::text AS flush,
            pg_wal_lsn_diff(pg_current_wal_insert_lsn(), (pg_control_checkpoint()).redo_lsn)::text AS since`,
  );
  const row = rows[0]!;
  return { insertLsn: row.insert, flushed: row.flush === row.insert, sinceRedoBytes: Number(row.since) };
}

/** Current WAL write position, e.g. "0/1A2B3C8" (a branch point). */
export async function currentWalLsn(client: pg.Client): Promise<string> {
  const rows = await query<{ lsn: string }>(
    client,
    'reading the WAL position',
    'SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn',
  );
  return rows[0]!.lsn;
}

/**
 * Starts a non-exclusive base backup in this session (the session must stay open until
 * stopBackup). fast = immediate checkpoint, since callers wait for it.
 */
export async function startBackup(client: pg.Client, label: string, major: number): Promise<string> {
  const rows =
    major >= 15
      ? await query<{ lsn: string }>(client, 'pg_backup_start', 'SELECT pg_backup_start($1, fast => true)::text AS lsn', [label])
      : await query<{ lsn: string }>(client, 'pg_start_backup', 'SELECT pg_start_backup($1, true, false)::text AS lsn', [label]);
  return rows[0]!.lsn;
}

/** Ends the backup started in this session; the copy needs `labelFile` as its backup_label. */
export async function stopBackup(client: pg.Client, major: number): Promise<BackupLabel> {
  const sql =
    major >= 15
      ? 'SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_backup_stop(wait_for_archive => false)'
      : 'SELECT lsn::text AS lsn, labelfile, spcmapfile FROM pg_stop_backup(false, false)';
  const rows = await query<{ lsn: string; labelfile: string; spcmapfile: string | null }>(client, 'stopping the backup', sql);
  const row = rows[0]!;
  return { stopLsn: row.lsn, labelFile: row.labelfile, tablespaceMap: row.spcmapfile ?? '' };
}
