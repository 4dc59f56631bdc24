import { readPostmasterPid } from './postmaster-pid.js';
import { isPostmasterOf } from './process-info.js';
import type { InstanceStatus } from './types.js';

/**
 * Whether a postmaster serves `dataDir`, from its postmaster.pid. A leftover file (after kill -9,
 * a reboot, or copied along with a clone) does not count: the pid must be a live, non-zombie
 * postgres whose working directory is this data directory.
 */
export async function instanceStatus(dataDir: string): Promise<InstanceStatus> {
  const pm = await readPostmasterPid(dataDir);
  if (!pm) return { running: false };
  const running = await isPostmasterOf(pm.pid, dataDir);
  return { running, pid: pm.pid, port: pm.port, pmStatus: pm.pmStatus };
}
