import { PgbranchError } from '../../errors.js';
import { setRolePassword, withClient } from '../../postgres/index.js';
import type { BranchRecord } from '../../state/index.js';
import { crashPoint } from '../crash-points.js';
import { newPassword } from '../ids.js';
import { beginIntent, resumeIntent, type IntentFor } from '../intents.js';
import type { Runtime } from '../runtime.js';

export const ROTATE_POINTS = ['rotate:intent', 'rotate:applied'] as const;

/**
 * A new password for the branch's role. The intent (with the new password) is recorded first;
 * a crash after ALTER ROLE is rolled forward, so metadata and server never disagree for longer
 * than the next command.
 */
export async function rotatePassword(rt: Runtime, branch: BranchRecord): Promise<BranchRecord> {
  if (rt.store.getSource(branch.id)?.mode === 'follow') {
    throw new PgbranchError('INVALID_ARGUMENT', `"${branch.name}" follows its source: it is read-only and serves the source's roles and passwords, change them there`, {
      details: { branch: branch.name },
    });
  }
  const password = newPassword();
  const intent = beginIntent(rt.store, 'rotate', branch, { password });
  crashPoint('rotate:intent');
  await applyPassword(rt, branch, password);
  crashPoint('rotate:applied');
  rt.store.transaction(() => {
    rt.store.setPassword(branch.id, password);
    intent.finish();
  });
  return rt.store.getBranchById(branch.id)!;
}

/** Roll forward: the server may already have the new password, so metadata must get it too. */
export async function settleRotate(rt: Runtime, intent: IntentFor<'rotate'>): Promise<'rolled-forward'> {
  const branch = rt.store.getBranchById(intent.subject.id);
  if (branch) {
    await applyPassword(rt, branch, intent.data.password);
    rt.store.setPassword(branch.id, intent.data.password);
  }
  resumeIntent(rt.store, intent).finish();
  return 'rolled-forward';
}

/** Sets the role's password on the server, starting the instance for the moment if it is down. */
async function applyPassword(rt: Runtime, branch: BranchRecord, password: string): Promise<void> {
  const wasRunning = await rt.isRunning(branch.volume);
  if (!wasRunning) await rt.start(branch, branch.volume);
  await withClient(rt.adminTarget(branch), (client) => setRolePassword(client, branch.dbUser, password));
  if (!wasRunning && branch.desiredState !== 'running') await rt.stop(branch.volume);
}
