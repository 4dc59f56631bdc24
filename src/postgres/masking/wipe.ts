import { open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../../errors.js';
import { instanceStatus } from '../instance-status.js';
import { parseLsn } from './seal-wal.js';
import type { WalSeal, WipeReport } from './types.js';
import { DB_STATE, isShutdownCheckpoint, parseControlFile, readRecord, segmentNumber, walFileName } from './wal-files.js';

const SEGMENT_NAME = /^[0-9A-F]{24}(\.partial)?$/;

function unsafe(message: string, cause?: unknown): PgbranchError {
  return new PgbranchError('MASK_WIPE_UNSAFE', message, { cause: cause ?? new Error(message) });
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Removes every entry inside `dir` (not `dir` itself); returns the removed paths relative to the data directory. */
async function emptyDirectory(dataDir: string, rel: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listOrEmpty(join(dataDir, rel))) {
    await rm(join(dataDir, rel, name), { recursive: true, force: true });
    removed.push(join(rel, name));
  }
  return removed;
}

/**
 * Call with the instance STOPPED cleanly (fast or smart shutdown, not immediate), after sealWal:
 * removes what a masked data directory still holds outside its tables.
 *
 * - pg_wal: every segment but the one holding the shutdown checkpoint is deleted (older ones hold
 *   the masking WAL and everything before it; newer ones are leftovers or recycled files), archive
 *   status files with them, and the kept segment is zeroed after the checkpoint record (a recycled
 *   file would otherwise keep stale records past the end of WAL). The kept segment must begin at or
 *   after `seal.cleanFromLsn`, i.e. hold nothing written before masking ended; otherwise nothing is
 *   touched and MASK_WIPE_UNSAFE is thrown.
 * - temporary files (base/pgsql_tmp, tablespaces' pgsql_tmp), statistics files (pg_stat,
 *   pg_stat_tmp: pg_stat_statements keeps query texts there), pg_notify, replication slot state
 *   and spill files (pg_replslot), and server logs kept inside the data directory (log/, pg_log/).
 *
 * Relation files need nothing: masking rewrote them into new files. PostgreSQL starts normally
 * afterwards (clean shutdown: no WAL is replayed).
 */
export async function wipeResidue(dataDir: string, seal: WalSeal): Promise<WipeReport> {
  if ((await instanceStatus(dataDir)).running) throw unsafe(`an instance is running on ${dataDir}: stop it cleanly (fast or smart) before wiping`);
  let control;
  try {
    control = parseControlFile(await readFile(join(dataDir, 'global', 'pg_control')));
  } catch (cause) {
    throw unsafe(`cannot read ${dataDir}/global/pg_control: ${(cause as Error).message}`, cause);
  }
  if (control.state !== 1) {
    throw unsafe(`the cluster in ${dataDir} is "${DB_STATE[control.state] ?? control.state}", not "shut down": stop it with a fast or smart shutdown before wiping`);
  }
  if (control.checkPoint !== control.redo) throw unsafe('pg_control does not describe a shutdown checkpoint (its REDO differs from its location)');
  const segBytes = seal.walSegmentBytes;
  const cleanFrom = parseLsn(seal.cleanFromLsn);
  const ckptSeg = segmentNumber(control.checkPoint, segBytes);
  const segStart = ckptSeg * BigInt(segBytes);
  if (segStart < cleanFrom) {
    throw unsafe(
      `the WAL segment holding the shutdown checkpoint starts before the sealed position ${seal.cleanFromLsn}: call sealWal after masking and before stopping, and do not write to the instance in between`,
    );
  }
  const walDir = join(dataDir, 'pg_wal');
  const keptName = walFileName(control.timeline, ckptSeg, segBytes);
  const keptPath = join(walDir, keptName);

  // Verify the kept segment before deleting anything: the checkpoint record must be where
  // pg_control says, intact, and a shutdown checkpoint.
  let recordEnd: bigint;
  const file = await open(keptPath, 'r+').catch((cause: unknown) => {
    throw unsafe(`the WAL segment ${keptName} that holds the last checkpoint is missing`, cause);
  });
  try {
    const { size } = await file.stat();
    if (size !== segBytes) throw unsafe(`WAL segment ${keptName} is ${size} bytes, expected ${segBytes}`);
    const buf = Buffer.alloc(segBytes);
    await file.read(buf, 0, segBytes, 0);
    let rec;
    try {
      rec = readRecord(buf, segStart, control.checkPoint);
    } catch (cause) {
      throw unsafe(`cannot read the shutdown checkpoint record in ${keptName}: ${(cause as Error).message}`, cause);
    }
    if (!isShutdownCheckpoint(rec)) throw unsafe(`the last checkpoint in ${keptName} is not a shutdown checkpoint`);
    recordEnd = rec.end;
    // Zero everything after the record: a fresh segment looks like this (records end where zeros begin).
    const from = Number(recordEnd - segStart);
    const zeros = Buffer.alloc(Math.min(1 << 20, segBytes));
    for (let off = from; off < segBytes; off += zeros.length) {
      await file.write(zeros, 0, Math.min(zeros.length, segBytes - off), off);
    }
    await file.sync();
  } finally {
    await file.close();
  }

  let removedWalSegments = 0;
  let removedWalBytes = 0;
  const removedFiles: string[] = [];
  for (const name of await listOrEmpty(walDir)) {
    const path = join(walDir, name);
    if (name === keptName || name.endsWith('.history') || name === 'archive_status' || name === 'summaries') continue;
    if (SEGMENT_NAME.test(name)) {
      // Older and newer segments, other timelines' and .partial ones alike: the checkpoint record
      // cannot continue into the next segment (readRecord refuses that), so none is needed.
      removedWalBytes += (await stat(path)).size;
      await rm(path, { force: true });
      removedWalSegments++;
      continue;
    }
    // xlogtemp.*, backup history files, anything else a crashed or old server left.
    if ((await stat(path)).isFile()) {
      await rm(path, { force: true });
      removedFiles.push(join('pg_wal', name));
    }
  }
  removedFiles.push(...(await emptyDirectory(dataDir, join('pg_wal', 'archive_status'))));
  for (const rel of ['pg_stat_tmp', 'pg_stat', 'pg_notify', 'pg_replslot', join('base', 'pgsql_tmp'), 'log', 'pg_log']) {
    removedFiles.push(...(await emptyDirectory(dataDir, rel)));
  }
  for (const ts of await listOrEmpty(join(dataDir, 'pg_tblspc'))) {
    for (const versionDir of await listOrEmpty(join(dataDir, 'pg_tblspc', ts))) {
      removedFiles.push(...(await emptyDirectory(dataDir, join('pg_tblspc', ts, versionDir, 'pgsql_tmp'))));
    }
  }
  return { removedWalSegments, removedWalBytes, zeroedWalBytes: segBytes - Number(recordEnd - segStart), removedFiles, keptWalSegment: keptName };
}
