import type { BranchRecord } from '../state/index.js';
import { audited, branchTarget, type Actor, type AuditTarget } from './audit.js';
import { removeBranchPoint } from './branch-point.js';
import type { HostCore } from './core.js';
import { isExpired } from './governance.js';
import { ownedVolumes } from './reconcile.js';
import { deleteAndForget, idleCandidates, suspendIfIdle } from './sessions.js';
import { discardWarmClone, staleWarmClones } from './warm.js';

/**
 * - orphan-staging: a clone or delete staged under a temporary name with no operation left.
 * - orphan-volume: a volume no branch owns, no instance on it.
 * - orphan-instance: the same with a postgres still running on it (killed, then removed).
 * - missing-volume: a branch whose volume is gone (removed behind pgbranch's back): there is no
 *   data left to serve, so its metadata is deleted (children are separate volumes, unaffected).
 * - expired: a branch past its expiry that is not protected (deleted like `branch delete`).
 * - idle-suspend: a running branch idle for its timeout (suspended).
 * - warm-discard: a warm clone that can no longer be claimed (its parent was written, stopped,
 *   deleted or taken off `warm.branches`); target is its volume.
 */
export type GcActionKind = 'orphan-staging' | 'orphan-volume' | 'orphan-instance' | 'missing-volume' | 'expired' | 'idle-suspend' | 'warm-discard';

export interface GcAction {
  readonly kind: GcActionKind;
  /** Volume name for orphans, branch name otherwise. */
  readonly target: string;
  /** False in a dry run (planned), true once carried out. */
  readonly done: boolean;
}

export interface GcReport {
  readonly dryRun: boolean;
  readonly actions: GcAction[];
}

/** What to act on, found under the host lock. */
interface PlannedGc {
  readonly kind: GcActionKind;
  readonly target: string;
  readonly branch?: BranchRecord;
  /** The intent of a warm clone to discard. */
  readonly warmIntentId?: number;
}

/**
 * Removes what the metadata and the pool disagree on, expired branches and idle instances. A dry
 * run only reports; a real run audits the whole run and each action.
 */
export async function runGc(core: HostCore, actor: Actor, dryRun: boolean, nowMs: number): Promise<GcReport> {
  const run = () =>
    core.locked(async () => {
      const planned = await planGc(core, nowMs);
      if (dryRun) return { dryRun, actions: planned.map((p): GcAction => ({ kind: p.kind, target: p.target, done: false })) };
      const actions: GcAction[] = [];
      for (const p of planned) {
        const target: AuditTarget = p.branch ? branchTarget(p.target) : { kind: 'host', name: p.target, details: { volume: p.target } };
        await audited(core.rt.store, actor, `gc:${p.kind}`, target, () => applyGc(core, p));
        actions.push({ kind: p.kind, target: p.target, done: true });
      }
      return { dryRun, actions };
    });
  // A dry run changes nothing, so it is not an audited mutation.
  return dryRun ? run() : audited(core.rt.store, actor, 'gc', { kind: 'host', name: 'gc' }, run);
}

/**
 * Finds what gc would do, changing nothing. Runs under the host lock, so no operation is in
 * flight and every unowned volume really is an orphan (reconcile at open already settled the
 * operations of crashed processes, which know their own volumes).
 */
async function planGc(core: HostCore, nowMs: number): Promise<PlannedGc[]> {
  const { rt } = core;
  const planned: PlannedGc[] = [];
  for (const name of await rt.storage.listStaging()) planned.push({ kind: 'orphan-staging', target: name });
  for (const warm of await staleWarmClones(rt)) planned.push({ kind: 'warm-discard', target: warm.volume, warmIntentId: warm.intentId });
  const branches = rt.store.listBranches();
  // Snapshot volumes are owned too (by their snapshot row), never orphans.
  const owned = ownedVolumes(rt);
  const volumes = await rt.storage.listVolumes();
  for (const volume of volumes) {
    if (owned.has(volume)) continue;
    planned.push({ kind: (await rt.isRunning(volume)) ? 'orphan-instance' : 'orphan-volume', target: volume });
  }
  const present = new Set(volumes);
  const missing = new Set<string>();
  for (const branch of branches) {
    if (present.has(branch.volume)) continue;
    missing.add(branch.id);
    planned.push({ kind: 'missing-volume', target: branch.name, branch });
  }
  for (const branch of branches) {
    if (missing.has(branch.id) || branch.protected || !isExpired(branch, nowMs)) continue;
    planned.push({ kind: 'expired', target: branch.name, branch });
  }
  const gone = new Set(planned.filter((p) => p.branch).map((p) => p.branch!.id));
  for (const branch of await idleCandidates(rt, core.activity, nowMs)) {
    if (!gone.has(branch.id)) planned.push({ kind: 'idle-suspend', target: branch.name, branch });
  }
  return planned;
}

async function applyGc(core: HostCore, p: PlannedGc): Promise<void> {
  const { rt } = core;
  switch (p.kind) {
    case 'orphan-staging':
      await rt.storage.removeStaging(p.target);
      return;
    case 'orphan-volume':
    case 'orphan-instance': {
      await rt.kill(p.target);
      await rt.storage.deleteVolume(p.target);
      // Volumes are named `<branch id>.<suffix>` (see volumeName): the socket dir and log of the
      // instance that ran on it go too, unless a branch still has that id.
      const branchId = p.target.split('.')[0]!;
      if (!rt.store.getBranchById(branchId)) await rt.removeBranchFiles(branchId);
      return;
    }
    case 'missing-volume':
      // One row delete: atomic without an intent; its run files are debris reconcile also removes.
      rt.store.deleteBranch(p.branch!.id);
      // Its branch point has nothing left to be compared with (else the next gc finds it orphaned).
      await removeBranchPoint(rt, p.branch!.volume);
      core.activity.forget(p.branch!.id);
      await rt.removeBranchFiles(p.branch!.id);
      return;
    case 'expired':
      await deleteAndForget(core, p.branch!);
      return;
    case 'idle-suspend':
      await suspendIfIdle(core, p.branch!.id);
      return;
    case 'warm-discard':
      await discardWarmClone(rt, p.warmIntentId!);
      return;
  }
}
