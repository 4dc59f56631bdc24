import { PgbranchError } from '../../errors.js';
import { connectSource, replicationFailure } from './connect-source.js';
import { textRows, type ReplicationConnection } from './connection.js';
import type { ReplicationSource, SourceSettings, SystemIdentity } from './types.js';

/** Replication commands take identifiers as SQL identifiers; slot names are [a-z0-9_]{1,63}. */
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

export function assertSlotName(name: string): void {
  if (!SLOT_NAME.test(name)) {
    throw new PgbranchError('INVALID_ARGUMENT', `invalid replication slot name ${JSON.stringify(name)}: use 1–63 of a-z, 0-9 and _`, {
      cause: new Error('bad slot name'),
    });
  }
}

async function run(conn: ReplicationConnection, command: string): Promise<Record<string, string | null>[]> {
  try {
    const results = await conn.query(command);
    const last = results.at(-1);
    return last ? textRows(last) : [];
  } catch (err) {
    throw replicationFailure(command.split(/[\s(]/)[0]!, err, conn.source);
  }
}

export async function identifySystem(conn: ReplicationConnection): Promise<SystemIdentity> {
  const [row] = await run(conn, 'IDENTIFY_SYSTEM');
  if (!row?.systemid || !row.timeline || !row.xlogpos) {
    throw new PgbranchError('REPLICATION_FAILED', 'IDENTIFY_SYSTEM answered without systemid/timeline/xlogpos', { cause: new Error('bad IDENTIFY_SYSTEM') });
  }
  return { systemId: row.systemid, timeline: Number(row.timeline), walLsn: row.xlogpos };
}

/** SHOW on a replication connection (allowed since PostgreSQL 10). */
export async function show(conn: ReplicationConnection, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new PgbranchError('INVALID_ARGUMENT', `invalid setting name ${name}`, { cause: new Error('bad GUC') });
  const [row] = await run(conn, `SHOW ${name}`);
  const value = row ? Object.values(row)[0] : undefined;
  if (value === undefined || value === null) throw new PgbranchError('REPLICATION_FAILED', `SHOW ${name} returned nothing`, { cause: new Error('empty SHOW') });
  return value;
}

/** "16MB" / "1GB" / "8kB" (SHOW's unit rendering) → bytes. */
export function parseSizeSetting(text: string): number {
  const m = /^(\d+)\s*(B|kB|MB|GB|TB)?$/.exec(text.trim());
  if (!m) throw new PgbranchError('REPLICATION_FAILED', `cannot read size setting ${JSON.stringify(text)}`, { cause: new Error('bad size') });
  const unit = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[m[2] ?? 'B']!;
  return Number(m[1]) * unit;
}

/** The settings a standby has to match or exceed, plus what the preflight checks. */
export async function readSourceSettings(conn: ReplicationConnection): Promise<SourceSettings> {
  const int = async (name: string): Promise<number> => Number(await show(conn, name));
  return {
    serverVersionNum: await int('server_version_num'),
    walLevel: await show(conn, 'wal_level'),
    maxWalSenders: await int('max_wal_senders'),
    maxReplicationSlots: await int('max_replication_slots'),
    walSegmentSize: parseSizeSetting(await show(conn, 'wal_segment_size')),
    blockSize: await int('block_size'),
    maxConnections: await int('max_connections'),
    maxWorkerProcesses: await int('max_worker_processes'),
    maxPreparedTransactions: await int('max_prepared_transactions'),
    maxLocksPerTransaction: await int('max_locks_per_transaction'),
    dataChecksums: (await show(conn, 'data_checksums')) === 'on',
  };
}

/**
 * CREATE_REPLICATION_SLOT … PHYSICAL with RESERVE_WAL: the slot holds WAL from now on, so a
 * standby that is down (or a base backup in progress) still finds it. A permanent slot holds
 * WAL on the source until dropped: drop it when the follower goes away.
 */
export async function createReplicationSlot(conn: ReplicationConnection, name: string, options: { temporary?: boolean } = {}): Promise<{ slotName: string; lsn: string | null }> {
  assertSlotName(name);
  const temporary = options.temporary ? ' TEMPORARY' : '';
  // PostgreSQL 15 introduced the parenthesised option list; the old form is all 14 knows.
  const command = conn.serverVersionNum >= 150000 ? `CREATE_REPLICATION_SLOT ${name}${temporary} PHYSICAL (RESERVE_WAL)` : `CREATE_REPLICATION_SLOT ${name}${temporary} PHYSICAL RESERVE_WAL`;
  const [row] = await run(conn, command);
  return { slotName: row?.slot_name ?? name, lsn: row?.consistent_point ?? null };
}

export async function dropReplicationSlot(conn: ReplicationConnection, name: string, options: { wait?: boolean } = {}): Promise<void> {
  assertSlotName(name);
  await run(conn, `DROP_REPLICATION_SLOT ${name}${options.wait ? ' WAIT' : ''}`);
}

/** TIMELINE_HISTORY: the history file of a timeline > 1 (name and raw content). */
export async function timelineHistory(conn: ReplicationConnection, timeline: number): Promise<{ fileName: string; content: Buffer }> {
  let results;
  try {
    results = await conn.query(`TIMELINE_HISTORY ${timeline}`);
  } catch (err) {
    throw replicationFailure('TIMELINE_HISTORY', err, conn.source);
  }
  const row = results.at(-1)?.rows[0];
  if (!row?.[0] || !row[1]) throw new PgbranchError('REPLICATION_FAILED', `TIMELINE_HISTORY ${timeline} returned nothing`, { cause: new Error('empty') });
  return { fileName: row[0].toString('utf8'), content: Buffer.from(row[1]) };
}

/** Runs `fn` on a fresh replication connection to `source`, always closed after. */
export async function withReplicationConnection<T>(source: ReplicationSource, fn: (conn: ReplicationConnection) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const conn = await connectSource(source, signal ? { signal } : {});
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

/** Creates a permanent physical slot on the source (for primary_slot_name). */
export function createSourceSlot(source: ReplicationSource, slotName: string): Promise<{ slotName: string; lsn: string | null }> {
  return withReplicationConnection(source, (conn) => createReplicationSlot(conn, slotName));
}

/** Drops a slot on the source; `wait` waits for a standby still using it to let go. */
export function dropSourceSlot(source: ReplicationSource, slotName: string, options: { wait?: boolean } = {}): Promise<void> {
  return withReplicationConnection(source, (conn) => dropReplicationSlot(conn, slotName, options));
}
