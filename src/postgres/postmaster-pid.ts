import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PostmasterPidFile } from './types.js';

export const POSTMASTER_PID = 'postmaster.pid';

/**
 * Parses postmaster.pid. Line layout (PostgreSQL's LOCK_FILE_LINE_*): 1 pid, 2 data directory,
 * 3 start time, 4 port, 5 first socket directory, 6 first listen address, 7 shared memory key,
 * 8 postmaster status (padded with spaces; written once the postmaster knows it).
 * Returns undefined for an empty or half-written file (pid line not yet complete).
 */
export function parsePostmasterPid(text: string): PostmasterPidFile | undefined {
  const lines = text.split('\n');
  // A line only counts once its newline is written: the file is created, then filled.
  const complete = (i: number): string | undefined => (i < lines.length - 1 ? lines[i] : undefined);
  const pidLine = complete(0);
  if (pidLine === undefined || !/^-?\d+$/.test(pidLine.trim())) return undefined;
  // A negative pid marks a standalone backend (postgres --single).
  const pid = Math.abs(Number.parseInt(pidLine.trim(), 10));
  const num = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s.trim()) ? Number.parseInt(s.trim(), 10) : undefined);
  const str = (s: string | undefined) => (s === undefined ? undefined : s.trim() || undefined);
  return {
    pid,
    dataDir: complete(1) ?? '',
    startTime: num(complete(2)),
    port: num(complete(3)),
    socketDir: str(complete(4)),
    listenAddress: str(complete(5)),
    pmStatus: str(complete(7)),
  };
}

/** Reads and parses `<dataDir>/postmaster.pid`; undefined if absent or not yet complete. */
export async function readPostmasterPid(dataDir: string): Promise<PostmasterPidFile | undefined> {
  const path = join(dataDir, POSTMASTER_PID);
  // A file of ~100 bytes, read for every branch of a list: synchronously (see process-info.ts),
  // and looked for first: most branches of a big host are suspended, without the file, and a
  // failed read costs an exception (~50 µs with its stack) where a failed stat costs none.
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parsePostmasterPid(text);
}
