import { copyFromUrl, initCluster, prepareDirectory, writeHba } from '../../postgres/index.js';
import type { BranchRecord } from '../../state/index.js';
import { PgbranchError, isPgbranchError, type ErrorCode } from '../../errors.js';
import { log, runHooks } from '../../util/index.js';
import { HOST_ACTOR, audited, branchTarget, type Actor } from '../audit.js';
import { openTcp } from '../clone.js';
import type { HostCore } from '../core.js';
import { crashPoint } from '../crash-points.js';
import { volumeName } from '../ids.js';
import { beginIntent, pendingIntents, resumeIntent, withoutLock, type IntentFor } from '../intents.js';
import { assertPoolRoom } from '../pool-room.js';
import { applyVolumeLimit } from '../quotas.js';
import type { ProgressSink, Runtime } from '../runtime.js';
import { findBranch } from '../lookup.js';
import { loadSourceUrl } from '../source-secrets.js';
import { remaskRules } from './mask.js';
import { resetBranch } from './reset.js';

export const REFRESH_POINTS = ['refresh:intent', 'refresh:initialised', 'refresh:imported', 'refresh:swapped', 'refresh:old-deleted'] as const;

export interface RefreshOptions {
  /**
   * Shell commands run on the new generation before anyone sees it (migrations, masking), with
   * DATABASE_URL pointing at it over the branch's private socket; a failing one cancels the refresh.
   */
  readonly hooks?: readonly string[];
  readonly hookOutput?: NodeJS.WritableStream;
  readonly onProgress?: ProgressSink;
  /** Who asked (audited on each re-mask of a masked branch); default the host itself (schedule). */
  readonly actor?: Actor;
}

/**
 * A masked branch of the refreshed root after the refresh: re-masked from the new data with the
 * rules it was masked with, or left on its old masked data (the fail-closed check refused the new
 * data, or anything else failed) with the error's code and message.
 */
export type RemaskOutcome =
  | { readonly branch: string; readonly remasked: true; readonly rulesSha256: string }
  | { readonly branch: string; readonly remasked: false; readonly code: ErrorCode; readonly message: string };

export interface RefreshResult {
  readonly root: BranchRecord;
  /** One entry per masked branch of the root that kept its rules (made with --mask from it). */
  readonly remasked: readonly RemaskOutcome[];
}

/** The temporary instance of a new generation: own socket dir and log, a port of its own. */
function nextOwner(root: BranchRecord, port: number) {
  return { id: `${root.id}.next`, port, pgMajor: root.pgMajor };
}

/**
 * A logical refresh of a root: its source is imported again into a new generation (a new volume,
 * its own temporary instance with TCP closed), after-refresh hooks run on it, and it is switched
 * in atomically — same name, port, password and URL; branches made before keep the data they
 * were made from (they are volumes of their own). The import, the long part, runs without the
 * host lock so that branches can be made meanwhile. Intent first; a crash or failure before the
 * switch leaves the old generation current, one after it only the old volume to remove.
 */
export async function refreshRoot(core: HostCore, name: string, options: RefreshOptions = {}): Promise<RefreshResult> {
  const root = await refreshGeneration(core, name, options);
  return { root, remasked: await remaskBranchesOf(core, root, options) };
}

/**
 * "Mask once, refresh many": every masked branch made from the root with --mask (it keeps its
 * rules) is re-masked from the new generation, one reset each (own intent, own lock, own audit
 * entry), so that it is as fresh as the root. A branch whose re-mask fails keeps its old masked
 * data — never unmasked data — and the outcome says why (e.g. MASK_UNCOVERED_COLUMNS: a column
 * added upstream without a rule); the others go on.
 */
async function remaskBranchesOf(core: HostCore, root: BranchRecord, options: RefreshOptions): Promise<RemaskOutcome[]> {
  const { rt } = core;
  // Those a plain reset re-masks (remaskRules: masked by themselves, rules kept).
  const masked = rt.store.listBranches().filter((b) => b.parentId === root.id && remaskRules(rt, b) !== undefined);
  const outcomes: RemaskOutcome[] = [];
  for (const { name } of masked) {
    options.onProgress?.({ phase: 'mask', message: `re-masking ${name} from the new generation of ${root.name}` });
    try {
      const done = await core.locked(async () => {
        const branch = findBranch(rt, name);
        const details = { mask: branch.maskedRulesSha256, after: 'source-refresh', root: root.name };
        return audited(rt.store, options.actor ?? HOST_ACTOR, 'reset', branchTarget(name, details), () => resetBranch(rt, branch));
      });
      outcomes.push({ branch: name, remasked: true, rulesSha256: done.maskedRulesSha256! });
    } catch (err) {
      const code: ErrorCode = isPgbranchError(err) ? err.code : 'INTERNAL';
      log.warn({ branch: name, root: root.name, code }, 'masked branch not re-masked after the refresh; it keeps its old masked data');
      outcomes.push({ branch: name, remasked: false, code, message: (err as Error).message });
    }
  }
  return outcomes;
}

async function refreshGeneration(core: HostCore, name: string, options: RefreshOptions): Promise<BranchRecord> {
  const { rt } = core;
  const started = await core.locked(async () => {
    const root = findBranch(rt, name);
    const source = rt.store.getSource(root.id);
    if (!source || source.mode !== 'refresh') {
      throw new PgbranchError(
        'NOT_A_SOURCE_ROOT',
        source?.mode === 'follow'
          ? `"${name}" follows its source continuously: it needs no refresh`
          : `"${name}" was not made from a live server (--from-url), so there is nothing to refresh it from`,
        { details: { branch: name } },
      );
    }
    if (pendingIntents(rt.store).some((i) => i.kind === 'refresh' && i.subject.id === root.id)) {
      throw new PgbranchError('HOST_BUSY', `a refresh of "${name}" is already running`, { details: { branch: name } });
    }
    const url = await loadSourceUrl(rt, root.id, name);
    // A new generation is new data: refused (POOL_FULL) below the floor, not left to fail with
    // ENOSPC in the middle of its initdb or restore.
    await assertPoolRoom(rt, 'new-data', `refresh "${name}"`);
    const newVolume = volumeName(root.id);
    const port = await rt.allocatePort();
    const intent = beginIntent(rt.store, 'refresh', root, { oldVolume: root.volume, newVolume, port });
    crashPoint('refresh:intent');
    await rt.storage.createVolume(newVolume);
    await applyVolumeLimit(rt, newVolume, root.maxOwnBytes);
    const dataDir = rt.dataDir(newVolume);
    await prepareDirectory(dataDir, rt.osUser, 0o700);
    options.onProgress?.({ phase: 'initdb', message: `new generation of ${name}` });
    // Same superuser, password and database as the current generation: the URL stays valid.
    await initCluster({ binaries: await rt.binariesFor(root.pgMajor), dataDir, osUser: rt.osUser, superuser: root.dbUser, superuserPassword: root.password, database: root.dbName });
    await writeHba(dataDir, { allowTcp: false });
    intent.advance('initialised');
    crashPoint('refresh:initialised');
    await rt.start(nextOwner(root, port), newVolume);
    return { root, url, newVolume, port, intent };
  });
  const { root, url, newVolume, port, intent } = started;
  const owner = nextOwner(root, port);
  try {
    await withoutLock(intent, async () => {
      await copyFromUrl({ sourceUrl: url, target: rt.adminTarget({ ...owner, dbUser: root.dbUser }, root.dbName), onProgress: options.onProgress });
      if (options.hooks && options.hooks.length > 0) {
        const socketUrl = `postgresql://${encodeURIComponent(root.dbUser)}@/${encodeURIComponent(root.dbName)}?host=${encodeURIComponent(rt.socketDir(owner.id))}&port=${port}`;
        const run = await runHooks({ commands: options.hooks, env: { DATABASE_URL: socketUrl, PGBRANCH_BRANCH: name, PGBRANCH_GENERATION: 'next' }, output: options.hookOutput });
        if (run.failure) {
          const { step, outputTail } = run.failure;
          throw new PgbranchError('HOOK_FAILED', `after-refresh hook "${step.command}" failed (exit ${step.exitCode ?? step.signal}); "${name}" keeps its current data\n${outputTail.trimEnd()}`, {
            details: { branch: name, command: step.command, exitCode: step.exitCode, signal: step.signal, output: outputTail },
          });
        }
      }
    });
  } catch (err) {
    // Undone under the lock by the same settle function a crash would get.
    await core.locked(async () => {
      const still = pendingIntents(rt.store).find((i) => i.id === intent.id);
      if (still?.kind === 'refresh') await settleRefresh(rt, still);
    });
    throw err;
  }
  intent.advance('imported');
  crashPoint('refresh:imported');
  return core.locked(async () => {
    const current = rt.store.getBranchById(root.id);
    if (!current || current.volume !== root.volume) {
      // Deleted or reset meanwhile: the new generation belongs to nobody.
      const still = pendingIntents(rt.store).find((i) => i.id === intent.id);
      if (still?.kind === 'refresh') await settleRefresh(rt, still);
      throw new PgbranchError('BRANCH_NOT_FOUND', `"${name}" was deleted or reset during its refresh; the new generation was discarded`, { details: { branch: name } });
    }
    await rt.stop(newVolume).catch(() => rt.kill(newVolume));
    await rt.stop(root.volume);
    await rt.start(current, newVolume);
    await openTcp(rt, current, newVolume);
    // A stopped root stays stopped, its new instance down before the swap (as in reset): from the
    // swap on a crash rolls forward, and no process may be left on a stopped branch's volume.
    if (current.desiredState !== 'running') await rt.stop(newVolume);
    const source = rt.store.getSource(root.id)!;
    rt.store.transaction(() => {
      rt.store.replaceVolume(root.id, { volume: newVolume, branchLsn: null, branchTime: new Date().toISOString() });
      rt.store.updateSource(root.id, { generation: source.generation + 1, lastRefreshAt: new Date().toISOString() });
      intent.advance('swapped');
    });
    crashPoint('refresh:swapped');
    await rt.storage.deleteVolume(root.volume);
    crashPoint('refresh:old-deleted');
    intent.finish();
    await rt.removeBranchFiles(owner.id);
    return rt.store.getBranchById(root.id)!;
  });
}

/** Settle: before the switch the old generation stays and the new one goes; after it, the old one goes. */
export async function settleRefresh(rt: Runtime, intent: IntentFor<'refresh'>): Promise<'rolled-back' | 'rolled-forward'> {
  const { oldVolume, newVolume } = intent.data;
  const swapped = rt.store.getBranchById(intent.subject.id)?.volume === newVolume;
  const discard = swapped ? oldVolume : newVolume;
  await rt.kill(discard);
  await rt.storage.deleteVolume(discard);
  await rt.removeBranchFiles(`${intent.subject.id}.next`);
  resumeIntent(rt.store, intent).finish();
  return swapped ? 'rolled-forward' : 'rolled-back';
}
