import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configureRecoveryTarget, copyFromUrl, initCluster, parseLsn, prepareDirectory, redactUrl, restoreDump, writeHba } from '../../postgres/index.js';
import type { BranchRecord, NewBranch, SnapshotRecord } from '../../state/index.js';
import { PgbranchError } from '../../errors.js';
import type { Actor } from '../audit.js';
import { removeBranchPoint, takeBranchPoint } from '../branch-point.js';
import { bringUpClone, CLONE_POINTS, cloneConsistent, openTcp, sourceHooks } from '../clone.js';
import { log, timed } from '../../util/index.js';
import { crashPoint } from '../crash-points.js';
import { saveSourceUrl } from '../source-secrets.js';
import { claimWarmClone } from '../warm.js';
import { canonicalTime, resolveExpiry, type ExpiryRequest } from '../governance.js';
import { newBranchId, newPassword, volumeName } from '../ids.js';
import { beginIntent, resumeIntent, type IntentData, type IntentFor } from '../intents.js';
import { assertBranchName } from '../names.js';
import { applyVolumeLimit, assertBranchCountQuota, assertPoolFloor, resolveOwnBytesLimit } from '../quotas.js';
import type { ProgressSink, Runtime } from '../runtime.js';
import { createFollowingRoot, releaseSource, type FollowSettings } from './follow.js';
import { followedSource, snapshotFor, STANDBY_WAL, takeHistorySnapshot, type RecoveryPoint } from './history.js';
import { findSnapshot } from './snapshot-create.js';
import { checkCoverage, checkpointLsn, inheritMasking, maskInstance, parseRulesText, rulesSha256, type MaskRequest } from './mask.js';

/**
 * Where a root branch's data comes from: nothing (then migrations and seeds), a dump file, a
 * live server copied logically (refreshable later: `source refresh`), or a live server followed
 * physically (a hot standby that keeps up with it, with a history window for branches at a past
 * time; window and slot default to the host's `sources` settings).
 */
export type RootSource =
  | { readonly kind: 'empty' }
  | { readonly kind: 'dump'; readonly file: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'follow'; readonly url: string; readonly slot?: boolean; readonly historyWindowMs?: number; readonly snapshotIntervalMs?: number };

/**
 * Where a new branch comes from, decided once by the edge that parsed the request: a CoW clone of
 * a parent branch, a clone of a snapshot, or a new root filled from a source.
 */
export type CreateOrigin =
  | { readonly kind: 'parent'; readonly parent: string; readonly at?: RecoveryPoint }
  | { readonly kind: 'snapshot'; readonly snapshot: string }
  | { readonly kind: 'source'; readonly source: RootSource };

export interface CreateRequest extends ExpiryRequest {
  readonly origin: CreateOrigin;
  /** CI retries: an existing branch with the same name and origin is returned, not an error. */
  readonly ifNotExists?: boolean;
  /**
   * Cap on the bytes the branch may own (written since it was branched). Absent = the host's
   * `quotas.maxOwnBytesPerBranch` for clones, none for roots; null = none (refused when the host
   * has a ceiling).
   */
  readonly maxOwnBytes?: number | null;
  /**
   * Masking rules (the rules file's text): the branch is made masked (fail-closed check, then
   * masked, tables rewritten, WAL and residue wiped) and protected. Only with a parent origin.
   */
  readonly mask?: MaskRequest;
  readonly onProgress?: ProgressSink;
}

export const CREATE_POINTS = {
  clone: [
    'create:intent',
    CLONE_POINTS.ready,
    'create:cloned',
    CLONE_POINTS.afterBackupStop,
    CLONE_POINTS.afterStart,
    CLONE_POINTS.passwordSet,
    'create:started',
    'create:branch-point',
    'create:committed',
  ],
  root: ['create:intent', 'create:initialised', 'create:imported', 'create:committed'],
  /** A masked branch: the clone is masked, sealed and wiped before its row is committed. */
  masked: [
    'create:intent',
    CLONE_POINTS.ready,
    CLONE_POINTS.afterBackupStop,
    'create:cloned',
    CLONE_POINTS.afterStart,
    CLONE_POINTS.passwordSet,
    'create:started',
    'create:checked',
    'create:masked',
    'create:wiped',
    'create:branch-point',
    'create:committed',
  ],
} as const;

/** What the audit log says about a create's origin (the same words since the first release). */
export function originDetails(origin: CreateOrigin): Record<string, unknown> {
  switch (origin.kind) {
    case 'parent':
      return { parent: origin.parent, source: 'branch' };
    case 'snapshot':
      return { parent: null, snapshot: origin.snapshot, source: 'snapshot' };
    case 'source':
      return { parent: null, source: origin.source.kind };
  }
}

/**
 * Creates branch `name` (the caller holds the host lock). Checks, in order: names and expiry
 * (nothing made yet), an existing branch (returned for an `ifNotExists` retry of the same
 * origin, so a CI retry is never refused by a quota), quotas, the origin, the pool's floor.
 */
export async function createBranch(rt: Runtime, actor: Actor, name: string, request: CreateRequest): Promise<{ record: BranchRecord; created: boolean }> {
  assertBranchName(name);
  const { origin } = request;
  if (origin.kind === 'parent') assertBranchName(origin.parent);
  if (origin.kind === 'snapshot') assertBranchName(origin.snapshot);
  if (origin.kind === 'parent' && origin.at?.kind === 'time') canonicalTime(origin.at.time, 'at');
  if (origin.kind === 'parent' && origin.at?.kind === 'lsn') parseLsn(origin.at.lsn);
  // Resolved before anything is made: a bad expiry must not leave a branch behind.
  const expiresAt = resolveExpiry(rt.config, name, request);
  if (request.mask) {
    if (origin.kind !== 'parent' || origin.at) {
      throw new PgbranchError('INVALID_ARGUMENT', 'a masked branch is made from a parent branch as it is now (--from PARENT, without --at)', { details: { name } });
    }
    // Syntax problems (with line numbers) before anything is made.
    parseRulesText(request.mask);
  }

  const existing = rt.store.getBranchByName(name);
  if (existing) {
    const sameMask = request.mask ? existing.maskedRulesSha256 === rulesSha256(request.mask.rules) : true;
    if (request.ifNotExists && sameMask && sameOrigin(rt, existing, origin)) return { record: existing, created: false };
    throw branchExists(rt, existing, origin);
  }
  assertBranchCountQuota(rt, actor);
  const settings: NewBranchSettings = {
    createdBy: actor.id,
    maxOwnBytes: await resolveOwnBytesLimit(rt, request.maxOwnBytes, origin.kind === 'source' ? 'root' : 'clone'),
  };
  let made: BranchRecord;
  switch (origin.kind) {
    case 'snapshot': {
      const snapshot = findSnapshot(rt, origin.snapshot);
      await timed('room', () => assertPoolFloor(rt, `branch "${name}"`));
      made = await createFromSnapshot(rt, name, snapshot, settings);
      break;
    }
    case 'source':
      await timed('room', () => assertPoolFloor(rt, `branch "${name}"`));
      made = await createRootFrom(rt, name, origin.source, settings, request.onProgress);
      break;
    case 'parent': {
      const parent = rt.store.getBranchByName(origin.parent);
      if (!parent) {
        throw new PgbranchError('PARENT_NOT_FOUND', `cannot create "${name}": no branch named "${origin.parent}"`, { details: { parent: origin.parent } });
      }
      await timed('room', () => assertPoolFloor(rt, `branch "${name}"`));
      if (request.mask) made = await createMaskedChild(rt, name, parent, settings, request.mask, request.onProgress);
      else made = origin.at ? await createAtPoint(rt, name, parent, origin.at, settings) : await createChild(rt, name, parent, settings);
      break;
    }
  }
  // Set after the create commits: a crash in between leaves a branch that never expires, the
  // safe side (nothing is deleted that the caller may still want).
  if (expiresAt !== null) rt.store.setExpiresAt(made.id, expiresAt);
  return { record: rt.store.getBranchById(made.id)!, created: true };
}

function sameOrigin(rt: Runtime, existing: BranchRecord, origin: CreateOrigin): boolean {
  switch (origin.kind) {
    case 'snapshot': {
      const snapshot = rt.store.getSnapshotByName(origin.snapshot);
      return snapshot !== undefined && existing.parentSnapshotId === snapshot.id;
    }
    case 'parent':
      return existing.parentId !== null && rt.store.getBranchById(existing.parentId)?.name === origin.parent;
    case 'source':
      return existing.parentId === null && existing.parentSnapshotId === null;
  }
}

function branchExists(rt: Runtime, existing: BranchRecord, origin: CreateOrigin): PgbranchError {
  const { name } = existing;
  if (origin.kind === 'snapshot') return new PgbranchError('BRANCH_EXISTS', `branch "${name}" already exists`, { details: { name } });
  const parent = existing.parentId ? rt.store.getBranchById(existing.parentId)?.name : undefined;
  const from = parent ? `from "${parent}"` : 'as a root branch';
  return new PgbranchError('BRANCH_EXISTS', `branch "${name}" already exists (${from})`, { details: { name, parent: parent ?? null } });
}

interface Planned {
  readonly id: string;
  readonly name: string;
  readonly volume: string;
  readonly port: number;
  readonly password: string;
  readonly dbUser: string;
  readonly dbName: string;
  readonly pgMajor: number | null;
}

/** What a new branch takes over from where it comes from (nothing, for a new root). */
type Lineage = Pick<BranchRecord, 'dbUser' | 'dbName' | 'pgMajor'>;

async function plan(rt: Runtime, name: string, from?: Lineage): Promise<Planned> {
  const id = newBranchId();
  return {
    id,
    name,
    volume: volumeName(id),
    port: await timed('port', () => rt.allocatePort()),
    password: newPassword(),
    dbUser: from?.dbUser ?? rt.config.defaults.dbUser,
    dbName: from?.dbName ?? rt.config.defaults.dbName,
    pgMajor: from?.pgMajor ?? null,
  };
}

/** What a cloned branch records besides its plan: where it came from and its branch point. */
type CloneOrigin = Pick<NewBranch, 'parentId' | 'parentName' | 'source'> & Partial<Pick<NewBranch, 'parentSnapshotId' | 'maskedRulesSha256' | 'maskedAt'>>;

/** Settings every new branch is made with, resolved before anything is made. */
export interface NewBranchSettings {
  /** Audit actor id of the caller (counted by per-token quotas). */
  readonly createdBy: string;
  /** Cap on the bytes the branch may own; set on its volume before any instance runs on it. */
  readonly maxOwnBytes: number | null;
}

/**
 * The one create path for every clone (from a parent branch or a snapshot): intent, clone, bring
 * up with its own port and password, then branch row and end of intent in one transaction.
 * `clone` fills the planned volume and tells when the data was captured; `branchPoint` may
 * override the LSN and time the new instance reports.
 */
async function createClone(
  rt: Runtime,
  name: string,
  from: Lineage,
  origin: CloneOrigin,
  settings: NewBranchSettings,
  intentOrigin: Pick<IntentData<'create'>, 'parentId' | 'snapshotId'>,
  clone: (volume: string) => Promise<{ branchTime: string; replay?: unknown }>,
  branchPoint: (reported: { branchLsn: string; branchTime: string }) => { branchLsn: string; branchTime: string } = (r) => r,
): Promise<BranchRecord> {
  const p = await timed('plan', () => plan(rt, name, from));
  const intent = beginIntent(rt.store, 'create', p, { volume: p.volume, port: p.port, ...intentOrigin });
  crashPoint('create:intent');
  const cloned = await timed('clone', () => clone(p.volume));
  await applyVolumeLimit(rt, p.volume, settings.maxOwnBytes);
  intent.advance('cloned');
  crashPoint('create:cloned');
  // A clone set up to recover to a point in time (see createAtPoint) ends by promotion.
  const afterArchiveRecovery = existsSync(join(rt.dataDir(p.volume), 'recovery.signal'));
  // The branch point is taken while TCP opens (its own steps overlap: a btrfs snapshot and a
  // reload + login). Before the commit: nobody but this create knows the branch yet, so this is its
  // first state.
  const { branchLsn, lastCommitAt } = await timed('bring-up', () => bringUpClone(rt, p, p.volume, sourceHooks(rt, origin.parentId), {
    alongsideOpenTcp: () => takeBranchPoint(rt, p, { afterArchiveRecovery }),
  }));
  crashPoint('create:started');
  crashPoint('create:branch-point');
  // A copy of a standby stands where its last replayed commit is in the source's history.
  const branchTime = cloned.replay !== undefined ? (lastCommitAt ?? cloned.branchTime) : cloned.branchTime;
  rt.store.transaction(() => {
    rt.store.insertBranch({ ...p, ...origin, ...settings, desiredState: 'running', ...branchPoint({ branchLsn, branchTime }) });
    intent.finish();
  });
  crashPoint('create:committed');
  return rt.store.getBranchById(p.id)!;
}

/**
 * What a child branch takes from its parent, whichever way it is made: cloned now, or a warm
 * clone claimed (warm.ts). THE hook for per-branch attributes a child derives from its parent:
 * anything added here reaches both paths, so a claimed warm clone is never a lesser branch.
 */
export function inheritFromParent(parent: BranchRecord): Lineage & CloneOrigin & Masking {
  return {
    dbUser: parent.dbUser,
    dbName: parent.dbName,
    pgMajor: parent.pgMajor,
    parentId: parent.id,
    parentName: parent.name,
    source: JSON.stringify({ kind: 'branch' }),
    ...inheritMasking(parent),
  };
}

type Masking = Pick<NewBranch, 'maskedRulesSha256' | 'maskedAt'>;

/**
 * A masked branch of `parent`: a consistent clone brought up with its own password and TCP closed,
 * checked fail-closed, masked, sealed, stopped, wiped and started again; only then TCP opens, its
 * branch point is taken (masked data only) and its row is committed, masked and protected, with
 * the end of the intent. Any failure or crash before the commit
 * settles as every create does: the volume goes, nothing is left marked masked or usable.
 */
async function createMaskedChild(rt: Runtime, name: string, parent: BranchRecord, settings: NewBranchSettings, mask: MaskRequest, onProgress?: ProgressSink): Promise<BranchRecord> {
  const { maskedRulesSha256: _sha, maskedAt: _at, dbUser, dbName, pgMajor, ...origin } = inheritFromParent(parent);
  const p = await plan(rt, name, { dbUser, dbName, pgMajor });
  const intent = beginIntent(rt.store, 'create', p, { volume: p.volume, port: p.port, parentId: parent.id, masked: true });
  crashPoint('create:intent');
  const cloned = await cloneConsistent(rt, parent, p.volume);
  await applyVolumeLimit(rt, p.volume, settings.maxOwnBytes);
  intent.advance('cloned');
  crashPoint('create:cloned');
  await bringUpClone(rt, p, p.volume, sourceHooks(rt, parent.id), { openTcp: false });
  crashPoint('create:started');
  onProgress?.({ phase: 'mask-check', message: 'checking that every personal-looking column has a rule' });
  const { rules } = await checkCoverage(rt, p, mask);
  intent.advance('checked');
  crashPoint('create:checked');
  onProgress?.({ phase: 'mask', message: 'masking (tables rewritten, then WAL and residue wiped)' });
  await maskInstance(rt, p, p.volume, rules, (step) => {
    intent.advance(step);
    crashPoint(`create:${step}`);
  });
  const branchLsn = await checkpointLsn(rt, p);
  await openTcp(rt, p, p.volume);
  await takeBranchPoint(rt, p);
  crashPoint('create:branch-point');
  const maskedAt = new Date().toISOString();
  rt.store.transaction(() => {
    rt.store.insertBranch({
      ...p,
      ...origin,
      ...settings,
      source: JSON.stringify({ kind: 'branch', masked: true }),
      desiredState: 'running',
      protected: true,
      branchLsn,
      branchTime: cloned.branchTime,
    });
    // The rules are kept with the mark: a plain reset, or a refresh of the parent, re-masks with them.
    rt.store.setMasked(p.id, { rulesSha256: rulesSha256(mask.rules), maskedAt, rules: { rules: mask.rules, file: mask.file ?? null } });
    intent.finish();
  });
  crashPoint('create:committed');
  return rt.store.getBranchById(p.id)!;
}

/**
 * Child branch: a consistent CoW clone of `parent`, with its own port and password; a warm clone
 * of the parent when one is ready and the parent has not been written since it was made.
 */
async function createChild(rt: Runtime, name: string, parent: BranchRecord, settings: NewBranchSettings): Promise<BranchRecord> {
  const inherited = inheritFromParent(parent);
  const claimed = await claimWarmClone(rt, parent, { name, fields: { ...inherited, ...settings }, maxOwnBytes: settings.maxOwnBytes });
  if (claimed) return claimed;
  const { dbUser, dbName, pgMajor, ...origin } = inherited;
  return createClone(
    rt,
    name,
    { dbUser, dbName, pgMajor },
    origin,
    settings,
    { parentId: parent.id },
    (volume) => cloneConsistent(rt, parent, volume),
  );
}

/**
 * A branch of a following root as it was at a point in the source's history: a clone of the
 * newest history snapshot holding nothing after it, with the standby's not yet archived WAL, set
 * up to replay the archived WAL up to the point and then become a primary.
 */
function createAtPoint(rt: Runtime, name: string, parent: BranchRecord, at: RecoveryPoint, settings: NewBranchSettings): Promise<BranchRecord> {
  const source = followedSource(rt, parent);
  if (at.kind === 'time' && Date.parse(at.time) > Date.now()) {
    throw new PgbranchError('INVALID_ARGUMENT', `${at.time} is in the future: a branch can be made at a time up to now`, { details: { at: at.time } });
  }
  const snapshot = snapshotFor(rt, parent, at);
  const archiveDir = rt.storage.volumePath(source.archiveVolume);
  return createClone(
    rt,
    name,
    parent,
    { parentId: parent.id, parentName: parent.name, source: JSON.stringify({ kind: 'branch', at, snapshot: snapshot.name }) },
    settings,
    { parentId: parent.id },
    async (volume) => {
      await rt.storage.cloneVolume(snapshot.volume, volume);
      // What the standby received since its last archived segment is only in its own pg_wal;
      // recovery takes a segment from the archive first and from pg_wal when the archive has none.
      await rt.storage.clonePath(parent.volume, volume, STANDBY_WAL);
      await configureRecoveryTarget(rt.dataDir(volume), {
        target: at.kind === 'time' ? { kind: 'time', time: new Date(at.time) } : at,
        archiveDir,
      });
      // At a time, the branch point is that time; at an LSN, the last commit replayed before it.
      return at.kind === 'time' ? { branchTime: new Date(at.time).toISOString() } : { branchTime: snapshot.time, replay: true };
    },
  );
}

/**
 * A branch from a snapshot: a cold clone of the snapshot's volume (consistent by construction),
 * brought up with its own port and password. Its branch point is the snapshot's time (and LSN
 * when known, else the point recovery ended at); reset returns it to the snapshot.
 */
function createFromSnapshot(rt: Runtime, name: string, snapshot: SnapshotRecord, settings: NewBranchSettings): Promise<BranchRecord> {
  return createClone(
    rt,
    name,
    snapshot,
    {
      parentId: null,
      parentName: null,
      parentSnapshotId: snapshot.id,
      source: JSON.stringify({ kind: 'snapshot', snapshot: snapshot.name, branch: snapshot.sourceBranchName }),
      // A snapshot of a masked branch holds its masked data: so does a branch made from it.
      ...inheritMasking(snapshot),
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

/** A new root from any source: followed physically, or made and filled once. */
export async function createRootFrom(rt: Runtime, name: string, source: RootSource, settings: NewBranchSettings, onProgress?: ProgressSink): Promise<BranchRecord> {
  if (source.kind !== 'follow') return createRoot(rt, name, source, settings, onProgress);
  const root = await createFollowingRoot(rt, name, source.url, followSettings(rt, source), settings, onProgress);
  // The history window starts now; should this first snapshot fail, the serving process's
  // upkeep takes one later (the root itself is complete).
  await takeHistorySnapshot(rt, root).catch((err: unknown) => log.warn({ branch: name, err: (err as Error).message }, 'first history snapshot failed'));
  return root;
}

function followSettings(rt: Runtime, source: Extract<RootSource, { kind: 'follow' }>): FollowSettings {
  const defaults = rt.config.sources;
  return {
    slot: source.slot ?? defaults.replicationSlot,
    historyWindowMs: source.historyWindowMs ?? defaults.historyWindowMs,
    snapshotIntervalMs: source.snapshotIntervalMs ?? defaults.snapshotIntervalMs,
  };
}

/**
 * Root branch: a new cluster (initdb), optionally filled from a dump file or a live server. A
 * root copied from a live server remembers it (URL in the secrets, not in state.db), so that
 * `source refresh` can import it again.
 */
async function createRoot(
  rt: Runtime,
  name: string,
  source: Exclude<RootSource, { kind: 'follow' }>,
  settings: NewBranchSettings,
  onProgress?: ProgressSink,
): Promise<BranchRecord> {
  const p = await plan(rt, name);
  const intent = beginIntent(rt.store, 'create', p, { volume: p.volume, port: p.port, root: true });
  crashPoint('create:intent');
  await rt.storage.createVolume(p.volume);
  await applyVolumeLimit(rt, p.volume, settings.maxOwnBytes);
  const dataDir = rt.dataDir(p.volume);
  await prepareDirectory(dataDir, rt.osUser, 0o700);
  onProgress?.({ phase: 'initdb', message: `initialising PostgreSQL ${rt.binaries.version} cluster` });
  await initCluster({ binaries: rt.binaries, dataDir, osUser: rt.osUser, superuser: p.dbUser, superuserPassword: p.password, database: p.dbName });
  intent.advance('initialised');
  crashPoint('create:initialised');
  // TCP stays closed until the import is done, so nobody sees a half-imported root.
  await writeHba(dataDir, { allowTcp: false });
  await rt.start(p, p.volume);
  const target = rt.adminTarget(p, p.dbName);
  let recordedSource: Record<string, unknown> = { kind: 'empty' };
  if (source.kind === 'dump') {
    const result = await restoreDump({ file: source.file, target, onProgress });
    recordedSource = { kind: 'dump', file: source.file, format: result.format };
  } else if (source.kind === 'url') {
    await saveSourceUrl(rt, p.id, source.url);
    await copyFromUrl({ sourceUrl: source.url, target, onProgress });
    recordedSource = { kind: 'url', url: redactUrl(source.url) };
  }
  intent.advance('imported');
  crashPoint('create:imported');
  await openTcp(rt, p, p.volume);
  rt.store.transaction(() => {
    rt.store.insertBranch({ ...p, ...settings, parentId: null, parentName: null, desiredState: 'running', source: JSON.stringify(recordedSource), branchLsn: null, branchTime: null });
    if (source.kind === 'url') {
      rt.store.insertSource({
        branchId: p.id,
        mode: 'refresh',
        displayUrl: redactUrl(source.url),
        systemId: null,
        slotName: null,
        archiveVolume: null,
        historyWindowMs: null,
        snapshotIntervalMs: null,
        refreshCron: null,
      });
    }
    intent.finish();
  });
  crashPoint('create:committed');
  return rt.store.getBranchById(p.id)!;
}

/**
 * Settle: the branch row and the end of the intent commit together, so a create still recorded
 * never finished, and whatever it made goes away.
 */
export async function settleCreate(rt: Runtime, intent: IntentFor<'create'>): Promise<'rolled-back'> {
  const { volume, slot, archiveVolume } = intent.data;
  await rt.kill(volume);
  await rt.storage.deleteVolume(volume);
  await removeBranchPoint(rt, volume);
  await releaseSource(rt, intent.subject, { slot, archiveVolume });
  if (!rt.store.getBranchById(intent.subject.id)) await rt.removeBranchFiles(intent.subject.id);
  resumeIntent(rt.store, intent).finish();
  return 'rolled-back';
}
