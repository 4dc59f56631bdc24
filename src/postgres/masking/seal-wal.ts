import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import { run } from './session.js';
import type { WalSeal } from './types.js';

/**
 * Settings for the private instance that masks (give them to startInstance, they are not written
 * to postgresql.conf): with wal_level = minimal the table rewrites of maskDatabase skip the WAL
 * (files are synced at commit instead), which is faster and puts no tuple of the masked tables into
 * the WAL at all. Start the branch normally afterwards (wipeResidue needs a clean stop in between).
 */
export const MASKING_INSTANCE_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  wal_level: 'minimal',
  max_wal_senders: '0',
  archive_mode: 'off',
});

/** `0/1A2B3C8` → bigint. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new PgbranchError('INVALID_ARGUMENT', `not an LSN: ${JSON.stringify(lsn)}`, { cause: new Error('bad lsn') });
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * Call on the running instance after every database is masked: makes everything written so far
 * (the masking WAL with its full-page images of original rows included) end up in WAL segments
 * that are finished and older than the latest checkpoint, so wipeResidue may delete them once the
 * instance is stopped.
 *
 * It refuses prepared transactions (their locks and state would outlive the masking) and drops
 * every replication slot (a slot pins old WAL, and a logical slot spills decoded rows to disk).
 * Then CHECKPOINT, pg_switch_wal(), CHECKPOINT: the new segment begins after all masking WAL.
 */
export async function sealWal(client: pg.Client): Promise<WalSeal> {
  const prepared = (await run<{ n: number }>(client, 'counting prepared transactions', 'SELECT count(*)::int AS n FROM pg_prepared_xacts')).rows[0]!.n;
  if (prepared > 0) {
    throw new PgbranchError('MASK_WIPE_UNSAFE', `${prepared} prepared transaction(s) are pending: commit or roll them back (COMMIT PREPARED / ROLLBACK PREPARED) before masking`, {
      cause: new Error('prepared transactions'),
    });
  }
  const inRecovery = (await run<{ r: boolean }>(client, 'checking recovery', 'SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
  if (inRecovery) {
    throw new PgbranchError('MASK_WIPE_UNSAFE', 'the instance is a standby (in recovery): promote it before masking', { cause: new Error('in recovery') });
  }
  const slots = (await run<{ slot_name: string; active: boolean }>(client, 'listing replication slots', 'SELECT slot_name, active FROM pg_replication_slots ORDER BY slot_name')).rows;
  const active = slots.filter((s) => s.active);
  if (active.length > 0) {
    throw new PgbranchError('MASK_WIPE_UNSAFE', `replication slot(s) in use: ${active.map((s) => s.slot_name).join(', ')}; the masked instance must have no replication clients`, {
      cause: new Error('active slots'),
    });
  }
  for (const s of slots) await run(client, `dropping replication slot ${s.slot_name}`, 'SELECT pg_drop_replication_slot($1)', [s.slot_name]);

  await run(client, 'CHECKPOINT', 'CHECKPOINT');
  const switched = (await run<{ lsn: string }>(client, 'switching WAL segments', 'SELECT pg_switch_wal()::text AS lsn')).rows[0]!.lsn;
  await run(client, 'CHECKPOINT', 'CHECKPOINT');
  const info = (
    await run<{ seg: string; tli: number }>(
      client,
      'reading WAL settings',
      `SELECT (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS seg, (pg_control_checkpoint()).timeline_id AS tli`,
    )
  ).rows[0]!;
  const segmentBytes = Number(info.seg);
  const seg = BigInt(segmentBytes);
  const switchedAt = parseLsn(switched);
  // pg_switch_wal returns the end of the switch record; the next segment starts at the boundary.
  const cleanFrom = ((switchedAt + seg - 1n) / seg) * seg;
  return { cleanFromLsn: formatLsn(cleanFrom), walSegmentBytes: segmentBytes, timeline: info.tli, droppedSlots: slots.map((s) => s.slot_name) };
}
