import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../../errors.js';
import { withClient } from '../../postgres/index.js';
import type { BranchRecord, SnapshotKind, SnapshotRecord } from '../../state/index.js';
import { log } from '../../util/index.js';
import { CLONE_POINTS, cloneConsistent } from '../clone.js';
import { crashPoint } from '../crash-points.js';
import { newSnapshotId, volumeName } from '../ids.js';
import { beginIntent, resumeIntent, type IntentFor } from '../intents.js';
import { assertBranchName } from '../names.js';
import { inheritMasking } from './mask.js';
import { assertPoolFloor } from '../quotas.js';
import type { Runtime } from '../runtime.js';

export const SNAPSHOT_CREATE_POINTS = ['snapshot-create:intent', CLONE_POINTS.ready, CLONE_POINTS.afterBackupStop, 'snapshot-create:cloned', 'snapshot-create:committed'] as const;

export function findSnapshot(rt: Runtime, name: string): SnapshotRecord {
  assertBranchName(name);
  const record = rt.store.getSnapshotByName(name);
  if (!record) throw new PgbranchError('SNAPSHOT_NOT_FOUND', `no snapshot named "${name}"`, { details: { name } });
  return record;
}

/**
 * A snapshot: a consistent clone of the branch's data into a volume on which no instance ever
 * runs (so it never changes). The clone is exactly what a child branch would start from —
 * crash-consistent (atomic drivers) or with a backup_label (per-file drivers) — and recovery
 * happens in each branch made from it, never in the snapshot. Recorded with an intent first:
 * a crash before the commit is rolled back by `settleSnapshotCreate`.
 */
export async function createSnapshot(rt: Runtime, name: string, branch: BranchRecord, kind: SnapshotKind = 'user'): Promise<SnapshotRecord> {
  assertBranchName(name);
  if (rt.store.getSnapshotByName(name)) throw new PgbranchError('SNAPSHOT_EXISTS', `snapshot "${name}" already exists`, { details: { name } });
  await assertPoolFloor(rt, `snapshot "${name}"`);
  const id = newSnapshotId();
  const volume = volumeName(id);
  const intent = beginIntent(rt.store, 'snapshot-create', { id, name }, { volume, sourceBranchId: branch.id });
  crashPoint('snapshot-create:intent');
  const { branchTime, replay } = await cloneConsistent(rt, branch, volume);
  // The source's lock files came along: they name a live pid (the source's postmaster) and would
  // make the snapshot look like a running instance. bringUpClone removes them too.
  const dataDir = rt.dataDir(volume);
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  await rm(join(dataDir, 'postmaster.opts'), { force: true });
  intent.advance('cloned');
  crashPoint('snapshot-create:cloned');
  // A snapshot of a standby is placed in the source's history: it holds nothing replayed after
  // `replay` (read after the copy), and needs no WAL before its redo point (read before it).
  const lsn = replay?.lsn ?? ((await rt.isRunning(branch.volume)) ? await currentLsn(rt, branch) : null);
  const time = replay?.time ?? branchTime;
  rt.store.transaction(() => {
    rt.store.insertSnapshot({
      id,
      name,
      volume,
      sourceBranchId: branch.id,
      sourceBranchName: branch.name,
      dbUser: branch.dbUser,
      dbName: branch.dbName,
      lsn,
      time,
      pgMajor: branch.pgMajor,
      kind,
      redoLsn: replay?.redoLsn ?? null,
      ...inheritMasking(branch),
    });
    intent.finish();
  });
  crashPoint('snapshot-create:committed');
  return rt.store.getSnapshotById(id)!;
}

/** Approximate by design: the WAL position right after the clone, not the exact capture point. */
async function currentLsn(rt: Runtime, branch: BranchRecord): Promise<string | null> {
  try {
    return await withClient(rt.adminTarget(branch), async (client) => {
      const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return rows[0]!.lsn;
    });
  } catch (err) {
    log.warn({ branch: branch.name, err: (err as Error).message }, 'could not read the LSN for a snapshot');
    return null;
  }
}

/**
 * Settle: row and end of intent commit together, so still recorded means never finished. No
 * instance ever runs on a snapshot volume (and the lock file it may still hold names the
 * source's postmaster): delete only, never kill.
 */
export async function settleSnapshotCreate(rt: Runtime, intent: IntentFor<'snapshot-create'>): Promise<'rolled-back'> {
  await rt.storage.deleteVolume(intent.data.volume);
  resumeIntent(rt.store, intent).finish();
  return 'rolled-back';
}
