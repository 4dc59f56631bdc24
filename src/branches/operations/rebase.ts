import { randomBytes } from 'node:crypto';
import { PgbranchError } from '../../errors.js';
import {
  advanceSequences,
  applyStatements,
  deleteOneRow,
  foreignKeyOrder,
  historyNameColumn,
  insertHistoryRow,
  keyString,
  readJsonRows,
  readReplayTables,
  readRowValues,
  scanTable,
  tableKey,
  withClient,
  writeRows,
  type Client,
  type ComparedTable,
  type JsonRow,
  type ReplayTable,
  type RowChange,
  type RowValues,
  type SchemaStatement,
} from '../../postgres/index.js';
import type { BranchRecord, SnapshotRecord } from '../../state/index.js';
import { branchPointOf, branchPointVolume, removeBranchPoint, takeBranchPoint } from '../branch-point.js';
import { bringUpClone, CLONE_POINTS, cloneConsistent, runBranchHooks, sourceHooks } from '../clone.js';
import type { HostCore } from '../core.js';
import { crashPoint } from '../crash-points.js';
import type { DiffSide } from '../diff-types.js';
import { assertNotProtected } from '../governance.js';
import { newSnapshotId, volumeName } from '../ids.js';
import { beginIntent, pendingIntents, resumeIntent, withoutLock, type IntentFor, type IntentHandle } from '../intents.js';
import { findBranch } from '../lookup.js';
import { assertNoUnmaskedData, inheritMasking } from './mask.js';
import { applyVolumeLimit } from '../quotas.js';
import type { RebaseConflict, RebaseReport, RebaseRequest, RebaseTableReport } from '../rebase-types.js';
import type { InstanceOwner, Runtime } from '../runtime.js';
import { diffSides, startScratch } from './diff.js';

export const REBASE_POINTS = [
  'rebase:intent',
  CLONE_POINTS.ready,
  CLONE_POINTS.afterBackupStop,
  'rebase:cloned',
  'rebase:ready',
  'rebase:replayed',
  'rebase:old-stopped',
  CLONE_POINTS.afterStart,
  CLONE_POINTS.passwordSet,
  'rebase:new-started',
  'rebase:swapped',
  'rebase:cleaned',
] as const;

export const REBASE_UNDO_POINTS = [
  'rebase-undo:intent',
  'rebase-undo:cloned',
  'rebase-undo:old-stopped',
  CLONE_POINTS.afterStart,
  CLONE_POINTS.passwordSet,
  'rebase-undo:swapped',
  'rebase-undo:cleaned',
] as const;

/** Conflicts listed in a report; the count covers them all. */
const LISTED_CONFLICTS = 1000;

/**
 * Rebase: the branch gets its parent's current state (or a snapshot of the parent) with its own
 * changes since its branch point reapplied — schema first (in order), then data — and conflicts
 * reported.
 *
 * How changes are captured: as the diff of the branch against its kept branch point (schema as
 * ordered migration SQL, data row by row by primary key; see `diff`). It costs nothing while the
 * branch lives (no wal_level=logical, no retained WAL, no event triggers in the user's database),
 * and reading it follows the size of the change (changed blocks only). What it cannot see is the
 * order and intermediate states of the branch's own writes: a row updated twice is replayed as
 * its last value, which is what the rebased branch must hold anyway. The parent's side is read
 * per changed key only (is that row still what the branch point had?), so conflicts cost what
 * the branch changed, not the parent's size.
 *
 * Safety, like reset: the rebased state is built on a fresh clone of the parent, on a temporary
 * instance nobody can reach, and swapped in at the end (name, port, password, URL unchanged);
 * the branch keeps serving meanwhile. The pre-rebase data becomes the snapshot `NAME.pre-rebase`
 * (the stopped old volume itself, so it holds every write made until the swap), which `--undo`
 * returns to. The intent names everything made, and `settleRebase` rolls back before the swap
 * and forward after it.
 */
export async function rebaseBranch(core: HostCore, name: string, request: RebaseRequest): Promise<RebaseReport> {
  if (request.undo) return undoRebase(core, name);
  const { rt } = core;
  const started = performance.now();
  const dryRun = request.dryRun ?? false;
  const prefer = request.prefer ?? null;

  const checked = await core.locked(async () => {
    const branch = findBranch(rt, name);
    if (!dryRun) assertNotProtected(branch, 'rebase');
    assertNoUnmaskedData(rt, branch, 'rebase', request.onto);
    const target = rebaseTarget(rt, branch, request.onto);
    if ((await branchPointOf(rt, branch)) === undefined) {
      throw new PgbranchError('BRANCH_POINT_UNAVAILABLE', `cannot rebase "${name}": it has no kept branch point to tell its own changes from its parent's (reset it to keep one)`, {
        details: { branch: name },
      });
    }
    return { volume: branch.volume, target };
  });
  const targetSide: DiffSide = checked.target.kind === 'snapshot' ? { kind: 'snapshot', name: checked.target.snapshot.name } : { kind: 'branch', name: checked.target.parent.name };
  const ontoRef = checked.target.kind === 'snapshot' ? `snapshot:${checked.target.snapshot.name}` : checked.target.parent.name;

  // Capture: what the branch changed, and which schema objects the parent changed, since the branch point.
  const own = await diffSides(core, { to: { kind: 'branch', name }, schema: true, data: true, rows: true, limit: Number.MAX_SAFE_INTEGER });
  const theirs = await diffSides(core, { from: { kind: 'branch-point', branch: name }, to: targetSide, schema: true });
  const plan = planSchema(own.schema!.statements, theirs.schema!.statements);
  // A contested object takes the place of the branch's first statement about it: with --prefer
  // branch the statements that turn the parent's version into the branch's (the diff parent →
  // branch, for that object only), otherwise none.
  const direct = prefer === 'branch' && plan.conflicts.length > 0 ? (await diffSides(core, { from: targetSide, to: { kind: 'branch', name }, schema: true })).schema!.statements : [];
  const statements = plan.steps.flatMap((step) => ('contested' in step ? direct.filter((s) => s.identity === step.contested) : [step]));
  const conflicts: RebaseConflict[] = plan.conflicts.map((c) => (prefer ? { ...c, chosen: prefer } : c));
  const captureMs = performance.now() - started;

  // Build: a fresh clone of the target, its branch point, a temporary instance on it, and a reader of the branch.
  const build = await core.locked(() => prepareBuild(rt, name, checked.volume, checked.target));
  const replayStarted = performance.now();
  let tables: RebaseTableReport[] = [];
  let failure: unknown;
  const release = core.activity.acquire(build.branch.id);
  try {
    tables = await withoutLock(build.intent, () =>
      withClient(build.newTarget, (target) =>
        withClient(build.branchTarget, async (source) => {
          for (const f of (await applyStatements(target, statements)).failed) {
            conflicts.push({ kind: 'failed', reason: 'statement-failed', object: f.statement.identity, parent: null, branch: f.statement.sql, error: f.error, ...(prefer ? { chosen: 'parent' as const } : {}) });
          }
          return replayData(target, source, own.data!.tables, prefer, conflicts);
        }),
      ),
    );
  } catch (err) {
    failure = err;
  } finally {
    release();
  }
  crashPoint('rebase:replayed');
  const replayMs = performance.now() - replayStarted;

  const blocked = conflicts.length > 0 && prefer === null;
  const report = (applied: boolean, undoSnapshot: string | null, point: { lsn: string | null; time: string | null }, swapMs: number): RebaseReport => ({
    branch: name,
    action: 'rebase',
    onto: ontoRef,
    dryRun,
    applied,
    prefer,
    schema: { statements: statements.map(({ sql, kind, identity, action }) => ({ sql, kind, identity, action })), alreadyOnParent: plan.alreadyOnParent },
    data: {
      tables,
      totals: {
        inserted: tables.reduce((n, t) => n + t.inserted, 0),
        updated: tables.reduce((n, t) => n + t.updated, 0),
        deleted: tables.reduce((n, t) => n + t.deleted, 0),
      },
    },
    conflicts: conflicts.slice(0, LISTED_CONFLICTS),
    conflictCount: conflicts.length,
    undoSnapshot,
    branchPoint: point,
    timings: { captureMs, replayMs, swapMs, totalMs: performance.now() - started },
  });

  const swapStarted = performance.now();
  const outcome = await core.locked(async () => {
    const current = rt.store.getBranchById(build.branch.id);
    const still = pendingIntents(rt.store).find((i) => i.id === build.intent.id);
    const moved = current?.volume !== build.branch.volume;
    if (failure !== undefined || dryRun || blocked || moved) {
      if (still?.kind === 'rebase') await settleRebase(rt, still);
      if (moved) throw new PgbranchError('BRANCH_NOT_FOUND', `"${name}" was deleted or reset during the rebase: run it again`, { cause: failure, details: { branch: name } });
      return undefined;
    }
    return swap(rt, current!, build);
  });
  if (failure !== undefined) throw failure;
  const swapMs = performance.now() - swapStarted;
  if (!outcome) {
    const result = report(false, null, { lsn: null, time: null }, swapMs);
    if (blocked && !dryRun) {
      throw new PgbranchError(
        'REBASE_CONFLICT',
        `cannot rebase "${name}" onto ${ontoRef}: ${conflicts.length} conflict(s), first ${describe(conflicts[0]!)}; the branch is unchanged (see --dry-run, or decide with --prefer branch|parent)`,
        { details: { report: result } },
      );
    }
    return result;
  }
  return report(true, outcome.undoSnapshot, { lsn: outcome.branchLsn, time: outcome.branchTime }, swapMs);
}

function describe(c: RebaseConflict): string {
  return `${c.reason} on ${c.object}${c.key ? ` ${JSON.stringify(c.key)}` : ''}${c.error ? ` (${c.error})` : ''}`;
}

type Target = { readonly kind: 'parent'; readonly parent: BranchRecord } | { readonly kind: 'snapshot'; readonly snapshot: SnapshotRecord };

/**
 * The parent's current state, or `onto`: a snapshot of the parent. A branch made from a snapshot
 * has the snapshot's branch as its parent here (it moves onto that branch's newer state).
 */
function rebaseTarget(rt: Runtime, branch: BranchRecord, onto: string | undefined): Target {
  const madeFrom = branch.parentSnapshotId ? rt.store.getSnapshotById(branch.parentSnapshotId) : undefined;
  const parentId = branch.parentId ?? madeFrom?.sourceBranchId ?? null;
  const parentName = branch.parentName ?? madeFrom?.sourceBranchName ?? null;
  const parent = parentId ? rt.store.getBranchById(parentId) : undefined;
  if (onto !== undefined) {
    const snapshot = rt.store.getSnapshotByName(onto);
    if (!snapshot) throw new PgbranchError('SNAPSHOT_NOT_FOUND', `no snapshot named "${onto}"`, { details: { name: onto } });
    if (parentId === null || snapshot.sourceBranchId !== parentId) {
      throw new PgbranchError('INVALID_ARGUMENT', `cannot rebase "${branch.name}" onto "${onto}": it is a snapshot of "${snapshot.sourceBranchName}", not of the branch's parent${parentName ? ` "${parentName}"` : ''}`, {
        details: { branch: branch.name, snapshot: onto, parent: parentName },
      });
    }
    return { kind: 'snapshot', snapshot };
  }
  if (!parent) {
    if (parentName) {
      throw new PgbranchError('PARENT_NOT_FOUND', `cannot rebase "${branch.name}": its parent "${parentName}" was deleted (name one of its snapshots with --onto)`, {
        details: { branch: branch.name, parent: parentName },
      });
    }
    throw new PgbranchError('ROOT_BRANCH_RESET', `cannot rebase "${branch.name}": it is a root branch and has no parent`, { details: { branch: branch.name } });
  }
  return { kind: 'parent', parent };
}

/** Two schema changes touch the same object: the same identity, or one drops what the other changes inside. */
function overlaps(a: SchemaStatement, b: SchemaStatement): boolean {
  if (a.identity === b.identity) return true;
  const inside = (outer: SchemaStatement, inner: SchemaStatement) => outer.action === 'drop' && inner.identity.startsWith(`${outer.identity}.`);
  return inside(a, b) || inside(b, a);
}

/**
 * The branch's statements to replay, and the schema conflicts: an object both sides changed.
 * Changed identically on both (the same SQL) is not a conflict: the parent already has it.
 */
export function planSchema(own: readonly SchemaStatement[], theirs: readonly SchemaStatement[]) {
  const parentSql = new Set(theirs.map((s) => s.sql));
  const relevant = (s: SchemaStatement) => s.kind !== 'setting';
  const byObject = new Map<string, { branch: string[]; parent: string[] }>();
  const steps: Array<SchemaStatement | { readonly contested: string }> = [];
  let alreadyOnParent = 0;
  for (const s of own) {
    if (!relevant(s)) {
      steps.push(s);
      continue;
    }
    if (parentSql.has(s.sql)) {
      alreadyOnParent++;
      continue;
    }
    const rivals = theirs.filter((t) => relevant(t) && overlaps(s, t) && !own.some((o) => o.sql === t.sql));
    if (rivals.length === 0) {
      steps.push(s);
      continue;
    }
    if (!byObject.has(s.identity)) steps.push({ contested: s.identity });
    const entry = byObject.get(s.identity) ?? { branch: [], parent: [] };
    entry.branch.push(s.sql);
    for (const r of rivals) if (!entry.parent.includes(r.sql)) entry.parent.push(r.sql);
    byObject.set(s.identity, entry);
  }
  const conflicts: RebaseConflict[] = [...byObject].map(([object, sides]) => ({
    kind: 'schema',
    reason: 'both-changed',
    object,
    parent: sides.parent.join('\n'),
    branch: sides.branch.join('\n'),
  }));
  return { steps, conflicts, alreadyOnParent };
}

interface Build {
  readonly branch: BranchRecord;
  readonly intent: IntentHandle;
  readonly newVolume: string;
  readonly newOwner: InstanceOwner;
  readonly newTarget: ReturnType<Runtime['adminTarget']>;
  readonly branchTarget: ReturnType<Runtime['adminTarget']>;
  readonly branchLsn: string | null;
  readonly branchTime: string;
  readonly previousUndoVolume: string | undefined;
}

async function prepareBuild(rt: Runtime, name: string, volume: string, target: Target): Promise<Build> {
  const branch = findBranch(rt, name);
  if (branch.volume !== volume) throw new PgbranchError('BRANCH_NOT_FOUND', `"${name}" was reset during the rebase: run it again`, { details: { branch: name } });
  const newVolume = volumeName(branch.id);
  const suffix = randomBytes(4).toString('hex');
  const newOwner: InstanceOwner = { id: `${branch.id}.rebase-${suffix}`, port: await rt.allocatePort(), pgMajor: branch.pgMajor };
  const running = await rt.isRunning(branch.volume);
  const readerVolume = running ? undefined : `${branch.id}.rebase-${suffix}-src`;
  let readerOwner: InstanceOwner | undefined;
  if (readerVolume) {
    let port = await rt.allocatePort();
    while (port === newOwner.port) port = await rt.allocatePort();
    readerOwner = { id: `${branch.id}.rebase-${suffix}-src`, port, pgMajor: branch.pgMajor };
  }
  // The undo snapshot of the last rebase, replaced by this one's at the swap.
  const previous = rt.store.getSnapshotByName(undoSnapshotName(name));
  const previousUndoVolume = previous?.sourceBranchId === branch.id ? previous.volume : undefined;
  if (previous && !previousUndoVolume) {
    throw new PgbranchError('SNAPSHOT_EXISTS', `cannot rebase "${name}": snapshot "${previous.name}" (where the pre-rebase state goes) belongs to another branch`, { details: { snapshot: previous.name } });
  }
  const intent = beginIntent(rt.store, 'rebase', branch, {
    mode: 'rebase',
    ...(previousUndoVolume ? { previousUndoVolume } : {}),
    oldVolume: branch.volume,
    newVolume,
    newPointVolume: branchPointVolume(newVolume),
    scratchVolumes: readerVolume ? [readerVolume] : [],
    owners: [newOwner.id, ...(readerOwner ? [readerOwner.id] : [])],
  });
  crashPoint('rebase:intent');
  let branchTime: string;
  if (target.kind === 'snapshot') {
    await rt.storage.cloneVolume(target.snapshot.volume, newVolume);
    branchTime = target.snapshot.time;
  } else {
    ({ branchTime } = await cloneConsistent(rt, target.parent, newVolume));
  }
  await applyVolumeLimit(rt, newVolume, branch.maxOwnBytes);
  crashPoint('rebase:cloned');
  await startScratch(rt, newOwner, newVolume);
  const newTarget = rt.adminTarget({ ...newOwner, dbUser: branch.dbUser }, branch.dbName);
  // A following root's hooks (masking, say) run on every copy of it before anyone can read it,
  // as for reset: here on the parent's state, before the branch's changes are replayed onto it.
  const hooks = target.kind === 'parent' ? sourceHooks(rt, target.parent.id) : [];
  if (hooks.length > 0) await runBranchHooks(rt, { ...newOwner, name: branch.name, dbUser: branch.dbUser, dbName: branch.dbName }, hooks);
  // The new branch point is the parent's state as the branch gets it (after the hooks), before
  // anything is replayed: a diff after the rebase shows the branch's own changes again.
  await takeBranchPoint(rt, { id: newOwner.id, volume: newVolume, port: newOwner.port, dbUser: branch.dbUser, pgMajor: branch.pgMajor });
  const recovered = await withClient(newTarget, async (c) => (await c.query<{ lsn: string }>('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()')).rows[0]!.lsn);
  const branchLsn = target.kind === 'snapshot' ? target.snapshot.lsn : recovered;
  let branchTarget = rt.adminTarget(branch, branch.dbName);
  if (readerVolume && readerOwner) {
    await rt.storage.cloneVolume(branch.volume, readerVolume);
    await startScratch(rt, readerOwner, readerVolume);
    branchTarget = rt.adminTarget({ ...readerOwner, dbUser: branch.dbUser }, branch.dbName);
  }
  crashPoint('rebase:ready');
  return { branch, intent, newVolume, newOwner, newTarget, branchTarget, branchLsn, branchTime, previousUndoVolume };
}

/** Old instance down, the new volume up as the branch, the old volume kept as the undo snapshot. */
async function swap(rt: Runtime, branch: BranchRecord, build: Build) {
  await rt.stop(build.newVolume);
  await rt.removeBranchFiles(build.newOwner.id);
  await rt.stop(branch.volume);
  crashPoint('rebase:old-stopped');
  await bringUpClone(rt, branch, build.newVolume);
  crashPoint('rebase:new-started');
  const undoName = undoSnapshotName(branch.name);
  const previous = rt.store.listSnapshots().find((s) => s.volume === build.previousUndoVolume);
  const undoId = newSnapshotId();
  rt.store.transaction(() => {
    if (previous) rt.store.deleteSnapshot(previous.id);
    rt.store.replaceVolume(branch.id, { volume: build.newVolume, branchLsn: build.branchLsn, branchTime: build.branchTime });
    // The stopped old volume is the pre-rebase state, written up to the swap. Its LSN and time
    // are those of its branch point, which --undo gives the branch back.
    rt.store.insertSnapshot({
      id: undoId,
      name: undoName,
      volume: branch.volume,
      sourceBranchId: branch.id,
      sourceBranchName: branch.name,
      dbUser: branch.dbUser,
      dbName: branch.dbName,
      lsn: branch.branchLsn,
      time: branch.branchTime ?? branch.createdAt,
      pgMajor: branch.pgMajor,
      ...inheritMasking(branch),
    });
    build.intent.advance('swapped');
  });
  crashPoint('rebase:swapped');
  const still = pendingIntents(rt.store).find((i) => i.id === build.intent.id);
  if (still?.kind === 'rebase') await settleRebase(rt, still);
  crashPoint('rebase:cleaned');
  if (branch.desiredState !== 'running') await rt.stop(build.newVolume);
  return { undoSnapshot: undoName, branchLsn: build.branchLsn, branchTime: build.branchTime };
}

/** `NAME.pre-rebase` (the name cut to fit the 63-character rule). */
export function undoSnapshotName(branch: string): string {
  const suffix = '.pre-rebase';
  return `${branch.slice(0, 63 - suffix.length)}${suffix}`;
}

/** `--undo`: the branch gets the pre-rebase state back (and its branch point); the snapshot is used up. */
async function undoRebase(core: HostCore, name: string): Promise<RebaseReport> {
  const { rt } = core;
  const started = performance.now();
  return core.locked(async () => {
    const branch = findBranch(rt, name);
    assertNotProtected(branch, 'rebase');
    const snapshot = rt.store.getSnapshotByName(undoSnapshotName(name));
    if (!snapshot || snapshot.sourceBranchId !== branch.id) {
      throw new PgbranchError('REBASE_UNDO_UNAVAILABLE', `"${name}" has no pre-rebase state to return to (no rebase since it was made, or already undone)`, { details: { branch: name } });
    }
    const newVolume = volumeName(branch.id);
    const intent = beginIntent(rt.store, 'rebase', branch, {
      mode: 'undo',
      oldVolume: branch.volume,
      newVolume,
      newPointVolume: branchPointVolume(newVolume),
      scratchVolumes: [],
      owners: [],
      undoVolume: snapshot.volume,
    });
    crashPoint('rebase-undo:intent');
    await rt.storage.cloneVolume(snapshot.volume, newVolume);
    if (await rt.storage.exists(branchPointVolume(snapshot.volume))) await rt.storage.cloneVolume(branchPointVolume(snapshot.volume), branchPointVolume(newVolume));
    await applyVolumeLimit(rt, newVolume, branch.maxOwnBytes);
    crashPoint('rebase-undo:cloned');
    await rt.stop(branch.volume);
    crashPoint('rebase-undo:old-stopped');
    await bringUpClone(rt, branch, newVolume);
    rt.store.transaction(() => {
      rt.store.replaceVolume(branch.id, { volume: newVolume, branchLsn: snapshot.lsn, branchTime: snapshot.time });
      rt.store.deleteSnapshot(snapshot.id);
      intent.advance('swapped');
    });
    crashPoint('rebase-undo:swapped');
    const still = pendingIntents(rt.store).find((i) => i.id === intent.id);
    if (still?.kind === 'rebase') await settleRebase(rt, still);
    crashPoint('rebase-undo:cleaned');
    if (branch.desiredState !== 'running') await rt.stop(newVolume);
    const after = rt.store.getBranchById(branch.id)!;
    const totalMs = performance.now() - started;
    return {
      branch: name,
      action: 'undo',
      onto: null,
      dryRun: false,
      applied: true,
      prefer: null,
      schema: { statements: [], alreadyOnParent: 0 },
      data: { tables: [], totals: { inserted: 0, updated: 0, deleted: 0 } },
      conflicts: [],
      conflictCount: 0,
      undoSnapshot: null,
      branchPoint: { lsn: after.branchLsn, time: after.branchTime },
      timings: { captureMs: 0, replayMs: 0, swapMs: totalMs, totalMs },
    } satisfies RebaseReport;
  });
}

/**
 * Settle (also the normal end of every rebase): before the swap the old volume is the branch and
 * everything made goes; after it the new one is, and what goes is the scratch (and, for an
 * undo, the rebased state and the used-up snapshot; for a rebase, the previous undo snapshot's
 * volume). The old volume of a rebase stays: it is the undo snapshot.
 */
export async function settleRebase(rt: Runtime, intent: IntentFor<'rebase'>): Promise<'rolled-back' | 'rolled-forward'> {
  const { mode, oldVolume, newVolume, scratchVolumes, owners, undoVolume, previousUndoVolume } = intent.data;
  const swapped = rt.store.getBranchById(intent.subject.id)?.volume === newVolume;
  for (const volume of scratchVolumes) {
    await rt.kill(volume);
    await rt.storage.deleteVolume(volume);
  }
  const discard: string[] = [];
  if (!swapped) {
    await rt.kill(newVolume);
    discard.push(newVolume);
  } else if (mode === 'undo') {
    await rt.kill(oldVolume);
    discard.push(oldVolume);
    // The snapshot row went in the swap's transaction; its volume goes now.
    if (undoVolume && !rt.store.listSnapshots().some((s) => s.volume === undoVolume)) discard.push(undoVolume);
  } else if (previousUndoVolume && !rt.store.listSnapshots().some((s) => s.volume === previousUndoVolume)) {
    discard.push(previousUndoVolume);
  }
  for (const volume of discard) {
    await rt.storage.deleteVolume(volume);
    await removeBranchPoint(rt, volume);
  }
  for (const owner of owners) await rt.removeBranchFiles(owner);
  resumeIntent(rt.store, intent).finish();
  return swapped ? 'rolled-forward' : 'rolled-back';
}

interface TablePlan {
  readonly key: string;
  readonly target: ReplayTable;
  readonly report: { -readonly [K in keyof RebaseTableReport]: RebaseTableReport[K] };
  readonly inserts: JsonRow[];
  readonly updates: JsonRow[];
  readonly deletes: JsonRow[];
  readonly unkeyedDeletes: RowValues[];
  readonly history: JsonRow[];
  readonly historyColumn?: string;
  readonly copyWhole: boolean;
  readonly addedColumns: readonly string[];
}

/** Same values on the columns both rows have (a column only one side has is not compared). */
function sameRow(a: RowValues, b: RowValues): boolean {
  for (const [column, value] of Object.entries(a)) if (column in b && b[column] !== value) return false;
  return true;
}

/**
 * The data: each changed row of the branch is checked against the parent's row at its key (still
 * what the branch point had? then the branch's change applies), then written — deletes first
 * (referencing tables first), then inserts and updates (referenced tables first).
 */
async function replayData(target: Client, source: Client, changed: readonly (ComparedTable | { status: 'added' | 'dropped'; schema: string; name: string })[], prefer: 'branch' | 'parent' | null, conflicts: RebaseConflict[]): Promise<RebaseTableReport[]> {
  const targetTables = await readReplayTables(target);
  const sourceTables = await readReplayTables(source);
  const plans = new Map<string, TablePlan>();
  const conflict = (c: RebaseConflict) => conflicts.push(prefer ? { ...c, chosen: c.kind === 'failed' ? 'parent' : prefer } : c);

  for (const table of changed) {
    if (table.status === 'dropped') continue;
    const key = tableKey(table);
    const t = targetTables.get(key);
    const s = sourceTables.get(key);
    const compared = table.status === 'compared' ? table : undefined;
    const hasChanges = !compared || compared.counts.inserted + compared.counts.updated + compared.counts.deleted > 0 || compared.columnsAdded.length > 0;
    if (!hasChanges || !s) continue;
    if (!t) {
      conflict({ kind: 'failed', reason: 'table-missing', object: key, parent: null, branch: null, error: 'the table is not on the parent (dropped there, or its creation was not replayed)' });
      continue;
    }
    const plan: TablePlan = {
      key,
      target: t,
      report: { schema: table.schema, name: table.name, inserted: 0, updated: 0, deleted: 0, alreadyOnParent: 0 },
      inserts: [],
      updates: [],
      deletes: [],
      unkeyedDeletes: [],
      history: [],
      ...(historyNameColumn(table.name, t.columns.map((c) => c.name)) ? { historyColumn: historyNameColumn(table.name, t.columns.map((c) => c.name))! } : {}),
      copyWhole: !compared,
      addedColumns: compared ? compared.columnsAdded.filter((c) => t.columns.some((tc) => tc.name === c)) : [],
    };
    plans.set(key, plan);
    if (!compared) {
      plan.report.copied = true;
      continue;
    }
    const rows = compared.rows ?? [];
    if (compared.keyColumns === null || !t.key || !s.key || t.key.join() !== compared.keyColumns.join()) {
      // A multiset of rows: inserted rows are added, deleted ones removed one copy at a time.
      for (const r of rows) if (r.change === 'inserted') plan.inserts.push(r.new);
      else if (r.change === 'deleted') plan.unkeyedDeletes.push(r.old);
      continue;
    }
    const keyColumns = compared.keyColumns;
    const keyOf = (r: RowChange) => r.key ?? (r.change === 'deleted' ? r.old : r.new);
    const current = await readRowValues(target, t, rows.map(keyOf));
    const wanted = rows.filter((r) => r.change !== 'deleted').map(keyOf);
    const branchRows = await readJsonRows(source, s, wanted);
    for (const r of rows) {
      const k = keyOf(r);
      const ks = keyString(k, keyColumns);
      const onParent = current.get(ks);
      const branchValue = r.change === 'deleted' ? null : r.new;
      const full = branchRows.get(ks);
      if (plan.historyColumn && r.change === 'inserted' && full) {
        plan.history.push(full);
        continue;
      }
      const write = (): void => {
        if (branchValue === null) plan.deletes.push(k);
        else if (!full) return; // changed again on the branch since the diff read it: it keeps its latest value below
        else (onParent ? plan.updates : plan.inserts).push(full);
      };
      let reason: RebaseConflict['reason'] | undefined;
      if (r.change === 'inserted') {
        if (!onParent) write();
        else if (sameRow(r.new, onParent)) plan.report.alreadyOnParent++;
        else reason = 'both-inserted';
      } else if (r.change === 'updated') {
        if (!onParent) reason = 'deleted-on-parent';
        else if (sameRow(r.old, onParent)) write();
        else if (sameRow(r.new, onParent)) plan.report.alreadyOnParent++;
        else reason = 'both-updated';
      } else {
        if (!onParent) plan.report.alreadyOnParent++;
        else if (sameRow(r.old, onParent)) write();
        else reason = 'deleted-on-branch';
      }
      if (reason) {
        conflict({ kind: 'row', reason, object: key, key: k, parent: onParent ?? null, branch: branchValue });
        if (prefer === 'branch') write();
      }
    }
  }

  const order = await foreignKeyOrder(target, [...plans.keys()]);
  const failed = (plan: TablePlan, row: JsonRow | RowValues, error: string) =>
    conflict({ kind: 'failed', reason: 'row-failed', object: plan.key, ...(plan.target.key ? { key: pick(row, plan.target.key) } : {}), parent: null, branch: row as RowValues, error });
  for (const key of [...order].reverse()) {
    const plan = plans.get(key)!;
    const result = await writeRows(target, plan.target, 'delete', plan.deletes);
    plan.report.deleted += result.applied;
    for (const f of result.failed) failed(plan, f.row, f.error);
    for (const row of plan.unkeyedDeletes) if (await deleteOneRow(target, plan.target, row)) plan.report.deleted++;
  }
  for (const key of order) {
    const plan = plans.get(key)!;
    if (plan.copyWhole) {
      await scanTable(source, plan.target, undefined, async (rows) => {
        const result = await writeRows(target, plan.target, 'insert', rows);
        plan.report.inserted += result.applied;
        for (const f of result.failed) failed(plan, f.row, f.error);
      });
      continue;
    }
    for (const row of plan.history) {
      try {
        if ((await insertHistoryRow(target, plan.target, plan.historyColumn!, row)) === 'present') plan.report.alreadyOnParent++;
        else plan.report.inserted++;
      } catch (err) {
        failed(plan, row, (err as Error).message);
      }
    }
    for (const [kind, rows] of [['insert', plan.inserts], ['update', plan.updates]] as const) {
      const result = await writeRows(target, plan.target, kind, rows);
      if (kind === 'insert') plan.report.inserted += result.applied;
      else plan.report.updated += result.applied;
      for (const f of result.failed) failed(plan, f.row, f.error);
    }
    if (plan.addedColumns.length > 0 && plan.target.key) {
      // Columns the branch added are not compared by the diff (the branch point lacks them): their
      // values (a backfill) are copied for every row the branch has.
      await scanTable(source, plan.target, [...plan.target.key, ...plan.addedColumns], async (rows) => {
        await writeRows(target, plan.target, 'update', rows);
      });
    }
  }
  await advanceSequences(source, target);
  return [...plans.values()].map((p) => p.report).sort((a, b) => tableKey(a).localeCompare(tableKey(b)));
}

function pick(row: Readonly<Record<string, unknown>>, columns: readonly string[]): RowValues {
  return Object.fromEntries(columns.map((c) => [c, (row[c] ?? null) as RowValues[string]]));
}
