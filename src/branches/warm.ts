import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, scramSha256VerifierAsync, setRoleVerifier, walPosition, withClient, writeHba, type Client } from '../postgres/index.js';
import type { BranchRecord, NewBranch } from '../state/index.js';
import { log } from '../util/index.js';
import { removeBranchPoint, takeBranchPoint } from './branch-point.js';
import { cloneConsistent, openTcp } from './clone.js';
import type { HostCore } from './core.js';
import { crashPoint } from './crash-points.js';
import { newBranchId, newPassword, volumeName } from './ids.js';
import { beginIntent, holdIntent, isAbandoned, pendingIntents, releaseIntent, resumeIntent, withoutLock, type IntentFor } from './intents.js';
import { isAlive } from './process-alive.js';
import { applyVolumeLimit } from './quotas.js';
import type { Runtime } from './runtime.js';

/**
 * Warm clones: clones of a hot parent (config `warm.branches`) made and started ahead of time, so
 * that a create from that parent costs a password change instead of a snapshot and a start.
 *
 * A warm clone is not a branch: it has no branch row, so it is in no list, metric, quota or
 * audit entry. It exists as a `warm` intent (its volume, port and the parent's WAL insert
 * position when it was snapshotted), which is what makes it owned (gc leaves its volume alone)
 * and what settles it after a crash (reconcile discards it once its process is gone). It is never
 * stale: a create claims one only while the parent's insert position is still the recorded one
 * — any write moves it — and the claim turns the intent into a branch row in one transaction.
 *
 * Its instance runs from the start with TCP open under the password of the branch it will become:
 * a new random one, kept (sealed, as every branch password) in its intent and told to nobody
 * until a create claims the clone, so nobody can have a session in it before. The claim then
 * needs no round trip to the clone: one read of the parent's position (over a connection kept to
 * the parent) and one transaction.
 */

/** Crash points of making a warm clone and of claiming one, in order. */
export const WARM_POINTS = ['warm:intent', 'warm:cloned', 'warm:started', 'warm:ready', 'warm:claiming'] as const;

/**
 * The application name of the connection kept to a warm parent (to read its WAL position): no
 * use of the parent, so the idle sweep does not count it (see sessions.ts).
 */
export const KEPT_APPLICATION_NAME = 'pgbranch-kept';

/** How warm clones are named in the intent log (never a branch name: `:` is not allowed in those). */
const warmSubjectName = (parentName: string): string => `warm:${parentName}`;

/** A ready warm clone, as its intent records it. */
interface WarmClone {
  readonly intent: IntentFor<'warm'>;
  readonly id: string;
  readonly volume: string;
  readonly port: number;
  readonly parentId: string;
  readonly parentLsn: string;
  readonly branchLsn: string;
  /** The password the clone's instance already has: the claiming branch's. */
  readonly password: string;
}

function warmIntents(rt: Runtime): IntentFor<'warm'>[] {
  return pendingIntents(rt.store).filter((i): i is IntentFor<'warm'> => i.kind === 'warm');
}

/** Ready warm clones (of `parentId` if given) whose process still lives (the others await reconcile). */
function readyWarmClones(rt: Runtime, parentId?: string): WarmClone[] {
  return warmIntents(rt)
    .filter((i) => i.step === 'ready' && (parentId === undefined || i.data.parentId === parentId) && !isAbandoned(i, isAlive))
    .flatMap((i) => {
      const { parentLsn, branchLsn, password } = i.data;
      // A clone made by an older pgbranch records no password and cannot be claimed; its maker (a
      // process of that older release) is gone, so reconcile discards it at the next open.
      return parentLsn && branchLsn && password
        ? [{ intent: i, id: i.subject.id, volume: i.data.volume, port: i.data.port, parentId: i.data.parentId, parentLsn, branchLsn, password }]
        : [];
    });
}

/**
 * Connections kept to warm parents by this process, for their WAL position: a claim reads it in
 * one round trip instead of a connection set-up (a backend start) each time. Keyed by parent id;
 * a connection to another generation of the parent (a reset or refresh changed its volume or port)
 * or one the server ended (a stop, a restart) is replaced.
 */
const parentClients = new Map<string, { readonly at: string; readonly client: Promise<Client> }>();

function dropParentClient(parentId: string): void {
  const kept = parentClients.get(parentId);
  parentClients.delete(parentId);
  void kept?.client.then((c) => c.end()).catch(() => undefined);
}

/** The parent's WAL insert position now, or undefined when it is not running (no warm path then). */
async function parentInsertLsn(rt: Runtime, parent: BranchRecord): Promise<string | undefined> {
  if (rt.store.getSource(parent.id)?.mode === 'follow') return undefined;
  const at = `${parent.volume}:${parent.port}`;
  const kept = parentClients.get(parent.id);
  if (kept?.at === at) {
    // An answer proves the parent runs; none means it stopped or restarted since: look again.
    const lsn = await kept.client.then(walPosition).then(
      (position) => position.insertLsn,
      () => undefined,
    );
    if (lsn !== undefined) return lsn;
  }
  if (parentClients.get(parent.id) === kept) dropParentClient(parent.id);
  if (!(await rt.isRunning(parent.volume))) return undefined;
  // Another read (the refill beside a claim) may have opened one meanwhile: one per parent.
  let entry = parentClients.get(parent.id);
  if (entry?.at !== at) {
    dropParentClient(parent.id);
    entry = { at, client: connect(rt.adminTarget(parent), { applicationName: KEPT_APPLICATION_NAME }) };
    entry.client.catch(() => undefined);
    parentClients.set(parent.id, entry);
  }
  return (await walPosition(await entry.client)).insertLsn;
}

/** What the claim needs to know about the branch it makes. */
export interface WarmClaimRequest {
  readonly name: string;
  /** The row fields a child takes from its parent and its create (see childFields in create.ts). */
  readonly fields: Omit<NewBranch, 'id' | 'name' | 'volume' | 'port' | 'password' | 'branchLsn' | 'branchTime' | 'desiredState'>;
  readonly maxOwnBytes: number | null;
}

/**
 * Claims a ready, fresh warm clone of `parent` as branch `request.name` (the caller, a create,
 * holds the host lock), or returns undefined and the create takes the normal path: no warm clone,
 * the parent not running, or the parent written since every warm clone was made (those stay for
 * the refill or gc to discard: discarding them here would slow this create).
 *
 * The claim: the size cap, then branch row and end of the warm intent in one transaction. The
 * clone already runs under the password recorded for the branch it becomes. A crash before the
 * commit leaves a warm intent of a dead process, which reconcile discards; a create never
 * half-claims.
 */
export async function claimWarmClone(rt: Runtime, parent: BranchRecord, request: WarmClaimRequest): Promise<BranchRecord | undefined> {
  const candidates = readyWarmClones(rt, parent.id);
  if (candidates.length === 0) return undefined;
  const lsn = await parentInsertLsn(rt, parent).catch(() => undefined);
  const warm = candidates.filter((w) => w.parentLsn === lsn).reduce<WarmClone | undefined>((a, b) => (a && a.intent.id > b.intent.id ? a : b), undefined);
  if (!warm) return undefined;
  try {
    await applyVolumeLimit(rt, warm.volume, request.maxOwnBytes);
  } catch (err) {
    // A warm clone that cannot be claimed is of no use: it goes, and the create takes the normal path.
    log.warn({ volume: warm.volume, err: (err as Error).message }, 'claiming a warm clone failed; discarded');
    await discard(rt, warm.intent);
    return undefined;
  }
  crashPoint('warm:claiming');
  rt.store.transaction(() => {
    rt.store.insertBranch({
      ...request.fields,
      id: warm.id,
      name: request.name,
      volume: warm.volume,
      port: warm.port,
      password: warm.password,
      desiredState: 'running',
      // The clone holds the parent's state now (its insert position has not moved since the
      // snapshot): the branch point is the clone's own first checkpoint, and the time is now.
      branchLsn: warm.branchLsn,
      branchTime: new Date().toISOString(),
    });
    resumeIntent(rt.store, warm.intent).finish();
  });
  releaseIntent(warm.intent.id);
  crashPoint('create:committed');
  return rt.store.getBranchById(warm.id)!;
}

/** Closes every connection kept to a warm parent (the host is closed). */
export function closeKeptClients(): void {
  for (const id of [...parentClients.keys()]) dropParentClient(id);
}

/**
 * Makes one warm clone of `parent`: intent and snapshot under the host lock (the parent must not
 * change while it is checkpointed and snapshotted), the start and the branch point without it
 * (only the clone's own volume is touched; a create meanwhile takes the normal path). Returns
 * whether a ready clone was made; a clone whose parent had unflushed WAL at the snapshot is not
 * (it could not be proven fresh) and is discarded at once.
 */
export async function makeWarmClone(core: HostCore, parentName: string): Promise<boolean> {
  const { rt } = core;
  const made = await core.locked(async () => {
    const parent = rt.store.getBranchByName(parentName);
    if (!parent || !(await rt.isRunning(parent.volume)) || rt.store.getSource(parent.id)?.mode === 'follow') return undefined;
    const id = newBranchId();
    const volume = volumeName(id);
    const port = await rt.allocatePort();
    const intent = beginIntent(rt.store, 'warm', { id, name: warmSubjectName(parent.name) }, { volume, port, parentId: parent.id });
    crashPoint('warm:intent');
    try {
      const cloned = await cloneConsistent(rt, parent, volume, { wantParentLsn: true });
      if (cloned.parentLsn === undefined) throw new Error('the parent had WAL not yet on disk at the snapshot');
      intent.advance('cloned', { volume, port, parentId: parent.id, parentLsn: cloned.parentLsn });
      crashPoint('warm:cloned');
      return { parent, id, volume, port, intent, parentLsn: cloned.parentLsn };
    } catch (err) {
      await discard(rt, (await readIntent(rt, intent.id))!);
      throw err;
    }
  });
  if (!made) return false;
  const { parent, id, volume, port, intent, parentLsn } = made;
  try {
    const password = newPassword();
    const branchLsn = await withoutLock(intent, () => bringUpWarm(rt, parent, { id, volume, port }, password));
    intent.advance('ready', { volume, port, parentId: parent.id, parentLsn, branchLsn, password, madeAt: new Date().toISOString() });
    holdIntent(intent.id);
    crashPoint('warm:ready');
    return true;
  } catch (err) {
    await core.locked(async () => {
      const recorded = await readIntent(rt, intent.id);
      if (recorded) await discard(rt, recorded);
    });
    throw err;
  }
}

async function readIntent(rt: Runtime, id: number): Promise<IntentFor<'warm'> | undefined> {
  return warmIntents(rt).find((i) => i.id === id);
}

/**
 * Starts a warm clone as a create starts a child, with TCP open under the password of the branch
 * it will become (see the file comment), and keeps its branch point. Returns its branch LSN.
 */
async function bringUpWarm(rt: Runtime, parent: BranchRecord, warm: { id: string; volume: string; port: number }, password: string): Promise<string> {
  const dataDir = rt.dataDir(warm.volume);
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  await rm(join(dataDir, 'postmaster.opts'), { force: true });
  await writeHba(dataDir, { allowTcp: false });
  const verifier = scramSha256VerifierAsync(password);
  verifier.catch(() => undefined);
  const owner = { id: warm.id, port: warm.port, pgMajor: parent.pgMajor, dbUser: parent.dbUser, dbName: parent.dbName, volume: warm.volume };
  await rt.start(owner, warm.volume);
  crashPoint('warm:started');
  // In the branch's database, as bringUpClone does (its relation cache file is built once).
  const { branchLsn, catalogFiles } = await withClient(rt.adminTarget(owner, owner.dbName), async (client) => {
    await setRoleVerifier(client, parent.dbUser, await verifier);
    const { rows } = await client.query<{ lsn: string }>('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()');
    return { branchLsn: rows[0]!.lsn, catalogFiles: await catalogFilesOf(client) };
  });
  await openTcp(rt, { ...owner, password }, warm.volume);
  await takeBranchPoint(rt, owner);
  await readIntoCache(dataDir, catalogFiles);
  return branchLsn;
}

/**
 * The files of the catalogs a session of this database reads (its own and the shared ones),
 * relative to the data directory. The warm clone reads them once (readIntoCache), so that the
 * first session of the branch it becomes finds them in the page cache. A snapshot's files are new
 * inodes with a cold page cache of their own, and a fresh backend looks up a dozen catalogs
 * (names, columns, types, operators, statistics) for its first query: measured here, that query
 * took ~4 ms cold against ~1.7 ms with the pages cached. A few MiB, read in the background while
 * the clone is made; the user's own tables are left as they are (a first query of any table pays
 * its own pages, on every path).
 */
async function catalogFilesOf(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ path: string }>(
    `SELECT pg_relation_filepath(c.oid) AS path FROM pg_class c
      WHERE c.relnamespace IN ('pg_catalog'::regnamespace, 'pg_toast'::regnamespace) AND c.relkind IN ('r', 'i', 't')
        AND c.oid < 16384 AND pg_relation_filepath(c.oid) IS NOT NULL`,
  );
  return rows.map((r) => r.path);
}

/** Reads each file once, to leave its pages in the page cache. */
async function readIntoCache(dataDir: string, files: readonly string[]): Promise<void> {
  const buffer = Buffer.allocUnsafe(256 * 1024);
  for (const file of files) {
    const handle = await open(join(dataDir, file), 'r').catch(() => undefined);
    if (!handle) continue; // a relation without a file yet
    try {
      while ((await handle.read(buffer, 0, buffer.length, null)).bytesRead > 0);
    } finally {
      await handle.close();
    }
  }
}

/** Removes a warm clone and everything it made, and ends its intent (idempotent). */
async function discard(rt: Runtime, intent: IntentFor<'warm'>): Promise<void> {
  const { volume } = intent.data;
  await rt.kill(volume);
  await rt.storage.deleteVolume(volume);
  await removeBranchPoint(rt, volume);
  if (!rt.store.getBranchById(intent.subject.id)) await rt.removeBranchFiles(intent.subject.id);
  resumeIntent(rt.store, intent).finish();
  releaseIntent(intent.id);
}

/** Settle (reconcile): a warm clone whose process is gone is discarded; a claim never committed did not happen. */
export async function settleWarm(rt: Runtime, intent: IntentFor<'warm'>): Promise<'rolled-back'> {
  await discard(rt, intent);
  return 'rolled-back';
}

/** Why a ready warm clone should go, or undefined while it may still be claimed. */
async function staleness(rt: Runtime, warm: WarmClone, lsnOf: (parent: BranchRecord) => Promise<string | undefined>): Promise<string | undefined> {
  const parent = rt.store.getBranchById(warm.parentId);
  if (!parent) return 'parent deleted';
  if (!rt.config.warm.branches.includes(parent.name) || rt.config.warm.size === 0) return 'parent no longer warm';
  const lsn = await lsnOf(parent).catch(() => undefined);
  if (lsn === undefined) return 'parent not running';
  if (lsn !== warm.parentLsn) return 'parent written since';
  return undefined;
}

/** Memoises the parent's insert position for one pass (each parent is asked once). */
function lsnReader(rt: Runtime): (parent: BranchRecord) => Promise<string | undefined> {
  const seen = new Map<string, Promise<string | undefined>>();
  return (parent) => {
    let lsn = seen.get(parent.id);
    if (!lsn) seen.set(parent.id, (lsn = parentInsertLsn(rt, parent)));
    return lsn;
  };
}

/** Stale ready warm clones, for gc (`warm-discard`), with the volume each one is on. */
export async function staleWarmClones(rt: Runtime): Promise<{ volume: string; intentId: number; reason: string }[]> {
  const lsnOf = lsnReader(rt);
  const out: { volume: string; intentId: number; reason: string }[] = [];
  for (const warm of readyWarmClones(rt)) {
    const reason = await staleness(rt, warm, lsnOf);
    if (reason) out.push({ volume: warm.volume, intentId: warm.intent.id, reason });
  }
  return out;
}

/** Discards the warm clone recorded by intent `intentId` (gc, under the host lock), if still there. */
export async function discardWarmClone(rt: Runtime, intentId: number): Promise<void> {
  const intent = await readIntent(rt, intentId);
  if (intent) await discard(rt, intent);
}

/** Discards every warm clone this process made (serve shutdown). */
export async function discardOwnWarmClones(core: HostCore): Promise<number> {
  return core.locked(async () => {
    const own = warmIntents(core.rt).filter((i) => i.pid === process.pid);
    for (const intent of own) await discard(core.rt, intent);
    return own.length;
  });
}

/**
 * The serving process's refill, run periodically: discards stale warm clones, then makes one
 * warm clone per hot parent that has fewer than `warm.size` and whose insert position has not
 * moved since the previous pass (`quiet`, kept by the caller between passes). Returns what it did.
 */
export async function refillWarmClones(core: HostCore, quiet: Map<string, string>): Promise<{ made: number; discarded: number }> {
  const { rt } = core;
  const { branches, size } = rt.config.warm;
  let discarded = 0;
  let made = 0;
  // A parent taken off the list (or deleted) keeps no connection of ours.
  const warmIds = new Set(branches.flatMap((name) => rt.store.getBranchByName(name)?.id ?? []));
  for (const id of [...parentClients.keys()]) if (size === 0 || !warmIds.has(id)) dropParentClient(id);
  await core.locked(async () => {
    const lsnOf = lsnReader(rt);
    for (const warm of readyWarmClones(rt)) {
      const reason = await staleness(rt, warm, lsnOf);
      if (!reason) continue;
      log.debug({ volume: warm.volume, reason }, 'discarding a stale warm clone');
      await discard(rt, warm.intent);
      discarded++;
    }
  });
  for (const name of branches) {
    const parent = rt.store.getBranchByName(name);
    if (!parent || size === 0) continue;
    const lsn = await parentInsertLsn(rt, parent).catch(() => undefined);
    const wasQuiet = lsn !== undefined && quiet.get(parent.id) === lsn;
    if (lsn === undefined) quiet.delete(parent.id);
    else quiet.set(parent.id, lsn);
    // Made or under way (an intent of a live process): not yet ready ones count too.
    const have = warmIntents(rt).filter((i) => i.data.parentId === parent.id && !isAbandoned(i, isAlive)).length;
    if (!wasQuiet || have >= size) continue;
    if (await makeWarmClone(core, name)) made++;
    // The snapshot's checkpoint (if any) moved the insert position: that is not a write.
    const after = await parentInsertLsn(rt, parent).catch(() => undefined);
    if (after !== undefined) quiet.set(parent.id, after);
  }
  return { made, discarded };
}
