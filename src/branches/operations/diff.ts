import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../../errors.js';
import {
  checkpoint,
  detachFromSource,
  diffData,
  diffSchemas,
  readSchema,
  relationFiles,
  renderSchemaScript,
  verifySchemaDiff,
  withClient,
  writeHba,
  type ChangedBlocks,
  type ConnectionTarget,
  type SchemaDiff,
  type SchemaModel,
} from '../../postgres/index.js';
import type { BranchRecord, SnapshotRecord } from '../../state/index.js';
import { branchPointOf } from '../branch-point.js';
import { blocksByRelation } from '../changed-blocks.js';
import { cloneConsistent } from '../clone.js';
import type { HostCore } from '../core.js';
import { crashPoint } from '../crash-points.js';
import { formatDiffSide, parseDiffSide, type DataDiffView, type DiffRequest, type DiffSide, type DiffSideView, type DiffView, type SchemaDiffView } from '../diff-types.js';
import { beginIntent, pendingIntents, resumeIntent, withoutLock, type IntentFor, type IntentSubject } from '../intents.js';
import { PGDATA, type InstanceOwner, type Runtime } from '../runtime.js';
import { findSnapshot } from './snapshot-create.js';

export const DIFF_POINTS = ['diff:intent', 'diff:ready', 'diff:compared'] as const;

/**
 * Diff: what changed from one side to another — the schema as migration SQL, the data row by row.
 * Read-only for the branches compared: a running branch is read through its own instance; a
 * stopped branch, a snapshot and a branch point through a temporary instance (TCP closed) on a
 * throwaway CoW clone, so a stopped branch stays stopped and nothing it owns is ever written. What
 * a diff makes is named in a `diff` intent before anything is made, so a crash leaves nothing
 * behind (settleDiff). The comparison itself runs without the host lock, so other operations go
 * on meanwhile.
 *
 * Cost: a branch against its own branch point reads only the heap blocks the storage reports as
 * changed (copy-on-write extents), so it follows the size of the change, not of the data; any
 * other pair of sides is compared whole.
 */

type Resolved =
  | { readonly kind: 'branch'; readonly branch: BranchRecord }
  | { readonly kind: 'snapshot'; readonly snapshot: SnapshotRecord }
  | { readonly kind: 'branch-point'; readonly branch: BranchRecord; readonly volume: string };

function notFound(name: string): PgbranchError {
  return new PgbranchError('BRANCH_NOT_FOUND', `no branch or snapshot named "${name}"`, { details: { name } });
}

function findBranch(rt: Runtime, name: string): BranchRecord {
  const branch = rt.store.getBranchByName(name);
  if (!branch) throw new PgbranchError('BRANCH_NOT_FOUND', `no branch named "${name}"`, { details: { name } });
  return branch;
}

async function branchPointSide(rt: Runtime, branch: BranchRecord): Promise<Resolved> {
  if (branch.parentId === null && branch.parentSnapshotId === null && branch.parentName === null) {
    throw new PgbranchError(
      'BRANCH_POINT_UNAVAILABLE',
      `"${branch.name}" is a root branch: it has no branch point. Name both sides: pgbranch diff OTHER ${branch.name}`,
      { details: { branch: branch.name } },
    );
  }
  const volume = await branchPointOf(rt, branch);
  if (volume === undefined) {
    const source = JSON.parse(branch.source) as { snapshot?: string };
    const against = branch.parentName ?? (source.snapshot ? `snapshot:${source.snapshot}` : 'PARENT');
    throw new PgbranchError(
      'BRANCH_POINT_UNAVAILABLE',
      `"${branch.name}" has no kept branch point (made before pgbranch kept them, or with diff.keepBranchPoint off): ` +
        `diff it against its parent instead, pgbranch diff ${against} ${branch.name} (which compares with the parent's current state), or reset it to keep one`,
      { details: { branch: branch.name, against } },
    );
  }
  return { kind: 'branch-point', branch, volume };
}

async function resolveSide(rt: Runtime, side: DiffSide): Promise<Resolved> {
  switch (side.kind) {
    case 'branch':
      return { kind: 'branch', branch: findBranch(rt, side.name) };
    case 'snapshot':
      return { kind: 'snapshot', snapshot: findSnapshot(rt, side.name) };
    case 'branch-point':
      return branchPointSide(rt, findBranch(rt, side.branch));
    case 'name': {
      const branch = rt.store.getBranchByName(side.name);
      if (branch) return { kind: 'branch', branch };
      const snapshot = rt.store.getSnapshotByName(side.name);
      if (snapshot) return { kind: 'snapshot', snapshot };
      throw notFound(side.name);
    }
  }
}

function sideView(side: Resolved): DiffSideView {
  switch (side.kind) {
    case 'branch':
      return { kind: 'branch', name: side.branch.name, ref: side.branch.name, lsn: null, time: null };
    case 'snapshot':
      return { kind: 'snapshot', name: side.snapshot.name, ref: `snapshot:${side.snapshot.name}`, lsn: side.snapshot.lsn, time: side.snapshot.time };
    case 'branch-point':
      return { kind: 'branch-point', name: side.branch.name, ref: `branch-point:${side.branch.name}`, lsn: side.branch.branchLsn, time: side.branch.branchTime };
  }
}

const databaseOf = (side: Resolved): string => (side.kind === 'snapshot' ? side.snapshot.dbName : side.branch.dbName);
const superuserOf = (side: Resolved): string => (side.kind === 'snapshot' ? side.snapshot.dbUser : side.branch.dbUser);
const majorOf = (side: Resolved): number | null => (side.kind === 'snapshot' ? side.snapshot.pgMajor : side.branch.pgMajor);

/** How one side is read: a live branch instance, or a temporary instance on a throwaway clone. */
interface Reader {
  readonly target: ConnectionTarget;
  /** The volume the instance runs on (a live branch's own, or the scratch clone). */
  readonly volume: string;
  readonly scratch?: { readonly owner: InstanceOwner; readonly fill: () => Promise<unknown> };
}

/** What the compared pair needs from the storage for a block-level data diff. */
interface BlockPlan {
  /** The never-written branch point volume, and the live branch's volume. */
  readonly baseVolume: string;
  readonly headVolume: string;
}

interface Prepared {
  readonly from: Resolved;
  readonly to: Resolved;
  readonly a: Reader;
  readonly b: Reader;
  readonly blocks: BlockPlan | undefined;
  readonly fullReason: DataDiffView['fullReason'];
  readonly aIsAncestor: boolean;
  readonly intent: ReturnType<typeof beginIntent>;
  readonly release: () => void;
}

/** Resolves and checks the request, then makes (under the host lock) what reading it needs. */
async function prepare(core: HostCore, request: DiffRequest, want: { schema: boolean; data: boolean; verify: boolean }): Promise<Prepared> {
  const { rt } = core;
  return core.locked(async () => {
    const to = await resolveSide(rt, request.to);
    let from: Resolved;
    if (request.from) from = await resolveSide(rt, request.from);
    else if (to.kind === 'branch') from = await branchPointSide(rt, to.branch);
    else {
      throw new PgbranchError('BRANCH_POINT_UNAVAILABLE', `${sideView(to).ref} is not a branch, so it has no branch point: name both sides (pgbranch diff FROM TO)`, {
        details: { side: sideView(to).ref },
      });
    }
    const database = databaseOf(to);
    if (databaseOf(from) !== database) {
      throw new PgbranchError(
        'DATABASE_MISMATCH',
        `${sideView(from).ref} holds database "${databaseOf(from)}" and ${sideView(to).ref} holds "${database}": a diff compares one database on both sides`,
        { details: { from: sideView(from).ref, to: sideView(to).ref, fromDatabase: databaseOf(from), toDatabase: database } },
      );
    }
    const ofTo = from.kind === 'branch-point' && to.kind === 'branch' && from.branch.id === to.branch.id;
    const madeFromSnapshot = from.kind === 'snapshot' && to.kind === 'branch' && to.branch.parentSnapshotId === from.snapshot.id;
    const canBlocks = ofTo && rt.storage.changedRanges !== undefined;
    const fullReason: DataDiffView['fullReason'] = request.full ? 'requested' : !ofTo ? 'not-branch-point' : canBlocks ? undefined : 'storage';

    // The intent's subject: the side the changes are shown for.
    const subject: IntentSubject = to.kind === 'snapshot' ? to.snapshot : to.branch;
    const volumes: string[] = [];
    const owners: string[] = [];
    const ports = new Set<number>();
    // Both are allocated before either instance listens: the second must not get the first's port.
    const port = async (): Promise<number> => {
      for (;;) {
        const candidate = await rt.allocatePort();
        if (ports.has(candidate)) continue;
        ports.add(candidate);
        return candidate;
      }
    };
    const scratchFor = async (side: Resolved, fill: (volume: string) => Promise<unknown>): Promise<Reader> => {
      const suffix = `diff-${randomBytes(4).toString('hex')}`;
      const volume = `${subject.id}.${suffix}`;
      const owner: InstanceOwner = { id: `${subject.id}.${suffix}`, port: await port(), pgMajor: majorOf(side) };
      volumes.push(volume);
      owners.push(owner.id);
      return { volume, target: rt.adminTarget({ ...owner, dbUser: superuserOf(side) }, database), scratch: { owner, fill: () => fill(volume) } };
    };
    const readerOf = async (side: Resolved, throwaway: boolean): Promise<Reader> => {
      switch (side.kind) {
        case 'snapshot':
          return scratchFor(side, (volume) => rt.storage.cloneVolume(side.snapshot.volume, volume));
        case 'branch-point':
          return scratchFor(side, (volume) => rt.storage.cloneVolume(side.volume, volume));
        case 'branch': {
          const branch = side.branch;
          // A copy to prove the script on, or of a stopped branch (which stays stopped): the
          // branch itself is never written, nor started.
          if (throwaway || !(await rt.isRunning(branch.volume))) return scratchFor(side, (volume) => cloneConsistent(rt, branch, volume));
          return { volume: branch.volume, target: rt.adminTarget(branch, database) };
        }
      }
    };
    const a = await readerOf(from, want.verify);
    const b = await readerOf(to, false);

    const intent = beginIntent(rt.store, 'diff', subject, { volumes, owners });
    crashPoint('diff:intent');
    for (const reader of [a, b]) {
      if (!reader.scratch) continue;
      await reader.scratch.fill();
      await startScratch(rt, reader.scratch.owner, reader.volume);
    }
    // Endpoint activity: the idle sweep of this process must not suspend a live side mid-diff.
    const releases = [from, to].flatMap((s) => (s.kind === 'branch' ? [core.activity.acquire(s.branch.id)] : []));
    crashPoint('diff:ready');
    return {
      from,
      to,
      a,
      b,
      blocks: canBlocks && !request.full && want.data ? { baseVolume: (from as Extract<Resolved, { kind: 'branch-point' }>).volume, headVolume: b.volume } : undefined,
      fullReason,
      aIsAncestor: ofTo || madeFromSnapshot,
      intent,
      release: () => releases.forEach((r) => r()),
    };
  });
}

/**
 * A temporary instance on a throwaway clone: like a new branch's first start (stale lock files
 * gone, a copy of a standby cut from its source), but TCP stays closed: only pgbranch reads it,
 * over its private socket.
 */
export async function startScratch(rt: Runtime, owner: InstanceOwner, volume: string): Promise<void> {
  const dataDir = rt.dataDir(volume);
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  await rm(join(dataDir, 'postmaster.opts'), { force: true });
  if (existsSync(join(dataDir, 'standby.signal'))) {
    await detachFromSource(dataDir, { major: (await rt.binariesFor(owner.pgMajor)).major });
    await rm(join(dataDir, 'standby.signal'), { force: true });
  }
  await writeHba(dataDir, { allowTcp: false });
  await rt.start(owner, volume);
}

/** Undoes what a diff made, whether it finished, failed or its process died: nothing it made is data. */
export async function settleDiff(rt: Runtime, intent: IntentFor<'diff'>): Promise<'rolled-back'> {
  for (const volume of intent.data.volumes) {
    await rt.kill(volume);
    await rt.storage.deleteVolume(volume);
  }
  for (const owner of intent.data.owners) await rt.removeBranchFiles(owner);
  resumeIntent(rt.store, intent).finish();
  return 'rolled-back';
}

const systemId = (target: ConnectionTarget): Promise<string> =>
  withClient(target, async (c) => (await c.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]!.id);

/** The comparison (without the host lock): schema, then data, then the proof (which writes side A's scratch copy). */
async function compare(rt: Runtime, p: Prepared, want: { schema: boolean; data: boolean; verify: boolean }, request: DiffRequest, timings: Record<string, number>) {
  const title = `pgbranch diff ${sideView(p.from).ref} → ${sideView(p.to).ref} (database ${databaseOf(p.to)})`;
  let schema: { diff: SchemaDiff; modelB: SchemaModel; view: Omit<SchemaDiffView, 'verification'> } | undefined;
  if (want.schema) {
    const t0 = performance.now();
    const [modelA, modelB, idA, idB] = await Promise.all([withClient(p.a.target, readSchema), withClient(p.b.target, readSchema), systemId(p.a.target), systemId(p.b.target)]);
    // Clones keep their OIDs, so OIDs are the reliable rename signal within one cluster lineage
    // (same system identifier), and meaningless between unrelated clusters.
    const matchByOid = idA === idB;
    const diff = diffSchemas(modelA, modelB, { matchByOid, aIsAncestor: matchByOid && p.aIsAncestor });
    schema = {
      diff,
      modelB,
      view: { statements: diff.statements, unsupported: diff.unsupported, script: renderSchemaScript(diff, { title }), matchedBy: matchByOid ? 'oid' : 'name' },
    };
    timings.schemaMs = performance.now() - t0;
  }
  let data: DataDiffView | undefined;
  if (want.data) {
    const t0 = performance.now();
    let changedBytes: number | undefined;
    let storageUnknown = false;
    let byRelation: Map<string, number[]> | undefined;
    const blocks = p.blocks;
    const result = await diffData({
      base: p.a.target,
      head: p.b.target,
      rows: want.data && (request.rows ?? false),
      ...(request.limit !== undefined ? { limit: request.limit } : {}),
      ...(blocks
        ? {
            // The head keeps serving: every change its snapshot sees must be in its files before
            // the storage is asked, so CHECKPOINT first, then the extents.
            afterSnapshots: async () => {
              const r0 = performance.now();
              await withClient(p.b.target, async (client) => {
                await checkpoint(client);
                const files = await relationFiles(client);
                const directories = [...new Set(files.tables.map((t) => t.path.slice(0, t.path.lastIndexOf('/'))))];
                const ranges = await rt.storage.changedRanges!(blocks.baseVolume, blocks.headVolume, { directory: PGDATA, relativePaths: directories });
                if (ranges.kind === 'unknown') storageUnknown = true;
                else {
                  changedBytes = ranges.changedBytes;
                  byRelation = blocksByRelation(ranges, files);
                }
              });
              timings.rangesMs = performance.now() - r0;
            },
            changedBlocksFor: (relation): ChangedBlocks | undefined => {
              if (!byRelation) return undefined;
              const list = byRelation.get(relation.head.path) ?? [];
              return { base: list, head: list };
            },
          }
        : {}),
    });
    const method = blocks && !storageUnknown ? 'blocks' : 'full';
    const fullReason = method === 'full' ? (p.fullReason ?? 'storage') : undefined;
    data = { method, ...(fullReason ? { fullReason } : {}), ...(changedBytes !== undefined ? { changedBytes } : {}), tables: result.tables, totals: result.totals };
    timings.dataMs = performance.now() - t0;
  }
  let verification: SchemaDiffView['verification'];
  if (want.verify && schema) {
    const t0 = performance.now();
    verification = await withClient(p.a.target, (copy) => verifySchemaDiff({ copy, diff: schema.diff, expected: schema.modelB }));
    timings.verifyMs = performance.now() - t0;
  }
  return { schema: schema && { ...schema.view, ...(verification ? { verification } : {}) }, data };
}

/**
 * `pgbranch diff [FROM] TO`: see DiffRequest. Sides are read at one instant each (REPEATABLE
 * READ); a live branch keeps serving meanwhile.
 */
export async function diffSides(core: HostCore, asked: DiffRequest): Promise<DiffView> {
  const { rt } = core;
  // Sides are checked here, once, whoever built them: the CLI maps its words without the domain's
  // name rules (the light client has none), so a bad side is refused by its text, not as missing.
  const request: DiffRequest = {
    ...asked,
    to: parseDiffSide(formatDiffSide(asked.to)),
    ...(asked.from ? { from: parseDiffSide(formatDiffSide(asked.from)) } : {}),
  };
  const verify = request.verify ?? false;
  const rows = request.rows ?? false;
  const askedSchema = request.schema ?? false;
  const askedData = request.data ?? false;
  const neither = !askedSchema && !askedData && !rows && !verify;
  const want = { schema: neither || askedSchema || verify, data: neither || askedData || rows, verify };
  if (request.limit !== undefined && (!Number.isInteger(request.limit) || request.limit < 0)) {
    throw new PgbranchError('INVALID_ARGUMENT', `limit must be a non-negative integer, got ${String(request.limit)}`, { details: { limit: request.limit } });
  }

  const started = performance.now();
  const p = await prepare(core, request, want);
  const timings: Record<string, number> = { prepareMs: performance.now() - started };
  let outcome: Awaited<ReturnType<typeof compare>> | undefined;
  let failure: unknown;
  try {
    outcome = await withoutLock(p.intent, () => compare(rt, p, want, request, timings));
  } catch (err) {
    failure = err;
  } finally {
    p.release();
  }
  crashPoint('diff:compared');
  const changed = await core.locked(async () => {
    const still = pendingIntents(rt.store).find((i) => i.id === p.intent.id);
    if (still?.kind === 'diff') await settleDiff(rt, still);
    // A side reset or deleted meanwhile: what was read may mix two generations of its data.
    return [p.from, p.to].flatMap((s) => (s.kind !== 'snapshot' && rt.store.getBranchById(s.branch.id)?.volume !== s.branch.volume ? [s.branch.name] : []));
  });
  if (changed.length > 0) {
    throw new PgbranchError('BRANCH_NOT_FOUND', `"${changed[0]}" was deleted or reset during the diff: run it again`, { cause: failure, details: { branch: changed[0] } });
  }
  if (failure !== undefined) throw failure;
  return {
    from: sideView(p.from),
    to: sideView(p.to),
    database: databaseOf(p.to),
    ...(outcome!.schema ? { schema: outcome!.schema } : {}),
    ...(outcome!.data ? { data: outcome!.data } : {}),
    timings: { ...(timings as { prepareMs: number }), totalMs: performance.now() - started },
  };
}
