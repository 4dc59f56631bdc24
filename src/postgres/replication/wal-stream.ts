import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../../errors.js';
import type { OsUser } from '../types.js';
import { replicationFailure } from './connect-source.js';
import type { ReplicationConnection } from './connection.js';
import { formatLsn, pgNowMicros, walFileName } from './lsn.js';
import {
  BodyReader,
  encodeCopyData,
  encodeCopyDone,
  encodeQuery,
  MSG_COMMAND_COMPLETE,
  MSG_COPY_BOTH_RESPONSE,
  MSG_COPY_DATA,
  MSG_COPY_DONE,
  MSG_DATA_ROW,
  MSG_ERROR_RESPONSE,
  MSG_READY_FOR_QUERY,
  MSG_ROW_DESCRIPTION,
  parseErrorFields,
  PgServerError,
  ProtocolError,
} from './wire.js';

const XLOG_DATA = 0x77; // w
const KEEPALIVE = 0x6b; // k
const STANDBY_STATUS_UPDATE = 0x72; // r
/** Same cadence as pg_receivewal's default --status-interval: well inside wal_sender_timeout. */
const STATUS_INTERVAL_MS = 10_000;

export interface WalStreamOptions {
  readonly conn: ReplicationConnection;
  /** pg_wal of the target data directory (must exist). */
  readonly walDir: string;
  readonly timeline: number;
  /** Where to start; rounded down to the start of its segment so every file is complete. */
  readonly startLsn: bigint;
  readonly segmentSize: number;
  /** Stream through this slot (holds the WAL on the source until we have it). */
  readonly slotName?: string;
  readonly osUser: OsUser;
}

export interface WalStream {
  /** Highest WAL position written to disk so far. */
  readonly writtenLsn: bigint;
  /** Resolves once WAL up to `lsn` is written; rejects if streaming fails first. */
  waitWritten(lsn: bigint): Promise<void>;
  /** Ends streaming (CopyDone), fsyncs the segments and closes the connection. */
  finish(): Promise<void>;
  /** Stops at once (on failure / abort); never throws. */
  abort(err: Error): Promise<void>;
}

/**
 * Streams WAL like `pg_basebackup -X stream` into full-size segment files (sparse where not yet
 * written, which PostgreSQL reads as end of WAL), so the copy holds every record from the backup
 * start to its end and is consistent on its own.
 */
export async function startWalStream(opts: WalStreamOptions): Promise<WalStream> {
  const { conn, walDir, timeline, segmentSize, osUser } = opts;
  const segSize = BigInt(segmentSize);
  const start = opts.startLsn - (opts.startLsn % segSize);
  const slot = opts.slotName ? `SLOT ${opts.slotName} ` : '';
  const command = `START_REPLICATION ${slot}PHYSICAL ${formatLsn(start)} TIMELINE ${timeline}`;
  conn.send(encodeQuery(command));
  for (;;) {
    const msg = await conn.next().catch((err: unknown) => {
      throw replicationFailure('START_REPLICATION', err, conn.source);
    });
    if (msg.type === MSG_COPY_BOTH_RESPONSE) break;
    if (msg.type === MSG_ERROR_RESPONSE) throw replicationFailure('START_REPLICATION', new PgServerError(parseErrorFields(msg.body)), conn.source);
    throw replicationFailure('START_REPLICATION', new ProtocolError(`unexpected message ${String.fromCharCode(msg.type)}`), conn.source);
  }

  let written = start;
  let file: { handle: FileHandle; segment: bigint } | undefined;
  let failure: Error | undefined;
  let waiters: { lsn: bigint; resolve: () => void; reject: (e: Error) => void }[] = [];
  let clientDone = false;
  let ended = false;

  const settleWaiters = (): void => {
    waiters = waiters.filter((w) => {
      if (written >= w.lsn) w.resolve();
      else if (failure) w.reject(failure);
      else return true;
      return false;
    });
  };

  const sendStatus = (): void => {
    if (conn.closed || clientDone) return;
    const body = Buffer.alloc(34);
    body[0] = STANDBY_STATUS_UPDATE;
    body.writeBigUInt64BE(written, 1); // write
    body.writeBigUInt64BE(written, 9); // flush (the slot may let go of what we have)
    body.writeBigUInt64BE(0n, 17); // apply: nothing replays here
    body.writeBigInt64BE(pgNowMicros(), 25);
    body[33] = 0;
    try {
      conn.send(encodeCopyData(body));
    } catch {
      // the loop reports the broken connection
    }
  };
  const timer = setInterval(sendStatus, STATUS_INTERVAL_MS);
  timer.unref();

  const closeFile = async (): Promise<void> => {
    if (!file) return;
    const { handle } = file;
    file = undefined;
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };

  const writeAt = async (lsn: bigint, data: Buffer): Promise<void> => {
    let pos = 0;
    while (pos < data.length) {
      const at = lsn + BigInt(pos);
      const segment = at / segSize;
      const offset = Number(at % segSize);
      if (!file || file.segment !== segment) {
        await closeFile();
        const path = join(walDir, walFileName(timeline, at, segmentSize));
        const handle = await open(path, 'w', 0o600);
        try {
          await handle.chown(osUser.uid, osUser.gid);
          await handle.truncate(segmentSize);
        } catch (err) {
          await handle.close();
          throw err;
        }
        file = { handle, segment };
      }
      const n = Math.min(data.length - pos, segmentSize - offset);
      await file.handle.write(data, pos, n, offset);
      pos += n;
    }
    const end = lsn + BigInt(data.length);
    if (end > written) written = end;
  };

  const loop = (async () => {
    for (;;) {
      const msg = await conn.next();
      if (msg.type === MSG_COPY_DATA) {
        const kind = msg.body[0];
        const r = new BodyReader(msg.body.subarray(1));
        if (kind === XLOG_DATA) {
          const dataStart = r.uint64();
          r.uint64(); // server's WAL end
          r.int64(); // send time
          await writeAt(dataStart, r.rest());
          settleWaiters();
        } else if (kind === KEEPALIVE) {
          r.uint64();
          r.int64();
          if (r.int8() === 1) sendStatus();
        }
        continue;
      }
      if (msg.type === MSG_COPY_DONE) {
        // Either the answer to ours, or the server ending the timeline under us.
        if (!clientDone) {
          clientDone = true;
          conn.send(encodeCopyDone());
        }
        continue;
      }
      if (msg.type === MSG_ROW_DESCRIPTION || msg.type === MSG_DATA_ROW || msg.type === MSG_COMMAND_COMPLETE) continue;
      if (msg.type === MSG_READY_FOR_QUERY) return;
      if (msg.type === MSG_ERROR_RESPONSE) throw new PgServerError(parseErrorFields(msg.body));
      throw new ProtocolError(`unexpected message ${JSON.stringify(String.fromCharCode(msg.type))} while streaming WAL`);
    }
  })().then(
    () => {
      ended = true;
      failure ??= new PgbranchError('REPLICATION_FAILED', `the source ended WAL streaming of timeline ${timeline} at ${formatLsn(written)} (a timeline switch on the source?)`, {
        cause: new Error('streaming ended'),
      });
      settleWaiters();
    },
    (err: unknown) => {
      failure ??= replicationFailure('WAL streaming', err, conn.source);
      settleWaiters();
    },
  );

  return {
    get writtenLsn() {
      return written;
    },
    waitWritten(lsn) {
      if (written >= lsn) return Promise.resolve();
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiters.push({ lsn, resolve, reject }));
    },
    async finish() {
      sendStatus();
      if (!clientDone) {
        clientDone = true;
        conn.send(encodeCopyDone());
      }
      await loop;
      clearInterval(timer);
      await closeFile();
      // Ending normally sets the "streaming ended" failure too; only a broken stream counts here.
      if (!ended && failure) throw failure;
      await conn.close();
    },
    async abort(err) {
      clearInterval(timer);
      failure ??= err;
      conn.destroy(err);
      await loop;
      await closeFile().catch(() => undefined);
    },
  };
}
