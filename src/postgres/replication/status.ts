import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import { identifySystem, withReplicationConnection } from './commands.js';
import { lsnDiff } from './lsn.js';
import type { ReplicationSource, SourceStatus, StandbyStatus } from './types.js';

const STATUS_SQL = `
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_last_xact_replay_timestamp() AS replay_at,
       clock_timestamp() AS now,
       r.status, r.sender_host, r.sender_port, r.last_msg_receipt_time, r.latest_end_lsn::text AS latest_end_lsn, r.latest_end_time
  FROM (SELECT 1) AS one LEFT JOIN pg_stat_wal_receiver AS r ON true`;

interface StatusRow {
  in_recovery: boolean;
  receive_lsn: string | null;
  replay_lsn: string | null;
  replay_at: Date | null;
  now: Date;
  status: string | null;
  sender_host: string | null;
  sender_port: number | null;
  last_msg_receipt_time: Date | null;
  latest_end_lsn: string | null;
  latest_end_time: Date | null;
}

/**
 * Where a standby stands, asked on an admin connection to it (superuser or pg_read_all_stats,
 * else the WAL receiver columns read as null): received and replayed WAL, the last replayed
 * commit time, the WAL receiver (connected? from where? last message?), and the lag in bytes
 * (source WAL end as last reported − replayed) and seconds (0 when all known WAL is replayed,
 * else now − last replayed commit). For an exact byte lag against the source right now, compare
 * replayLsn with sourceStatus(source).walLsn (lsnDiff).
 */
export async function standbyStatus(client: pg.Client): Promise<StandbyStatus> {
  let row: StatusRow;
  try {
    row = (await client.query<StatusRow>(STATUS_SQL)).rows[0]!;
  } catch (cause) {
    throw new PgbranchError('POSTGRES_ERROR', `reading the standby status failed: ${(cause as Error).message}`, { cause });
  }
  const lagBytes = row.latest_end_lsn && row.replay_lsn ? Math.max(0, lsnDiff(row.latest_end_lsn, row.replay_lsn)) : null;
  const caughtUp = row.replay_lsn !== null && row.receive_lsn !== null && lsnDiff(row.receive_lsn, row.replay_lsn) <= 0 && (lagBytes ?? 0) === 0;
  const lagSeconds = caughtUp ? 0 : row.replay_at ? Math.max(0, (row.now.getTime() - row.replay_at.getTime()) / 1000) : null;
  return {
    inRecovery: row.in_recovery,
    receiveLsn: row.receive_lsn,
    replayLsn: row.replay_lsn,
    lastReplayedTransactionAt: row.replay_at,
    walReceiver: {
      status: row.status,
      connected: row.status === 'streaming',
      senderHost: row.sender_host,
      senderPort: row.sender_port,
      lastMessageAt: row.last_msg_receipt_time,
      latestEndLsn: row.latest_end_lsn,
      latestEndAt: row.latest_end_time,
    },
    lagBytes,
    lagSeconds,
  };
}

/** The source's identity and current WAL flush position, over a replication connection. */
export async function sourceStatus(source: ReplicationSource, options: { signal?: AbortSignal } = {}): Promise<SourceStatus> {
  const identity = await withReplicationConnection(source, identifySystem, options.signal);
  return { ...identity, checkedAt: new Date() };
}
