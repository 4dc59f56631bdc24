import { readdir } from 'node:fs/promises';
import type { OperationRecord } from '../state/index.js';
import { log } from '../util/log.js';
import { finishDelete } from './lifecycle.js';
import { settleLimit } from './quotas.js';
import { finishSnapshotDelete } from './snapshot.js';
import { applyPassword } from './serving.js';
import type { Runtime } from './runtime.js';

export interface ReconcileReport {
  readonly rolledBack: string[];
  readonly rolledForward: string[];
  readonly stagingRemoved: string[];
  readonly instancesStarted: string[];
}

/**
 * Brings metadata, volumes and processes back into agreement after a crash or a reboot. Runs
 * under the host lock, so every operation row found belongs to a process that died part-way.
 * Order matters: finish or undo interrupted operations first (they know which volumes are
 * theirs), then remove staging debris and report (not remove: that is `gc`'s job) volumes no
 * branch owns, then start what should be running and stop what should not.
 */
export async function reconcile(rt: Runtime): Promise<ReconcileReport> {
  const report: ReconcileReport = { rolledBack: [], rolledForward: [], stagingRemoved: [], instancesStarted: [] };

  for (const op of rt.store.listOperations()) {
    await settleOperation(rt, op, report);
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
  const owned = ownedVolumes(rt);
  const orphans = (await rt.storage.listVolumes()).filter((v) => !owned.has(v));
  if (orphans.length > 0) log.warn({ volumes: orphans }, 'volumes without a branch: `pgbranch gc` removes them');

  const known = new Set(rt.store.listBranches().map((b) => b.id));
  for (const entry of await readdir(rt.paths.runDir).catch(() => [] as string[])) {
    if (!known.has(entry)) await rt.removeBranchFiles(entry);
  }

  for (const branch of rt.store.listBranches()) {
    const running = await rt.isRunning(branch.volume);
    if (branch.desiredState !== 'running') {
      // A reset of a stopped branch runs the new instance until its very last step: rolled
      // forward after a crash, that instance is still up.
      if (running) {
        await rt.stop(branch.volume).catch((err: unknown) => {
          log.warn({ branch: branch.name, err: (err as Error).message }, 'could not stop branch during reconcile');
        });
      }
      continue;
    }
    if (running) continue;
    try {
      await rt.start(branch.id, branch.volume, branch.port);
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

/** Volumes metadata accounts for: every branch's and every snapshot's. */
export function ownedVolumes(rt: Runtime): Set<string> {
  return new Set([...rt.store.listBranches().map((b) => b.volume), ...rt.store.listSnapshots().map((s) => s.volume)]);
}

async function settleOperation(rt: Runtime, op: OperationRecord, report: ReconcileReport): Promise<void> {
  const label = `${op.kind} ${op.branchName} (at ${op.step})`;
  switch (op.kind) {
    case 'create': {
      // The branch row and the end of the operation commit together: a create still in the log
      // never finished, and whatever it made goes away.
      const volume = String(op.data.volume);
      await rt.kill(volume);
      await rt.storage.deleteVolume(volume);
      if (!rt.store.getBranchById(op.branchId)) await rt.removeBranchFiles(op.branchId);
      rt.store.finishOperation(op.id);
      report.rolledBack.push(label);
      return;
    }
    case 'reset': {
      const branch = rt.store.getBranchById(op.branchId);
      const oldVolume = String(op.data.oldVolume);
      const newVolume = String(op.data.newVolume);
      const swapped = branch?.volume === newVolume;
      // Before the swap the old volume is the branch; after it, the new one is.
      const discard = swapped ? oldVolume : newVolume;
      await rt.kill(discard);
      await rt.storage.deleteVolume(discard);
      rt.store.finishOperation(op.id);
      (swapped ? report.rolledForward : report.rolledBack).push(label);
      return;
    }
    case 'rotate': {
      const branch = rt.store.getBranchById(op.branchId);
      if (branch) {
        // Roll forward: the server may already have the new password, so metadata must too.
        const password = String(op.data.password);
        await applyPassword(rt, branch, password);
        rt.store.setPassword(branch.id, password);
      }
      rt.store.finishOperation(op.id);
      report.rolledForward.push(label);
      return;
    }
    case 'delete': {
      await finishDelete(rt, op.branchId, String(op.data.volume), op.id);
      report.rolledForward.push(label);
      return;
    }
    case 'limit': {
      ((await settleLimit(rt, op)) ? report.rolledForward : report.rolledBack).push(label);
      return;
    }
    case 'snapshot-create': {
      // Row and end of operation commit together: still in the log means never finished. No
      // instance ever runs on a snapshot volume (and the lock file it may still hold names the
      // source's postmaster): delete only, never kill.
      await rt.storage.deleteVolume(String(op.data.volume));
      rt.store.finishOperation(op.id);
      report.rolledBack.push(label);
      return;
    }
    case 'snapshot-delete': {
      await finishSnapshotDelete(rt, op.branchId, String(op.data.volume), op.id);
      report.rolledForward.push(label);
      return;
    }
  }
}
