import { randomBytes } from 'node:crypto';
import { copyFromUrl, initCluster, prepareDirectory, restoreDump, redactUrl, writeHba } from '../postgres/index.js';
import type { BranchRecord, NewBranch } from '../state/index.js';
import { failpoint } from '../util/failpoint.js';
import { bringUpClone, cloneConsistent, openTcp } from './clone.js';
import { applyVolumeLimit } from './quotas.js';
import type { ProgressSink, Runtime } from './runtime.js';

/** Where a root branch's data comes from. */
export type RootSource = { readonly kind: 'empty' } | { readonly kind: 'dump'; readonly file: string } | { readonly kind: 'url'; readonly url: string };

export function newBranchId(): string {
  return `br-${randomBytes(5).toString('hex')}`;
}

/** 144 bits, URL-safe alphabet: needs no escaping in a connection URI. */
export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** A new volume name per generation: reset swaps generations, never rewrites one in place. */
export function volumeName(branchId: string): string {
  return `${branchId}.${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

interface Planned {
  readonly id: string;
  readonly name: string;
  readonly volume: string;
  readonly port: number;
  readonly password: string;
  readonly dbUser: string;
  readonly dbName: string;
}

async function plan(rt: Runtime, name: string, from?: { dbUser: string; dbName: string }): Promise<Planned> {
  const id = newBranchId();
  return {
    id,
    name,
    volume: volumeName(id),
    port: await rt.allocatePort(),
    password: newPassword(),
    dbUser: from?.dbUser ?? rt.config.defaults.dbUser,
    dbName: from?.dbName ?? rt.config.defaults.dbName,
  };
}

/** What a cloned branch records besides its plan: where it came from and its branch point. */
export type CloneOrigin = Pick<NewBranch, 'parentId' | 'parentName' | 'source'> & Partial<Pick<NewBranch, 'parentSnapshotId'>>;

/** Settings every new branch is made with, resolved by the caller before anything is made. */
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
export async function createClone(
  rt: Runtime,
  name: string,
  from: { dbUser: string; dbName: string },
  origin: CloneOrigin,
  settings: NewBranchSettings,
  intentData: Record<string, unknown>,
  clone: (volume: string) => Promise<{ branchTime: string }>,
  branchPoint: (reported: { branchLsn: string; branchTime: string }) => { branchLsn: string; branchTime: string } = (r) => r,
): Promise<BranchRecord> {
  const p = await plan(rt, name, from);
  const opId = rt.store.beginOperation({
    kind: 'create',
    branchId: p.id,
    branchName: name,
    step: 'intent',
    data: { volume: p.volume, port: p.port, ...intentData },
  });
  failpoint('create:intent');
  const { branchTime } = await clone(p.volume);
  await applyVolumeLimit(rt, p.volume, settings.maxOwnBytes);
  rt.store.advanceOperation(opId, 'cloned');
  failpoint('create:cloned');
  const { branchLsn } = await bringUpClone(rt, p, p.volume);
  failpoint('create:started');
  rt.store.transaction(() => {
    rt.store.insertBranch({ ...p, ...origin, ...settings, desiredState: 'running', ...branchPoint({ branchLsn, branchTime }) });
    rt.store.finishOperation(opId);
  });
  failpoint('create:committed');
  return rt.store.getBranchById(p.id)!;
}

/** Child branch: a consistent CoW clone of `parent`, with its own port and password. */
export function createChild(rt: Runtime, name: string, parent: BranchRecord, settings: NewBranchSettings): Promise<BranchRecord> {
  return createClone(
    rt,
    name,
    parent,
    { parentId: parent.id, parentName: parent.name, source: JSON.stringify({ kind: 'branch' }) },
    settings,
    { parentId: parent.id },
    (volume) => cloneConsistent(rt, parent, volume),
  );
}

/** Root branch: a new cluster (initdb), optionally filled from a dump file or a live server. */
export async function createRoot(
  rt: Runtime,
  name: string,
  source: RootSource,
  settings: NewBranchSettings,
  onProgress?: ProgressSink,
): Promise<BranchRecord> {
  const p = await plan(rt, name);
  const opId = rt.store.beginOperation({
    kind: 'create',
    branchId: p.id,
    branchName: name,
    step: 'intent',
    data: { volume: p.volume, port: p.port, root: true },
  });
  failpoint('create:intent');
  await rt.storage.createVolume(p.volume);
  await applyVolumeLimit(rt, p.volume, settings.maxOwnBytes);
  const dataDir = rt.dataDir(p.volume);
  await prepareDirectory(dataDir, rt.osUser, 0o700);
  onProgress?.({ phase: 'initdb', message: `initialising PostgreSQL ${rt.binaries.version} cluster` });
  await initCluster({
    binaries: rt.binaries,
    dataDir,
    osUser: rt.osUser,
    superuser: p.dbUser,
    superuserPassword: p.password,
    database: p.dbName,
  });
  rt.store.advanceOperation(opId, 'initialised');
  failpoint('create:initialised');
  // TCP stays closed until the import is done, so nobody sees a half-imported root.
  await writeHba(dataDir, { allowTcp: false });
  await rt.start(p.id, p.volume, p.port);
  const target = rt.adminTarget(p, p.dbName);
  let recordedSource: Record<string, unknown> = { kind: 'empty' };
  if (source.kind === 'dump') {
    const result = await restoreDump({ file: source.file, target, onProgress });
    recordedSource = { kind: 'dump', file: source.file, format: result.format };
  } else if (source.kind === 'url') {
    await copyFromUrl({ sourceUrl: source.url, target, onProgress });
    recordedSource = { kind: 'url', url: redactUrl(source.url) };
  }
  rt.store.advanceOperation(opId, 'imported');
  failpoint('create:imported');
  await openTcp(rt, p, p.volume);
  rt.store.transaction(() => {
    rt.store.insertBranch({
      ...p,
      ...settings,
      parentId: null,
      parentName: null,
      desiredState: 'running',
      source: JSON.stringify(recordedSource),
      branchLsn: null,
      branchTime: null,
    });
    rt.store.finishOperation(opId);
  });
  failpoint('create:committed');
  return rt.store.getBranchById(p.id)!;
}
