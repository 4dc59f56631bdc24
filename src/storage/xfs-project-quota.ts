import { access, readdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { PgbranchError } from '../errors.js';
import { withMutex } from '../util/index.js';
import type { VolumeLimiter } from './directory-driver.js';
import { measureExtents } from './filefrag.js';
import { findMountContaining, type MountEntry } from './mounts.js';
import { storageError } from './storage-errors.js';
import { requireTool, runTool } from './tools.js';
import { listTreeFiles } from './tree-files.js';
import type { VolumeLimitSupport } from './types.js';

/**
 * Per-volume caps for reflink pools on XFS, through project quotas (kind `growth`).
 *
 * Each capped volume is one project: its directory tree gets the project id and the PROJINHERIT
 * flag, so files and directories created later (by postgres running as another user too) join
 * the project. XFS charges a project for every block its inodes map, shared or not, so a fresh
 * clone is already charged its full size. The hard limit is therefore set to
 *   charged now − own bytes now + bytes
 * (own = allocated − shared extents, from FIEMAP), i.e. the volume may add about `bytes − own`
 * more blocks. Rewriting a shared block is free (CoW releases the old block from this file as it
 * charges the new one) and deleting a shared file frees headroom, so the cap bounds growth, not
 * exclusive bytes. Directory and xattr blocks and CoW/delalloc reservations count; symlinks and
 * special files are not tagged. Over the limit XFS fails writes with ENOSPC (EDQUOT for user and
 * group quotas only), in this project alone; root is not exempt.
 */

/** XFS project ids are 32-bit; 0 means "no project" and we keep away from the all-ones value. */
const MAX_PROJECT_ID = 0xfffffffe;

interface QuotaContext {
  readonly mount: MountEntry;
  readonly xfsQuota: string;
}

interface Probe {
  readonly support: VolumeLimitSupport;
  readonly context?: QuotaContext;
}

export function xfsProjectQuotaLimiter(poolPath: string): VolumeLimiter {
  let probed: Promise<Probe> | undefined;
  // Errors (e.g. the pool not existing yet) are not cached: the next call probes again.
  const probe = (): Promise<Probe> =>
    (probed ??= probeProjectQuota(poolPath).catch((err: unknown) => {
      probed = undefined;
      throw err;
    }));

  return {
    support: async () => (await probe()).support,

    async set(volumePath, bytes) {
      if (bytes !== null && (!Number.isSafeInteger(bytes) || bytes <= 0)) {
        throw new PgbranchError('INVALID_ARGUMENT', `a volume limit must be a positive whole number of bytes or null, got ${bytes}`, {
          cause: new Error(`bytes ${bytes}`),
        });
      }
      const { support, context } = await probe();
      if (!context) {
        const reason = support.reason ?? 'project quotas are unavailable';
        throw new PgbranchError('STORAGE_UNAVAILABLE', `this pool cannot cap a volume's size: ${reason}`, { cause: new Error(reason) });
      }
      // Choosing an id reads every sibling's id first; one set() per filesystem at a time keeps two
      // volumes from picking the same one (across processes the host lock does).
      await withMutex(`xfs-project-quota:${context.mount.mountPoint}`, () => applyLimit(context, volumePath, bytes));
    },
  };
}

async function probeProjectQuota(poolPath: string): Promise<Probe> {
  const none = (reason: string): Probe => ({ support: { kind: 'none', reason } });
  const mount = await findMountContaining(poolPath);
  if (!mount) {
    throw new PgbranchError('STORAGE_UNAVAILABLE', `pool ${poolPath} does not exist`, { cause: new Error('no such directory'), details: { poolPath } });
  }
  if (mount.fsType === 'btrfs') {
    return none(`the reflink pool ${poolPath} is on btrfs (${mount.mountPoint}), where only the btrfs driver can cap volumes (qgroups)`);
  }
  if (mount.fsType !== 'xfs') {
    return none(`the pool ${poolPath} is on ${mount.fsType} (${mount.mountPoint}); capping reflink volumes needs XFS with project quotas`);
  }
  if (process.geteuid?.() !== 0) {
    return none(`setting XFS project quotas needs root (xfs_quota -x), and pgbranch runs as uid ${process.geteuid?.()}`);
  }
  let xfsQuota: string;
  try {
    xfsQuota = await requireTool('xfs_quota', 'xfsprogs', 'cap volume sizes on XFS');
  } catch (err) {
    return none(err instanceof Error ? err.message : String(err));
  }
  // Prints nothing for a filesystem mounted without project quotas.
  const state = await runTool(xfsQuota, ['-x', '-c', 'state -p', mount.mountPoint], `cannot read the project quota state of ${mount.mountPoint}`);
  const { accounting, enforcement } = parseProjectQuotaState(state.stdout);
  if (!accounting) {
    const kernel = (await kernelHasXfsQuota()) ? '' : ' (and this kernel was built without XFS quota support, CONFIG_XFS_QUOTA)';
    return none(`the XFS filesystem at ${mount.mountPoint} is not mounted with prjquota${kernel}`);
  }
  if (!enforcement) {
    return none(`project quotas on the XFS filesystem at ${mount.mountPoint} are counted but not enforced (xfs_quota -x -c 'enable -p' ${mount.mountPoint})`);
  }
  return { support: { kind: 'growth' }, context: { mount, xfsQuota } };
}

/** Reads `xfs_quota -x -c 'state -p'`: "Accounting: ON" / "Enforcement: ON" under "Project quota state". */
export function parseProjectQuotaState(output: string): { accounting: boolean; enforcement: boolean } {
  const section = /^Project quota state on[^\n]*\n((?:[ \t]+[^\n]*\n?)*)/m.exec(output)?.[1] ?? '';
  return {
    accounting: /^\s*Accounting:\s*ON\b/m.test(section),
    enforcement: /^\s*Enforcement:\s*ON\b/m.test(section),
  };
}

/** XFS registers /proc/fs/xfs/xqm only when built with quota support (CONFIG_XFS_QUOTA). */
export async function kernelHasXfsQuota(): Promise<boolean> {
  return exists('/proc/fs/xfs/xqm');
}

/** Whether XFS is loaded but built without quotas: mounting with prjquota then fails outright. */
export async function kernelLacksXfsQuota(): Promise<boolean> {
  return (await exists('/proc/fs/xfs/stat')) && !(await kernelHasXfsQuota());
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function applyLimit(context: QuotaContext, volumePath: string, bytes: number | null): Promise<void> {
  const { mount, xfsQuota } = context;
  const projectId = await chooseProjectId(volumePath);
  // xfs_quota splits its -c command on blanks with no quoting, so the path is passed relative to
  // its parent (volume names have no blanks). It walks the tree without following symlinks and
  // skips special files (a FIFO would block an open()).
  await runTool(xfsQuota, ['-x', '-c', `project -s -p ${basename(volumePath)} ${projectId}`, mount.mountPoint], `cannot put volume ${volumePath} in XFS project ${projectId}`, {
    cwd: dirname(volumePath),
  });
  let hardBytes = 0;
  if (bytes !== null) {
    // Own bytes first: filefrag -s flushes delayed allocations, which the charge then includes.
    const extents = await measureExtents((await listTreeFiles(volumePath)).dataFiles);
    const ownBytes = extents.allocatedBytes - extents.sharedBytes;
    const chargedBytes = await projectChargeBytes(context, projectId);
    hardBytes = Math.max(chargedBytes - ownBytes, 0) + bytes;
  }
  await runTool(xfsQuota, ['-x', '-c', `limit -p bhard=${hardBytes} ${projectId}`, mount.mountPoint], `cannot set the XFS project quota of ${volumePath}`);
}

/**
 * The volume keeps the project id it already has; a new one starts from the directory's inode
 * number (unique among live directories, so usually free) and moves on past ids other entries of
 * the pool hold. A deleted volume's id may be reused: its usage left with its files, and set()
 * always rewrites the limit.
 */
async function chooseProjectId(volumePath: string): Promise<number> {
  const poolPath = dirname(volumePath);
  let names: string[];
  try {
    names = (await readdir(poolPath, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    throw storageError(`cannot list pool ${poolPath}`, err, { poolPath });
  }
  const ids = await readProjectIds(poolPath, names);
  const own = basename(volumePath);
  const taken = new Set<number>();
  for (const [name, id] of ids) if (name !== own && id !== 0) taken.add(id);
  const current = ids.get(own) ?? 0;
  if (current !== 0 && !taken.has(current)) return current;

  let inode: bigint;
  try {
    inode = (await stat(volumePath, { bigint: true })).ino;
  } catch (err) {
    throw storageError(`cannot stat volume ${volumePath}`, err, { path: volumePath });
  }
  // Inode numbers pass 32 bits on large inode64 filesystems; folding them is safe since taken ids are skipped.
  let candidate = Number((inode - 1n) % BigInt(MAX_PROJECT_ID)) + 1;
  while (taken.has(candidate)) candidate = candidate >= MAX_PROJECT_ID ? 1 : candidate + 1;
  return candidate;
}

/** Project ids of `names` (directories in `dir`) from `lsattr -p -d`; entries that vanished are left out. */
async function readProjectIds(dir: string, names: readonly string[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  if (names.length === 0) return ids;
  const lsattr = await requireTool('lsattr', 'e2fsprogs', 'read XFS project ids');
  // Exit code 1 when an entry vanished meanwhile; the others are still listed.
  const result = await runTool(lsattr, ['-p', '-d', '--', ...names], `cannot read the project ids in ${dir}`, { cwd: dir, okExitCodes: [0, 1] });
  for (const line of result.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+\S+\s(.+)$/.exec(line);
    if (m) ids.set(m[2]!, Number(m[1]));
  }
  return ids;
}

/** Bytes currently charged to `projectId` (data, directory and reserved blocks), 0 when none. */
async function projectChargeBytes({ mount, xfsQuota }: QuotaContext, projectId: number): Promise<number> {
  const report = await runTool(
    xfsQuota,
    ['-x', '-c', `report -p -b -N -n -L ${projectId} -U ${projectId}`, mount.mountPoint],
    `cannot read the XFS project quota usage on ${mount.mountPoint}`,
  );
  return parseProjectReportKib(report.stdout, projectId) * 1024;
}

/** `#<id>  <used KiB>  <soft>  <hard>  …` from `xfs_quota report -p -b -N -n`; 0 if the id is absent. */
export function parseProjectReportKib(output: string, projectId: number): number {
  for (const line of output.split('\n')) {
    const m = /^#(\d+)\s+(\d+)\s/.exec(line.trim() + ' ');
    if (m && Number(m[1]) === projectId) return Number(m[2]);
  }
  return 0;
}
