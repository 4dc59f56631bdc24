import { readFile, realpath } from 'node:fs/promises';
import { errnoCode, storageError } from './storage-errors.js';

export interface MountEntry {
  readonly mountPoint: string;
  readonly fsType: string;
  /** What is mounted: a device like /dev/loop3, or a pseudo source like `tmpfs`. */
  readonly source: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/**
 * Parses /proc/self/mountinfo (proc(5)): field 5 is the mount point; after the optional fields,
 * a lone `-` is followed by the filesystem type and the source.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    if (fields.length < 10 || separator < 0) continue;
    entries.push({
      mountPoint: unescapeMountField(fields[4]!),
      fsType: fields[separator + 1]!,
      source: unescapeMountField(fields[separator + 2]!),
    });
  }
  return entries;
}

export async function readMounts(): Promise<MountEntry[]> {
  try {
    return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  } catch (err) {
    throw storageError('cannot read the mount table', err);
  }
}

/** Resolved absolute path, or undefined when it does not exist. */
async function resolved(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
    throw storageError(`cannot resolve ${path}`, err, { path });
  }
}

/** The mount visible at `path` (the last one stacked there), if something is mounted exactly there. */
export async function findMount(path: string): Promise<MountEntry | undefined> {
  const real = await resolved(path);
  if (real === undefined) return undefined;
  return (await readMounts()).findLast((m) => m.mountPoint === real);
}

/**
 * The mount `realPath` (absolute, symlinks resolved) lives on: the longest mount point that is a
 * prefix of it, the last one stacked there when several are.
 */
export function mountContaining(mounts: readonly MountEntry[], realPath: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const inside = m.mountPoint === '/' || realPath === m.mountPoint || realPath.startsWith(`${m.mountPoint}/`);
    if (inside && (best === undefined || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** The mount holding `path`, or undefined when `path` does not exist. */
export async function findMountContaining(path: string): Promise<MountEntry | undefined> {
  const real = await resolved(path);
  if (real === undefined) return undefined;
  return mountContaining(await readMounts(), real);
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await findMount(path)) !== undefined;
}
