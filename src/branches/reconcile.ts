import { readdir } from 'node:fs/promises';
import type { BranchRecord } from '../state/index.js';
import { log } from '../util/index.js';
import { branchPointVolume } from './branch-point.js';
import { isAlive } from './process-alive.js';
import { isAbandoned, pendingIntents, type Intent } from './intents.js';
import { SETTLE, type Settled } from './operations/index.js';
import type { Runtime } from './runtime.js';

export interface ReconcileReport {
  readonly rolledBack: string[];
  readonly rolledForward: string[];
  readonly stagingRemoved: string[];
  readonly instancesStarted: string[];
}

/**
 * Brings metadata, volumes and processes back into agreement after a crash or a reboot. Runs
 * under the host lock, so every intent found belongs to a process that died part-way (or to an
 * operation that just failed in this one). Order matters: settle interrupted operations first
 * (they know which volumes are theirs), then remove staging debris and report (not remove: that
 * is `gc`'s job) volumes no branch owns, then start what should be running and stop what should not.
 */
export async function reconcile(rt: Runtime): Promise<ReconcileReport> {
  const report: ReconcileReport = { rolledBack: [], rolledForward: [], stagingRemoved: [], instancesStarted: [] };

  for (const intent of pendingIntents(rt.store).filter((i) => isAbandoned(i, isAlive))) {
    const settled = await settle(rt, intent);
    (settled === 'rolled-back' ? report.rolledBack : report.rolledForward).push(`${intent.kind} ${intent.subject.name} (at ${intent.step})`);
  }

  // Clones and deletes are staged under temporary names; outside an operation (we hold the lock)
  // any left are debris of a crash. No instance ever runs on a staging entry.
  for (const name of await rt.storage.listStaging()) {
    await rt.storage.removeStaging(name);
    report.stagingRemoved.push(name);
  }

  // Volumes no branch owns outside any operation were not made by an interrupted pgbranch call
  // (those are settled above): someone put them there or removed a branch's metadata by hand.
  // They are only reported here; `pgbranch gc` shows and removes them, so that a dry run can
  // show them first and an open never deletes data nobody asked to delete.
  // Read once (settling is over): each read of 1,000 branch rows costs ~30 ms.
  const branches = rt.store.listBranches();
  const owned = ownedVolumes(rt, branches);
  const orphans = (await rt.storage.listVolumes()).filter((v) => !owned.has(v));
  if (orphans.length > 0) log.warn({ volumes: orphans }, 'volumes without a branch: `pgbranch gc` removes them');

  // Run files of a branch's temporary instances (`<branch id>.<suffix>`) are the branch's too, and
  // those of an operation still under way (a diff's readers) are the operation's.
  const known = new Set([...branches.map((b) => b.id), ...pendingIntents(rt.store).map((i) => i.subject.id)]);
  for (const entry of await readdir(rt.paths.runDir).catch(() => [] as string[])) {
    if (!known.has(entry.split('.')[0]!)) await rt.removeBranchFiles(entry);
  }

  for (const branch of branches) {
    const running = await rt.isRunning(branch.volume);
    if (branch.desiredState !== 'running') {
      // A stopped branch has no process (an instance left by a crash, or started by hand).
      if (running) {
        await rt.stopOrKill(branch.volume).catch((err: unknown) => {
          log.warn({ branch: branch.name, err: (err as Error).message }, 'could not stop branch during reconcile');
        });
      }
      continue;
    }
    if (running) continue;
    try {
      await rt.start(branch, branch.volume);
      report.instancesStarted.push(branch.name);
    } catch (err) {
      // One branch that cannot start (port taken after a reboot, say) must not make the whole
      // host unusable; the branch shows as stopped and `branch start` reports the reason.
      log.warn({ branch: branch.name, err: (err as Error).message }, 'could not start branch during reconcile');
    }
  }
  if (report.rolledBack.length + report.rolledForward.length + report.stagingRemoved.length > 0) {
    log.info({ report }, 'reconciled host after an interrupted operation');
  }
  return report;
}

/** The table lookup: SETTLE's type ties each kind to the settle function of that kind's intent. */
function settle(rt: Runtime, intent: Intent): Promise<Settled> {
  const fn = SETTLE[intent.kind] as (rt: Runtime, intent: Intent) => Promise<Settled>;
  return fn(rt, intent);
}

/** Every volume an intent names (fields named like `volume`, `newVolume`, `volumes`). */
function intentVolumes(intent: Intent): string[] {
  return Object.entries(intent.data).flatMap(([key, value]) => {
    if (!/volume/i.test(key)) return [];
    return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
  });
}

/**
 * Volumes metadata accounts for: every branch's (and its branch point, if kept), every snapshot's,
 * every source's WAL archive, and the volumes of operations still under way (a refresh importing
 * without the host lock, a diff's throwaway clones).
 */
export function ownedVolumes(rt: Runtime, branches: readonly BranchRecord[] = rt.store.listBranches()): Set<string> {
  return new Set<string>([
    ...branches.flatMap((b) => [b.volume, branchPointVolume(b.volume)]),
    ...pendingIntents(rt.store).flatMap(intentVolumes),
    // A create or a warm clone keeps the branch point of the volume it makes.
    ...pendingIntents(rt.store).flatMap((i) => (i.kind === 'create' || i.kind === 'warm' ? [branchPointVolume(i.data.volume)] : [])),
    // A snapshot keeps the branch point of its data when it has one (the pre-rebase state of a rebase).
    ...rt.store.listSnapshots().flatMap((s) => [s.volume, branchPointVolume(s.volume)]),
    ...rt.store.listSources().flatMap((s) => (s.archiveVolume ? [s.archiveVolume] : [])),
  ]);
}
