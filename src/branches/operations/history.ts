import { join } from 'node:path';
import { PgbranchError } from '../../errors.js';
import { parseLsn, pruneWalArchive, walFileName, withClient } from '../../postgres/index.js';
import type { BranchRecord, SnapshotRecord, SourceRecord } from '../../state/index.js';
import { log } from '../../util/index.js';
import type { Runtime } from '../runtime.js';
import { createSnapshot } from './snapshot-create.js';
import { deleteSnapshot } from './snapshot-delete.js';

/**
 * The history window of a following root: snapshots taken on a schedule plus every WAL segment
 * the standby received (archived in the root's archive volume). A branch at time T clones the
 * newest snapshot that holds nothing after T and replays archived WAL up to T.
 */

/** A point in the source's history: a commit time, or a WAL position. */
export type RecoveryPoint = { readonly kind: 'time'; readonly time: string } | { readonly kind: 'lsn'; readonly lsn: string };

export interface HistoryWindow {
  /** The earliest point a branch can be made at (the oldest snapshot's); null without snapshots. */
  readonly from: string | null;
  readonly fromLsn: string | null;
  readonly snapshots: number;
}

/** A following root's history snapshots, oldest first. */
export function historySnapshots(rt: Runtime, rootId: string): SnapshotRecord[] {
  return rt.store
    .listSnapshots()
    .filter((s) => s.kind === 'history' && s.sourceBranchId === rootId)
    .sort((a, b) => a.time.localeCompare(b.time));
}

export function historyWindow(rt: Runtime, rootId: string): HistoryWindow {
  const snapshots = historySnapshots(rt, rootId);
  return { from: snapshots[0]?.time ?? null, fromLsn: snapshots[0]?.lsn ?? null, snapshots: snapshots.length };
}

/** Its source, when `root` follows one; the error otherwise names what would have worked. */
export function followedSource(rt: Runtime, root: BranchRecord): SourceRecord & { archiveVolume: string } {
  const source = rt.store.getSource(root.id);
  if (!source || source.mode !== 'follow' || source.archiveVolume === null) {
    throw new PgbranchError('POINT_IN_TIME_UNAVAILABLE', `"${root.name}" has no history window: only a root that follows its source (created with --follow) keeps one`, {
      details: { branch: root.name },
    });
  }
  return source as SourceRecord & { archiveVolume: string };
}

/** `h.<root id>.<yyyymmddhhmmss>`: branch-name rules, unique per second and root. */
function historyName(root: BranchRecord, nowMs: number): string {
  return `h.${root.id}.${new Date(nowMs).toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
}

/** A snapshot of the following root for its history window (an intentful snapshot create). */
export async function takeHistorySnapshot(rt: Runtime, root: BranchRecord, nowMs = Date.now()): Promise<SnapshotRecord> {
  followedSource(rt, root);
  return createSnapshot(rt, historyName(root, nowMs), root, 'history');
}

/** The newest snapshot that holds nothing after `at`: the one a branch at `at` starts from. */
export function snapshotFor(rt: Runtime, root: BranchRecord, at: RecoveryPoint): SnapshotRecord {
  const snapshots = historySnapshots(rt, root.id);
  const usable =
    at.kind === 'time'
      ? snapshots.filter((s) => Date.parse(s.time) <= Date.parse(at.time))
      : snapshots.filter((s) => s.lsn !== null && parseLsn(s.lsn) <= parseLsn(at.lsn));
  const chosen = usable.at(-1);
  if (chosen) return chosen;
  const window = historyWindow(rt, root.id);
  const where = at.kind === 'time' ? at.time : `LSN ${at.lsn}`;
  throw new PgbranchError(
    'POINT_IN_TIME_OUT_OF_WINDOW',
    window.from === null
      ? `"${root.name}" has no history snapshot yet: a branch at ${where} cannot be made (the first one is taken when the root starts following)`
      : `${where} is before the history window of "${root.name}", which starts at ${window.from}${window.fromLsn ? ` (LSN ${window.fromLsn})` : ''}`,
    { details: { branch: root.name, at: where, windowFrom: window.from, windowFromLsn: window.fromLsn } },
  );
}

/**
 * Keeps the window: history snapshots older than it are deleted — except the newest of them,
 * which still serves the window's first moments — and archived WAL older than every kept
 * snapshot's redo point goes too. Returns what was removed.
 */
export async function pruneHistory(rt: Runtime, root: BranchRecord, source: SourceRecord, nowMs: number): Promise<{ snapshots: string[]; segments: number }> {
  const windowMs = source.historyWindowMs ?? rt.config.sources.historyWindowMs;
  const snapshots = historySnapshots(rt, root.id);
  const older = snapshots.filter((s) => Date.parse(s.time) < nowMs - windowMs);
  const doomed = older.slice(0, -1);
  for (const snapshot of doomed) await deleteSnapshot(rt, snapshot);
  const kept = snapshots.filter((s) => !doomed.includes(s));
  let segments = 0;
  const redo = kept.map((s) => s.redoLsn).filter((l): l is string => l !== null);
  if (source.archiveVolume !== null && redo.length === kept.length && redo.length > 0) {
    const oldest = redo.map(parseLsn).reduce((a, b) => (a < b ? a : b));
    try {
      // Segment names depend on the segment size, fixed at the source's initdb: ask the standby.
      const segmentBytes = await withClient(rt.adminTarget(root), async (client) => {
        const { rows } = await client.query<{ bytes: string }>("SELECT setting AS bytes FROM pg_settings WHERE name = 'wal_segment_size'");
        return Number(rows[0]!.bytes);
      });
      segments = (await pruneWalArchive(rt.storage.volumePath(source.archiveVolume), walFileName(1, oldest, segmentBytes))).length;
    } catch (err) {
      log.warn({ branch: root.name, err: (err as Error).message }, 'could not prune the WAL archive');
    }
  }
  return { snapshots: doomed.map((s) => s.name), segments };
}

/** Where the standby's received, not yet archived WAL is: a point-in-time clone takes it too. */
export const STANDBY_WAL = join('pgdata', 'pg_wal');
