import { chmod, chown, lstat, mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { PgbranchError } from '../errors.js';
import { run, which } from '../util/index.js';
import type { OsUser } from './types.js';

export const DEFAULT_OS_USER = 'pgbranch';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function parsePasswdLine(line: string, name: string): OsUser | undefined {
  const [user, , uid, gid] = line.split(':');
  return user === name && uid !== undefined && gid !== undefined ? { name, uid: Number(uid), gid: Number(gid) } : undefined;
}

/** uid/gid of `name`: /etc/passwd first (system users live there), then NSS via getent. */
async function lookupUser(name: string): Promise<OsUser | undefined> {
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const user = parsePasswdLine(line, name);
    if (user) return user;
  }
  const getent = await which('getent');
  if (!getent) return undefined;
  const { stdout } = await run(getent, ['passwd', name], { okExitCodes: [0, 2], timeoutMs: 10_000 }).catch(() => ({ stdout: '' }));
  return parsePasswdLine(stdout.trim(), name);
}

/**
 * The unprivileged account instances run as (PostgreSQL refuses root). As root, creates a system
 * user without home directory or login shell if missing; otherwise instances run as whoever we are.
 */
export async function ensureOsUser(name: string = DEFAULT_OS_USER): Promise<OsUser> {
  if (!isRoot()) {
    const me = userInfo();
    return { name: me.username, uid: me.uid, gid: me.gid };
  }
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(name)) {
    throw new PgbranchError('INVALID_ARGUMENT', `invalid OS user name: ${name}`, { cause: new Error('bad user name') });
  }
  const existing = await lookupUser(name);
  if (existing) return existing;
  const useradd = (await which('useradd')) ?? '/usr/sbin/useradd';
  try {
    await run(
      useradd,
      ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', '--user-group', '--comment', 'pgbranch PostgreSQL instances', name],
      { errorCode: 'PERMISSION_DENIED', timeoutMs: 30_000, okExitCodes: [0, 9] }, // 9: created meanwhile by someone else
    );
  } catch (cause) {
    throw new PgbranchError('PERMISSION_DENIED', `cannot create OS user ${name}: ${(cause as Error).message}`, { cause });
  }
  const created = await lookupUser(name);
  if (!created) throw new PgbranchError('PERMISSION_DENIED', `OS user ${name} missing after useradd`, { cause: new Error('useradd had no effect') });
  return created;
}

/** mkdir -p, then hand the directory to the OS user with `mode` (0700 for data and socket dirs). */
export async function prepareDirectory(path: string, osUser: OsUser, mode = 0o700): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
    const st = await stat(path);
    if (st.uid !== osUser.uid || st.gid !== osUser.gid) await chown(path, osUser.uid, osUser.gid);
    await chmod(path, mode);
  } catch (cause) {
    throw new PgbranchError('PERMISSION_DENIED', `cannot prepare directory ${path} for OS user ${osUser.name}: ${(cause as Error).message}`, { cause });
  }
}

/** Whether uid/gid may search (x) a directory with these owner/mode bits. Supplementary groups are
 * not considered: instances are spawned with setgroups(0) and run with their primary group only. */
function canTraverse(st: { uid: number; gid: number; mode: number }, user: OsUser): boolean {
  if (user.uid === 0) return true;
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * Fails with PERMISSION_DENIED if the OS user cannot reach `path`: every existing ancestor (after
 * resolving symlinks) needs search permission for it. A data directory under /root, or a pool
 * under a 0700 home directory, is the usual culprit.
 */
export async function assertReachable(path: string, osUser: OsUser): Promise<void> {
  const absolute = resolve(path);
  // Walk up to the deepest part that exists; what does not exist yet will be created by us.
  let existing = absolute;
  for (;;) {
    try {
      await lstat(existing);
      break;
    } catch {
      const parent = dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
  }
  const real = await realpath(existing).catch(() => existing);
  const dirs: string[] = [];
  for (let dir = real; ; dir = dirname(dir)) {
    dirs.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  // The path itself (if it exists and is a directory) must be enterable too.
  for (const dir of dirs) {
    let st;
    try {
      st = await stat(dir);
    } catch (cause) {
      throw new PgbranchError('PERMISSION_DENIED', `cannot inspect ${dir}: ${(cause as Error).message}`, { cause });
    }
    if (!st.isDirectory()) continue;
    if (!canTraverse(st, osUser)) {
      const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
      throw new PgbranchError(
        'PERMISSION_DENIED',
        `PostgreSQL runs as OS user ${osUser.name} (uid ${osUser.uid}), which cannot reach ${absolute}: ` +
          `${dir} (mode ${mode}, owner uid ${st.uid}) does not let it pass. ` +
          `Allow traversal (chmod o+x ${dir}) or choose a location under a traversable path.`,
        { cause: new Error(`no search permission on ${dir}`), details: { path: absolute, blockedAt: dir, mode, osUser: osUser.name } },
      );
    }
  }
}
