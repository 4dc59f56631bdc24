import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import { withClient } from '../postgres/index.js';
import type { BranchRecord, SnapshotRecord } from '../state/index.js';
import { failpoint } from '../util/failpoint.js';
import { log } from '../util/log.js';
import { cloneConsistent } from './clone.js';
import { createClone, volumeName, type NewBranchSettings } from './create.js';
import type { Runtime } from './runtime.js';

/** What the domain reports about a snapshot. */
export interface SnapshotView {
  readonly id: string;
  readonly name: string;
  /** The branch it was taken of; it may have been deleted since (the snapshot stays usable). */
  readonly branch: string;
  readonly branchId: string;
  readonly branchDeleted: boolean;
  /** When the branch's data was captured. */
  readonly time: string;
  /** Approximate: the source's WAL position read right after the clone; null if it was stopped. */
  readonly lsn: string | null;
  readonly createdAt: string;
}

export function toSnapshotView(rt: Runtime, record: SnapshotRecord): SnapshotView {
  return {
    id: record.id,
    name: record.name,
    branch: record.sourceBranchName,
    branchId: record.sourceBranchId,
    branchDeleted: rt.store.getBranchById(record.sourceBranchId) === undefined,
    time: record.time,
    lsn: record.lsn,
    createdAt: record.createdAt,
  };
}

function newSnapshotId(): string {
  return `sn-${randomBytes(5).toString('hex')}`;
}

/**
 * A snapshot: a consistent clone of the branch's data into a volume on which no instance ever
 * runs (so it never changes). The clone is exactly what a child branch would start from —
 * crash-consistent (atomic drivers) or with a backup_label (per-file drivers) — and recovery
 * happens in each branch made from it, never in the snapshot. Recorded with an intent first:
 * a crash before the commit is rolled back by reconcile.
 */
export async function createSnapshot(rt: Runtime, name: string, branch: BranchRecord): Promise<SnapshotRecord> {
  const id = newSnapshotId();
  const volume = volumeName(id);
  const opId = rt.store.beginOperation({ kind: 'snapshot-create', branchId: id, branchName: name, step: 'intent', data: { volume, sourceBranchId: branch.id } });
  failpoint('snapshot-create:intent');
  const { branchTime } = await cloneConsistent(rt, branch, volume);
  // The source's lock files came along: they name a live pid (the source's postmaster) and would
  // make the snapshot look like a running instance. bringUpClone removes them too.
  const dataDir = rt.dataDir(volume);
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  await rm(join(dataDir, 'postmaster.opts'), { force: true });
  rt.store.advanceOperation(opId, 'cloned');
  failpoint('snapshot-create:cloned');
  const lsn = (await rt.isRunning(branch.volume)) ? await currentLsn(rt, branch) : null;
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
      time: branchTime,
    });
    rt.store.finishOperation(opId);
  });
  failpoint('snapshot-create:committed');
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

/** Delete: once the intent is recorded it only rolls forward. Branches made from it keep working. */
export async function deleteSnapshot(rt: Runtime, snapshot: SnapshotRecord): Promise<void> {
  const opId = rt.store.beginOperation({ kind: 'snapshot-delete', branchId: snapshot.id, branchName: snapshot.name, step: 'intent', data: { volume: snapshot.volume } });
  failpoint('snapshot-delete:intent');
  await finishSnapshotDelete(rt, snapshot.id, snapshot.volume, opId);
}

/** The roll-forward part of a snapshot delete, shared with reconcile. */
export async function finishSnapshotDelete(rt: Runtime, snapshotId: string, volume: string, opId: number): Promise<void> {
  await rt.storage.deleteVolume(volume);
  failpoint('snapshot-delete:volume-deleted');
  rt.store.transaction(() => {
    rt.store.deleteSnapshot(snapshotId);
    rt.store.finishOperation(opId);
  });
}

/**
 * A branch from a snapshot: a cold clone of the snapshot's volume (consistent by construction),
 * brought up with its own port and password. Its branch point is the snapshot's time (and LSN
 * when known, else the point recovery ended at); reset returns it to the snapshot.
 */
export function createFromSnapshot(rt: Runtime, name: string, snapshot: SnapshotRecord, settings: NewBranchSettings): Promise<BranchRecord> {
  return createClone(
    rt,
    name,
    snapshot,
    {
      parentId: null,
      parentName: null,
      parentSnapshotId: snapshot.id,
      source: JSON.stringify({ kind: 'snapshot', snapshot: snapshot.name, branch: snapshot.sourceBranchName }),
    },
    settings,
    { snapshotId: snapshot.id },
    async (volume) => {
      await rt.storage.cloneVolume(snapshot.volume, volume);
      return { branchTime: snapshot.time };
    },
    ({ branchLsn }) => ({ branchLsn: snapshot.lsn ?? branchLsn, branchTime: snapshot.time }),
  );
}

export function findSnapshot(rt: Runtime, name: string): SnapshotRecord {
  const record = rt.store.getSnapshotByName(name);
  if (!record) throw new PgbranchError('SNAPSHOT_NOT_FOUND', `no snapshot named "${name}"`, { details: { name } });
  return record;
}
