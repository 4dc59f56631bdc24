import { chmod, chown, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError, isPgbranchError } from '../../errors.js';
import { log, run } from '../../util/index.js';
import { assertReachable } from '../os-user.js';
import type { OsUser } from '../types.js';
import { createReplicationSlot, identifySystem, readSourceSettings, timelineHistory } from './commands.js';
import { connectSource, replicationFailure } from './connect-source.js';
import { abortError, type ReplicationConnection } from './connection.js';
import { formatLsn, parseLsn } from './lsn.js';
import { assertSourceSupported, majorOf } from './preflight.js';
import { describeSource } from './source.js';
import { createTarExtractor, type TarExtractor } from './tar-extract.js';
import type { BaseBackupOptions, BaseBackupResult } from './types.js';
import { startWalStream, type WalStream } from './wal-stream.js';
import {
  BodyReader,
  encodeQuery,
  MSG_COMMAND_COMPLETE,
  MSG_COPY_DATA,
  MSG_COPY_DONE,
  MSG_COPY_OUT_RESPONSE,
  MSG_DATA_ROW,
  MSG_ERROR_RESPONSE,
  MSG_READY_FOR_QUERY,
  MSG_ROW_DESCRIPTION,
  parseDataRow,
  parseErrorFields,
  parseRowDescription,
  PgServerError,
  ProtocolError,
  type FieldDescription,
} from './wire.js';

// Sub-message types inside the single COPY of PostgreSQL ≥ 15 (TARGET 'client').
const NEW_ARCHIVE = 0x6e; // n
const ARCHIVE_DATA = 0x64; // d
const PROGRESS = 0x70; // p
const MANIFEST = 0x6d; // m

const PROGRESS_STEP_BYTES = 1024 * 1024;

/** Creates the target (0700, owned by the OS user) or checks that it is empty; true if created here. */
async function prepareTarget(dataDir: string, osUser: OsUser): Promise<boolean> {
  await assertReachable(dataDir, osUser);
  let created = false;
  try {
    const st = await stat(dataDir);
    if (!st.isDirectory()) throw new PgbranchError('INVALID_ARGUMENT', `${dataDir} exists and is not a directory`, { cause: new Error('not a directory') });
    if ((await readdir(dataDir)).length > 0) {
      throw new PgbranchError('INVALID_ARGUMENT', `cannot take a base backup into ${dataDir}: the directory is not empty`, { cause: new Error('not empty') });
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    created = true;
  }
  await chown(dataDir, osUser.uid, osUser.gid);
  await chmod(dataDir, 0o700);
  return created;
}

/** Removes what this backup wrote: the directory if it made it, else its (formerly empty) contents. */
async function cleanTarget(dataDir: string, created: boolean): Promise<void> {
  if (created) {
    await rm(dataDir, { recursive: true, force: true });
    return;
  }
  const entries = await readdir(dataDir).catch(() => [] as string[]);
  await Promise.all(entries.map((e) => rm(join(dataDir, e), { recursive: true, force: true })));
}

async function makeOwnedDir(path: string, osUser: OsUser): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chown(path, osUser.uid, osUser.gid);
}

function quoteLabel(label: string): string {
  return `'${label.replace(/[^\x20-\x7e]/g, '').replaceAll("'", "''")}'`;
}

export function baseBackupCommand(serverVersionNum: number, options: { label: string; fastCheckpoint: boolean }): string {
  const label = quoteLabel(options.label);
  if (serverVersionNum >= 150000) {
    // TARGET 'client' selects the single-COPY format; WAIT false: we stream the WAL ourselves.
    return `BASE_BACKUP (LABEL ${label}, PROGRESS, CHECKPOINT '${options.fastCheckpoint ? 'fast' : 'spread'}', WAIT false, MANIFEST 'no', TARGET 'client')`;
  }
  return `BASE_BACKUP LABEL ${label} PROGRESS${options.fastCheckpoint ? ' FAST' : ''} NOWAIT MANIFEST 'no'`;
}

interface ResultSet {
  readonly fields: FieldDescription[];
  readonly rows: (Buffer | null)[][];
}

function column(set: ResultSet, row: number, name: string): string | null {
  const i = set.fields.findIndex((f) => f.name === name);
  const v = i < 0 ? undefined : set.rows[row]?.[i];
  return v === undefined || v === null ? null : v.toString('utf8');
}

/**
 * A full base backup of the source into `dataDir`, consistent and startable on its own: the data
 * files come over BASE_BACKUP (single-COPY format on ≥ 15, one COPY per archive on 14) and the
 * WAL from the backup start to its end is streamed on a second connection through a temporary
 * slot created *before* the backup starts, so a busy source cannot recycle a segment the copy
 * needs (the slot goes away with the connection). Tablespaces other than pg_default/pg_global are
 * refused. On failure or abort everything written is removed.
 */
export async function baseBackup(opts: BaseBackupOptions): Promise<BaseBackupResult> {
  const { source, dataDir, osUser, signal, onProgress } = opts;
  if (signal?.aborted) throw abortError(signal);
  const who = describeSource(source);
  const created = await prepareTarget(dataDir, osUser);
  let conn: ReplicationConnection | undefined;
  let walConn: ReplicationConnection | undefined;
  let walStream: WalStream | undefined;
  let extractor: TarExtractor | undefined;
  const connectOptions = signal ? { signal } : {};
  try {
    conn = await connectSource(source, connectOptions);
    const identity = await identifySystem(conn);
    const settings = await readSourceSettings(conn);
    assertSourceSupported(source, settings);
    const major = majorOf(settings);

    walConn = await connectSource(source, connectOptions);
    const wal = walConn;
    let slotName: string | undefined;
    if (settings.maxReplicationSlots > 0) {
      const name = `pgbranch_bb_${process.pid}_${Date.now().toString(36)}`;
      try {
        slotName = (await createReplicationSlot(wal, name, { temporary: true })).slotName;
      } catch (err) {
        if (wal.closed) throw err;
        // All slots in use: go on like pg_basebackup without a slot (WAL is kept only by wal_keep_size).
        log.warn({ source: who, err: (err as Error).message }, 'base backup without a temporary slot');
      }
    }
    const walDir = join(dataDir, 'pg_wal');
    await makeOwnedDir(walDir, osUser);
    await makeOwnedDir(join(walDir, 'archive_status'), osUser);

    conn.send(encodeQuery(baseBackupCommand(settings.serverVersionNum, { label: opts.label ?? 'pgbranch base backup', fastCheckpoint: opts.fastCheckpoint ?? true })));
    onProgress?.({ phase: 'checkpoint', done: 0, unit: 'bytes' });

    const sets: ResultSet[] = [];
    let startLsn: bigint | undefined;
    let timeline = identity.timeline;
    let totalBytes: number | undefined;
    let tablespacesChecked = false;
    let bytes = 0;
    let reported = 0;
    let inManifest = false;
    let serverError: PgServerError | undefined;

    const report = (force = false): void => {
      if (!onProgress || (!force && bytes - reported < PROGRESS_STEP_BYTES)) return;
      reported = bytes;
      onProgress({ phase: 'copy', done: bytes, ...(totalBytes !== undefined ? { total: Math.max(totalBytes, bytes) } : {}), unit: 'bytes' });
    };

    // Result sets come without a CommandComplete between them: a set is complete once the next
    // message that is not one of its rows arrives.
    const onCompleteSets = async (): Promise<void> => {
      if (startLsn === undefined && sets.length >= 1) {
        const start = sets[0]!;
        startLsn = parseLsn(column(start, 0, 'recptr') ?? '');
        timeline = Number(column(start, 0, 'tli') ?? timeline);
        walStream = await startWalStream({
          conn: wal,
          walDir,
          timeline,
          startLsn,
          segmentSize: settings.walSegmentSize,
          osUser,
          ...(slotName ? { slotName } : {}),
        });
      }
      if (!tablespacesChecked && sets.length >= 2) {
        tablespacesChecked = true;
        const set = sets[1]!;
        const others: string[] = [];
        let total = 0;
        for (let i = 0; i < set.rows.length; i++) {
          if (column(set, i, 'spcoid') !== null) others.push(column(set, i, 'spclocation') ?? '?');
          total += Number(column(set, i, 'size') ?? 0) * 1024;
        }
        if (others.length > 0) {
          throw new PgbranchError(
            'SOURCE_UNSUPPORTED',
            `the source ${who} has tablespaces other than pg_default/pg_global (${others.join(', ')}); pgbranch copies only the main data directory. ` +
              `Move their objects to pg_default (ALTER TABLE … SET TABLESPACE pg_default, ALTER DATABASE … SET TABLESPACE pg_default) and drop them`,
            { cause: new Error('tablespaces'), details: { tablespaces: others } },
          );
        }
        totalBytes = total;
        report(true);
      }
    };

    if (wal.closed) throw new PgbranchError('REPLICATION_FAILED', `the WAL connection to ${who} closed`, { cause: new Error('closed') });
    let pendingSet = false;
    for (;;) {
      let msg;
      try {
        msg = await conn.next();
      } catch (err) {
        throw replicationFailure('BASE_BACKUP', err, source);
      }
      if (msg.type !== MSG_DATA_ROW && pendingSet) {
        pendingSet = false;
        await onCompleteSets();
      }
      switch (msg.type) {
        case MSG_ROW_DESCRIPTION:
          sets.push({ fields: parseRowDescription(msg.body), rows: [] });
          pendingSet = true;
          break;
        case MSG_DATA_ROW:
          sets.at(-1)?.rows.push(parseDataRow(msg.body));
          break;
        case MSG_COMMAND_COMPLETE:
          break;
        case MSG_COPY_OUT_RESPONSE:
          if (!walStream || !tablespacesChecked) throw new ProtocolError('COPY before the start position and tablespace list');
          // Before 15 each COPY is one tar archive; from 15 on 'n' announces each archive.
          if (settings.serverVersionNum < 150000) extractor = createTarExtractor(dataDir, osUser);
          break;
        case MSG_COPY_DATA: {
          if (settings.serverVersionNum < 150000) {
            if (!extractor) throw new ProtocolError('tar data outside an archive');
            bytes += msg.body.length;
            await extractor.write(msg.body);
            report();
            break;
          }
          const kind = msg.body[0];
          const r = new BodyReader(msg.body.subarray(1));
          if (kind === NEW_ARCHIVE) {
            const name = r.cstring();
            const location = r.cstring();
            if (extractor) await extractor.end();
            if (name !== 'base.tar' || location !== '') {
              throw new PgbranchError('SOURCE_UNSUPPORTED', `the source sent archive ${name} (${location}); only the main data directory is supported`, {
                cause: new Error('unexpected archive'),
              });
            }
            extractor = createTarExtractor(dataDir, osUser);
          } else if (kind === ARCHIVE_DATA) {
            if (inManifest) break;
            if (!extractor) throw new ProtocolError('archive data before any archive');
            const data = r.rest();
            bytes += data.length;
            await extractor.write(data);
            report();
          } else if (kind === PROGRESS) {
            // server-side count; ours (bytes received) is what we report
          } else if (kind === MANIFEST) {
            inManifest = true;
          }
          break;
        }
        case MSG_COPY_DONE:
          if (extractor) await extractor.end();
          extractor = undefined;
          break;
        case MSG_ERROR_RESPONSE:
          serverError = new PgServerError(parseErrorFields(msg.body));
          break;
        default:
          if (msg.type !== MSG_READY_FOR_QUERY) throw new ProtocolError(`unexpected message ${JSON.stringify(String.fromCharCode(msg.type))} during BASE_BACKUP`);
      }
      if (msg.type === MSG_READY_FOR_QUERY) break;
    }
    if (serverError) throw replicationFailure('BASE_BACKUP', serverError, source);
    const endSet = sets.length >= 3 ? sets.at(-1)! : undefined;
    const endText = endSet ? column(endSet, 0, 'recptr') : null;
    if (!endText || startLsn === undefined || !walStream) throw new ProtocolError('BASE_BACKUP ended without an end position');
    const endLsn = parseLsn(endText);

    onProgress?.({ phase: 'wal', done: bytes, total: bytes, unit: 'bytes' });
    await walStream.waitWritten(endLsn);
    await walStream.finish();
    walStream = undefined;
    if (timeline > 1) {
      // The copy's timeline history, so recovery and the archive know the ancestry.
      const history = await timelineHistory(conn, timeline);
      const path = join(walDir, history.fileName.replace(/^.*\//, ''));
      await writeFile(path, history.content, { mode: 0o600 });
      await chown(path, osUser.uid, osUser.gid);
    }
    await conn.close();
    conn = undefined;
    if (!opts.noSync) await run('sync', ['-f', dataDir], { timeoutMs: 600_000, errorCode: 'REPLICATION_FAILED' });
    return {
      systemId: identity.systemId,
      timeline,
      startLsn: formatLsn(startLsn),
      endLsn: formatLsn(endLsn),
      bytes,
      major,
      settings,
    };
  } catch (err) {
    const failure = signal?.aborted ? abortError(signal) : isPgbranchError(err) ? err : replicationFailure('base backup', err, source);
    conn?.destroy(failure);
    if (walStream) await walStream.abort(failure);
    else walConn?.destroy(failure);
    await extractor?.destroy(failure);
    await cleanTarget(dataDir, created);
    throw failure;
  }
}
