import Database from 'better-sqlite3';
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { instanceStatus } from '../postgres/index.js';
import { openText } from '../state/index.js';

/**
 * Checks a host from the outside — its SQLite file, its pool directory, /proc — without going
 * through `Host`, so that a bug in pgbranch's own view of the host cannot hide itself.
 */

export interface StoredBranch {
  readonly id: string;
  readonly name: string;
  readonly parentId: string | null;
  readonly volume: string;
  readonly port: number;
  readonly dbUser: string;
  readonly dbName: string;
  readonly password: string;
  readonly desiredState: 'running' | 'stopped';
  /** How it got its data (JSON): `branch` / `snapshot` for clones, which keep a branch point. */
  readonly source: string;
}

export interface StoredOperation {
  readonly kind: string;
  readonly branchName: string;
  readonly step: string;
  readonly pid: number;
}

export interface StoredState {
  readonly branches: StoredBranch[];
  readonly operations: StoredOperation[];
  /** Pid holding the host lock, or null when nobody does. */
  readonly lockPid: number | null;
  readonly snapshotVolumes: string[];
  /** WAL archive volumes of following roots. */
  readonly archiveVolumes: string[];
  /** Branch point volumes the host must keep (`<volume>.bp` of every cloned branch, when the host keeps them). */
  readonly branchPointVolumes: string[];
}

/** Reads the metadata with a read-only SQLite connection of our own. */
export function readStoredState(home: string): StoredState {
  const db = new Database(join(home, 'state.db'), { readonly: true, fileMustExist: true });
  try {
    const branches = db
      .prepare(
        `SELECT id, name, parent_id AS parentId, volume, port, db_user AS dbUser, db_name AS dbName,
                password, desired_state AS desiredState, source
           FROM branches ORDER BY name`,
      )
      .all() as StoredBranch[];
    // Passwords are sealed at rest with the host's state key.
    const key = existsSync(join(home, 'state.key')) ? readFileSync(join(home, 'state.key')) : undefined;
    for (const b of branches) (b as { password: string }).password = openText(key, b.password);
    const operations = db.prepare('SELECT kind, branch_name AS branchName, step, pid FROM operations ORDER BY id').all() as StoredOperation[];
    const lock = db.prepare('SELECT pid FROM host_lock WHERE id = 1').get() as { pid: number } | undefined;
    const column = (query: string): string[] => (db.prepare(query).all() as { v: string }[]).map((r) => r.v);
    // An undo snapshot of a rebase (`NAME.pre-rebase`) keeps the branch point of the state it holds.
    const keeps = branchPointVolumes(home, [{ source: '{"kind":"branch"}', volume: '' } as StoredBranch]).length > 0;
    const snapshotVolumes = column(`SELECT volume AS v FROM snapshots`).concat(keeps ? column(`SELECT volume || '.bp' AS v FROM snapshots WHERE name LIKE '%.pre-rebase'`) : []);
    const archiveVolumes = column('SELECT archive_volume AS v FROM sources WHERE archive_volume IS NOT NULL');
    return { branches, operations, lockPid: lock?.pid ?? null, snapshotVolumes, archiveVolumes, branchPointVolumes: branchPointVolumes(home, branches) };
  } finally {
    db.close();
  }
}

/**
 * The branch points a host must hold, from the outside: every branch made by cloning (from a
 * parent or a snapshot, any point in time included) keeps `<its volume>.bp`, unless the host's
 * config turns it off (`diff.keepBranchPoint`; absent = on, but off on `copy` pools). Roots never have one.
 */
function branchPointVolumes(home: string, branches: readonly StoredBranch[]): string[] {
  const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as { storage: { driver: string }; diff?: { keepBranchPoint?: boolean } };
  if (!(config.diff?.keepBranchPoint ?? config.storage.driver !== 'copy')) return [];
  return branches
    .filter((b) => ['branch', 'snapshot'].includes((JSON.parse(b.source) as { kind: string }).kind))
    .map((b) => `${b.volume}.bp`);
}

export function branchUrl(b: Pick<StoredBranch, 'dbUser' | 'password' | 'port' | 'dbName'>): string {
  return `postgresql://${encodeURIComponent(b.dbUser)}:${encodeURIComponent(b.password)}@127.0.0.1:${b.port}/${encodeURIComponent(b.dbName)}`;
}

export async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface PoolProcess {
  readonly pid: number;
  readonly comm: string;
  /** First path component under the pool: the volume the process works in. */
  readonly volume: string;
  /** Where it was found: its `-D` argument or its working directory. */
  readonly path: string;
  readonly ppid: number;
}

/** State letter and parent pid from /proc/<pid>/stat ("pid (comm) S ppid …"; comm may hold ") "). */
function processStat(pid: string): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/**
 * Every live (non-zombie) process whose `-D` argument or working directory lies under the pool.
 * A postmaster has `-D <dataDir>` on its command line; its children rewrite their command line
 * ("postgres: checkpointer") but keep the data directory as working directory.
 */
export function processesUnderPool(poolPath: string): PoolProcess[] {
  // /proc shows resolved working directories, while -D is the path as pgbranch passed it.
  const roots = [...new Set([poolPath, realpathSync(poolPath)])];
  const under = (p: string | undefined): string | undefined => {
    if (!p) return undefined;
    for (const root of roots) {
      const rel = relative(root, p);
      if (rel !== '' && !rel.startsWith('..') && !rel.startsWith(sep)) return rel;
    }
    return undefined;
  };
  const found: PoolProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = processStat(entry);
    if (stat === undefined || stat.state === 'Z' || stat.state === 'X' || stat.state === 'x') continue;
    let cwd: string | undefined;
    let argv: string[] = [];
    let comm = '';
    try {
      cwd = readlinkSync(`/proc/${entry}/cwd`).replace(/ \(deleted\)$/, '');
    } catch {
      // gone meanwhile, or a kernel thread
    }
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const d = argv.indexOf('-D');
    const dataArg = d >= 0 ? argv[d + 1] : undefined;
    for (const candidate of [dataArg, cwd]) {
      const rel = under(candidate);
      if (rel === undefined) continue;
      found.push({ pid: Number(entry), comm, volume: rel.split(sep)[0]!, path: candidate!, ppid: stat.ppid });
      break;
    }
  }
  return found;
}

/**
 * The host invariants that must hold whenever no pgbranch command is running, whatever happened
 * before (crash, kill -9 of instances):
 * - the intent log is empty and nobody holds the host lock;
 * - the pool holds exactly the volumes of the branches in metadata — no orphan, no staging
 *   (`.tmp-…`) entry, no missing volume;
 * - no process works in a volume that no branch owns;
 * - every branch whose desired state is running has a postmaster on its volume and port and
 *   accepts a password login through its URL; a stopped branch has no process at all;
 * - socket directories and server logs exist only for branches in metadata.
 * Returns the metadata for the caller's own, operation-specific expectations.
 */
export async function assertHostConsistent(home: string, poolPath: string): Promise<StoredState> {
  const state = readStoredState(home);
  expect(state.operations, 'interrupted operations left in the intent log').toEqual([]);
  expect(state.lockPid, 'host lock still held after the command exited').toBeNull();

  const volumes = state.branches.map((b) => b.volume).sort();
  expect(new Set(volumes).size, 'two branches share a volume').toBe(volumes.length);
  // Snapshots, the WAL archives of following roots and the branch points of cloned branches own volumes too.
  const others = [...state.snapshotVolumes, ...state.archiveVolumes, ...state.branchPointVolumes];
  expect(readdirSync(poolPath).sort(), 'pool entries != volumes of the branches, branch points, snapshots and sources in metadata').toEqual([...volumes, ...others].sort());

  const owned = new Set(volumes);
  const procs = processesUnderPool(poolPath);
  expect(
    procs.filter((p) => !owned.has(p.volume)),
    'processes running on a volume no branch owns',
  ).toEqual([]);

  for (const b of state.branches) {
    const dataDir = join(poolPath, b.volume, 'pgdata');
    const onVolume = procs.filter((p) => p.volume === b.volume);
    if (b.desiredState === 'running') {
      const status = await instanceStatus(dataDir);
      expect(status, `branch ${b.name} should be running`).toMatchObject({ running: true, port: b.port });
      // Everything on the volume descends from one postmaster, the one named in postmaster.pid.
      // (Parentage, not the command line: a freshly forked backend still shows the postmaster's.)
      const pids = new Set(onVolume.map((p) => p.pid));
      const roots = onVolume.filter((p) => !pids.has(p.ppid));
      expect(roots.map((p) => `${p.pid} ${p.path}`), `process trees on ${b.name}`).toEqual([`${status.pid} ${dataDir}`]);
      // A following root has no password of its own (it serves its source's roles).
      if (b.password !== '') {
        const rows = await sql<{ one: number }>(branchUrl(b), 'SELECT 1 AS one');
        expect(rows).toEqual([{ one: 1 }]);
      }
    } else {
      expect(onVolume, `branch ${b.name} is stopped but processes run on its volume`).toEqual([]);
    }
  }

  const ids = new Set(state.branches.map((b) => b.id));
  const runDir = join(home, 'run');
  const logDir = join(home, 'logs');
  const sockets = existsSync(runDir) ? readdirSync(runDir) : [];
  expect(sockets.filter((e) => !ids.has(e)), 'socket directories of unknown branches (or of temporary instances)').toEqual([]);
  const logs = existsSync(logDir) ? readdirSync(logDir) : [];
  expect(logs.filter((f) => !ids.has(f.replace(/\.log$/, ''))), 'server logs of unknown branches').toEqual([]);
  return state;
}
