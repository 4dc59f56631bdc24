import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

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
