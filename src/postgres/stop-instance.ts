import { watch, type FSWatcher } from 'node:fs';
import { PgbranchError } from '../errors.js';
import { waitFor } from '../util/index.js';
import { readPostmasterPid } from './postmaster-pid.js';
import { isGone, isPostmasterOf, signalProcess } from './process-info.js';
import type { ShutdownMode, StopOptions } from './types.js';

const SIGNAL: Record<ShutdownMode, NodeJS.Signals> = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' };
const DEFAULT_STOP_TIMEOUT_MS = 30_000;
const ESCALATION_TIMEOUT_MS = 5_000;

/**
 * Waits until the postmaster is gone: the process no longer exists or is a zombie (our own child
 * lingers as one until Node reaps it). Not merely until postmaster.pid is removed: the postmaster
 * unlinks it on its way out but still exists for a moment after, and a caller that goes on to
 * look at the volume (or remove it) must not find it there. The removal of the file wakes the
 * wait early. True when gone within the deadline.
 */
async function waitGone(dataDir: string, pid: number, timeoutMs: number): Promise<boolean> {
  try {
    await waitFor(async () => ((await isGone(pid)) ? true : undefined), {
      timeoutMs,
      intervalMs: 20,
      what: `postmaster ${pid} to exit`,
      subscribe: (wake) => {
        let watcher: FSWatcher | undefined;
        try {
          watcher = watch(dataDir, { persistent: false }, () => wake());
          watcher.on('error', () => undefined);
        } catch {
          // polling still works
        }
        return () => watcher?.close();
      },
    });
    return true;
  } catch {
    return false;
  }
}

/** Also kills the postmaster's children: a detached postmaster leads its own process group. */
function killGroup(pid: number): void {
  signalProcess(pid, 'SIGKILL');
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // not a group leader (not started by us) or already gone
  }
}

async function runningPid(dataDir: string): Promise<number | undefined> {
  const pm = await readPostmasterPid(dataDir);
  if (!pm) return undefined;
  return (await isPostmasterOf(pm.pid, dataDir)) ? pm.pid : undefined;
}

/**
 * Stops the instance on `dataDir` (no-op if none runs). smart waits for clients, fast (default)
 * disconnects them, immediate skips the shutdown checkpoint (crash recovery on next start).
 * On timeout, fast and immediate escalate (→ immediate → SIGKILL); smart fails.
 */
export async function stopInstance(dataDir: string, options: StopOptions = {}): Promise<void> {
  const mode = options.mode ?? 'fast';
  const timeoutMs = options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const pid = await runningPid(dataDir);
  if (pid === undefined) return;

  if (!signalProcess(pid, SIGNAL[mode])) return;
  if (await waitGone(dataDir, pid, timeoutMs)) return;
  if (mode === 'smart') {
    throw new PgbranchError('POSTGRES_STOP_FAILED', `PostgreSQL on ${dataDir} (pid ${pid}) did not stop within ${timeoutMs} ms in smart mode (clients still connected?)`, {
      cause: new Error('smart shutdown timed out'),
      details: { dataDir, pid },
    });
  }
  if (mode === 'fast') {
    signalProcess(pid, 'SIGQUIT');
    if (await waitGone(dataDir, pid, ESCALATION_TIMEOUT_MS)) return;
  }
  killGroup(pid);
  if (await waitGone(dataDir, pid, ESCALATION_TIMEOUT_MS)) return;
  throw new PgbranchError('POSTGRES_STOP_FAILED', `PostgreSQL on ${dataDir} (pid ${pid}) survived SIGKILL`, {
    cause: new Error('process did not exit'),
    details: { dataDir, pid },
  });
}

/**
 * Orphan cleanup: immediate shutdown, then SIGKILL to the postmaster and its process group.
 * Waits for the process itself to disappear (postmaster.pid may be left behind after SIGKILL).
 */
export async function killInstance(dataDir: string): Promise<void> {
  const pid = await runningPid(dataDir);
  if (pid === undefined) return;
  if (!signalProcess(pid, 'SIGQUIT')) return;
  const quit = await waitFor(async () => ((await isGone(pid)) ? true : undefined), { timeoutMs: ESCALATION_TIMEOUT_MS, what: 'postmaster to quit' }).catch(
    () => false,
  );
  if (quit) return;
  killGroup(pid);
  const killed = await waitFor(async () => ((await isGone(pid)) ? true : undefined), { timeoutMs: ESCALATION_TIMEOUT_MS, what: 'postmaster to die' }).catch(
    () => false,
  );
  if (!killed) {
    throw new PgbranchError('POSTGRES_STOP_FAILED', `PostgreSQL on ${dataDir} (pid ${pid}) survived SIGKILL`, { cause: new Error('process did not exit') });
  }
}

/** Makes a running instance re-read postgresql.conf and pg_hba.conf (SIGHUP). */
export async function reloadConfig(dataDir: string): Promise<void> {
  const pid = await runningPid(dataDir);
  if (pid === undefined || !signalProcess(pid, 'SIGHUP')) {
    throw new PgbranchError('POSTGRES_ERROR', `cannot reload configuration: no instance is running on ${dataDir}`, {
      cause: new Error('not running'),
    });
  }
}
