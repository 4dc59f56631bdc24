import { chown, copyFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseLsn, walFileName } from './lsn.js';

/** A POSIX shell single-quoted word. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** PostgreSQL expands %p/%f/%r in archive/restore commands: a literal % must be doubled. */
const percent = (text: string): string => text.replaceAll('%', '%%');

/**
 * archive_command copying a completed WAL segment or .history file into `archiveDir` atomically:
 * copy to a temp name, fsync it, hard-link it to the final name (link fails if the name exists,
 * so nothing is ever overwritten), fsync the directory. An existing file with the same name is
 * accepted only if identical (a re-archived segment after a restart); a different one makes the
 * command fail, and PostgreSQL keeps retrying (and keeps the segment) until someone looks.
 */
export function archiveCommand(archiveDir: string): string {
  const d = percent(shellQuote(archiveDir));
  return [
    `d=${d}; t="$d/.%f.tmp.$$"`,
    `if [ -e "$d/%f" ]; then cmp -s "%p" "$d/%f"; exit $?; fi`,
    `cp "%p" "$t" && sync "$t" && { ln "$t" "$d/%f" 2>/dev/null || cmp -s "$t" "$d/%f"; }`,
    `r=$?; rm -f "$t"; if [ $r -ne 0 ]; then exit $r; fi`,
    `sync "$d"`,
  ].join('; ');
}

/** restore_command reading back from the same archive (fails, as it must, when a file is missing). */
export function restoreCommand(archiveDir: string): string {
  return `cp ${percent(shellQuote(archiveDir))}/"%f" "%p"`;
}

const SEGMENT = /^[0-9A-F]{24}(\.partial)?$/;

/**
 * Deletes archived WAL segments older than `oldestNeeded` (a segment file name, e.g. the one
 * holding the redo point of the oldest snapshot still kept), like pg_archivecleanup: segments
 * compare by their position, whatever their timeline; .history files are always kept.
 */
export async function pruneWalArchive(archiveDir: string, oldestNeeded: string): Promise<string[]> {
  if (!SEGMENT.test(oldestNeeded)) throw new Error(`not a WAL segment file name: ${oldestNeeded}`);
  const cutoff = oldestNeeded.slice(8, 24);
  const removed: string[] = [];
  for (const name of await readdir(archiveDir)) {
    if (!SEGMENT.test(name) || name.slice(8, 24) >= cutoff) continue;
    await unlink(join(archiveDir, name));
    removed.push(name);
  }
  return removed.sort();
}

/**
 * Puts the WAL a base backup brought into `pg_wal` into the archive. A standby archives only what
 * its walreceiver receives (archive_mode = always), so without this the archive would start after
 * the backup, and a point-in-time recovery from a copy taken right after it (whose redo point is
 * the backup's start) would lack its first segments once the standby recycles them. Only complete
 * segments are copied: those before the one holding `endLsn`, and that one too when
 * `lastComplete` (a primary switches segments at the end of a base backup; a standby does not).
 * Files already archived are left alone. Returns the names copied.
 */
export async function seedWalArchive(
  dataDir: string,
  archiveDir: string,
  osUser: { uid: number; gid: number },
  options: { endLsn: string; segmentBytes: number; lastComplete: boolean },
): Promise<string[]> {
  const walDir = join(dataDir, 'pg_wal');
  const endSegment = walFileName(1, parseLsn(options.endLsn), options.segmentBytes).slice(8);
  const copied: string[] = [];
  for (const name of (await readdir(walDir)).sort()) {
    const segment = /^[0-9A-F]{24}$/.test(name);
    if (!segment && !/^[0-9A-F]{8}\.history$/.test(name)) continue;
    if (segment) {
      const position = name.slice(8);
      if (position > endSegment || (position === endSegment && !options.lastComplete)) continue;
      if ((await stat(join(walDir, name))).size !== options.segmentBytes) continue;
    }
    const target = join(archiveDir, name);
    if (await stat(target).then(() => true, () => false)) continue;
    await copyFile(join(walDir, name), `${target}.seed-tmp`);
    await chown(`${target}.seed-tmp`, osUser.uid, osUser.gid);
    await rename(`${target}.seed-tmp`, target);
    copied.push(name);
  }
  return copied;
}
