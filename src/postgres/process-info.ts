import { readFileSync, readlinkSync, realpathSync } from 'node:fs';

// /proc files are made by the kernel on read, never wait on a disk, and are read by the thousand
// (a list of 1,000 branches checks every instance): a promise read of each costs four thread-pool
// round trips (open, fstat, read, close) for microseconds of work, so these read synchronously.

export type ProcessState = 'absent' | 'zombie' | 'alive';

/**
 * State of a process by pid. A zombie (exited, not yet reaped — e.g. our own child before Node
 * reaps it) answers kill(pid, 0) like a live process, so /proc/<pid>/stat decides.
 */
export async function processState(pid: number): Promise<ProcessState> {
  if (!Number.isInteger(pid) || pid <= 0) return 'absent';
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'absent';
  }
  // "pid (comm) S ..." — comm may itself contain ") ", so take the last one.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X' || state === 'x' ? 'zombie' : 'alive';
}

export async function isGone(pid: number): Promise<boolean> {
  return (await processState(pid)) !== 'alive';
}

/**
 * Whether `pid` is a live postgres postmaster serving `dataDir`. After a reboot or in a copied
 * data directory, postmaster.pid may name a pid that now belongs to anything — another program,
 * or another instance's postmaster — so we check the program name and, where /proc lets us
 * (same user or root), that its working directory is the data directory (postgres chdirs there).
 */
export async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  if ((await processState(pid)) !== 'alive') return false;
  let comm: string;
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return false;
  }
  if (comm !== 'postgres' && comm !== 'postmaster') return false;
  let cwd: string;
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return true; // not ours to inspect; the name check is all we can do
  }
  let wanted = dataDir;
  try {
    wanted = realpathSync(dataDir);
  } catch {
    // gone meanwhile: compare with the name as given
  }
  return cwd === wanted || cwd === dataDir;
}

/** Sends a signal; false if the process does not exist (any other error is thrown). */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
