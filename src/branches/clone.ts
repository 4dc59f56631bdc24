import { chown, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkpoint,
  reloadConfig,
  setRolePassword,
  startBackup,
  stopBackup,
  waitForLogin,
  withClient,
  writeHba,
} from '../postgres/index.js';
import type { BranchRecord } from '../state/index.js';
import { crashPoint } from './crash-points.js';
import { PGDATA, type Runtime } from './runtime.js';

/**
 * Parts of a live data directory a copy must not take as they are (PostgreSQL docs, "Making a
 * Base Backup Using the Low Level API"): pg_wal is taken in a second pass after
 * pg_backup_stop, the rest is recreated by the server.
 */
const LIVE_COPY_EXCLUDES = [
  'pg_wal',
  'postmaster.pid',
  'postmaster.opts',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
].map((p) => `${PGDATA}/${p}`);

export interface ClonedData {
  /** When the parent's data was captured. */
  readonly branchTime: string;
}

/** Crash points of the clone steps, in order (the operations that clone list them among theirs). */
export const CLONE_POINTS = {
  /** The parent is ready to be copied: checkpointed (atomic drivers) or in backup mode (per-file drivers). */
  ready: 'clone:ready',
  afterBackupStop: 'clone:after-backup-stop',
  afterStart: 'clone:after-start',
  passwordSet: 'clone:password-set',
} as const;

/**
 * Makes `targetVolume` a crash-consistent copy of the parent's data directory, whether the parent
 * is running or not:
 * - stopped parent: any copy is consistent (clean shutdown checkpoint);
 * - atomic snapshot driver (btrfs): CHECKPOINT to keep recovery short, then one atomic snapshot —
 *   the clone looks exactly like the parent after a power cut, which PostgreSQL recovers from;
 * - per-file drivers (reflink, copy): files are taken one by one, so the copy is bracketed by
 *   pg_backup_start/pg_backup_stop and completed with the WAL written meanwhile and a
 *   backup_label that makes the clone replay up to a consistent point.
 */
export async function cloneConsistent(rt: Runtime, parent: BranchRecord, targetVolume: string): Promise<ClonedData> {
  const parentRunning = await rt.isRunning(parent.volume);
  if (!parentRunning) {
    const branchTime = new Date().toISOString();
    crashPoint(CLONE_POINTS.ready);
    await rt.storage.cloneVolume(parent.volume, targetVolume);
    return { branchTime };
  }
  const admin = rt.adminTarget(parent);
  if (rt.storage.capabilities.atomicSnapshot) {
    return withClient(admin, async (client) => {
      await checkpoint(client);
      const branchTime = new Date().toISOString();
      crashPoint(CLONE_POINTS.ready);
      await rt.storage.cloneVolume(parent.volume, targetVolume);
      return { branchTime };
    });
  }
  return withClient(admin, async (client) => {
    const { major } = await rt.binariesFor(parent.pgMajor);
    await startBackup(client, `pgbranch clone to ${targetVolume}`, major);
    crashPoint(CLONE_POINTS.ready);
    let label;
    try {
      await rt.storage.cloneVolume(parent.volume, targetVolume, { excludePaths: LIVE_COPY_EXCLUDES });
    } finally {
      // Always end backup mode on the parent, even when the clone failed.
      label = await stopBackup(client, major);
    }
    const branchTime = new Date().toISOString();
    crashPoint(CLONE_POINTS.afterBackupStop);
    await rt.storage.clonePath(parent.volume, targetVolume, `${PGDATA}/pg_wal`);
    const dataDir = rt.dataDir(targetVolume);
    await writeOwnedFile(rt, join(dataDir, 'backup_label'), label.labelFile);
    if (label.tablespaceMap) await writeOwnedFile(rt, join(dataDir, 'tablespace_map'), label.tablespaceMap);
    return { branchTime };
  });
}

async function writeOwnedFile(rt: Runtime, path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chown(path, rt.osUser.uid, rt.osUser.gid);
}

/**
 * Turns a freshly cloned volume into a serving branch instance with its own password:
 * TCP stays closed (pg_hba) until the inherited password has been replaced, so nobody can log in
 * to the clone with the parent's credentials. Returns the branch point LSN.
 */
export async function bringUpClone(
  rt: Runtime,
  branch: Pick<BranchRecord, 'id' | 'port' | 'dbUser' | 'dbName' | 'password' | 'pgMajor'>,
  volume: string,
): Promise<{ branchLsn: string }> {
  const dataDir = rt.dataDir(volume);
  // The parent's lock file came along with the clone; its pid is alive (the parent), which would
  // make the new postmaster refuse to start.
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  await rm(join(dataDir, 'postmaster.opts'), { force: true });
  await writeHba(dataDir, { allowTcp: false });
  await rt.start(branch, volume);
  crashPoint(CLONE_POINTS.afterStart);
  const branchLsn = await withClient(rt.adminTarget(branch), async (client) => {
    await setRolePassword(client, branch.dbUser, branch.password);
    // After crash recovery the server writes an end-of-recovery checkpoint exactly where replay
    // ended (a cold clone keeps the parent's shutdown checkpoint): that is the branch point.
    const { rows } = await client.query<{ lsn: string }>('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()');
    return rows[0]!.lsn;
  });
  crashPoint(CLONE_POINTS.passwordSet);
  await openTcp(rt, branch, volume);
  return { branchLsn };
}

/** Allows password logins over loopback TCP and waits until a real login succeeds. */
export async function openTcp(
  rt: Runtime,
  branch: Pick<BranchRecord, 'port' | 'dbUser' | 'dbName' | 'password'>,
  volume: string,
): Promise<void> {
  const dataDir = rt.dataDir(volume);
  await writeHba(dataDir, { allowTcp: true });
  await reloadConfig(dataDir);
  await waitForLogin(
    { host: '127.0.0.1', port: branch.port, user: branch.dbUser, database: branch.dbName, password: branch.password },
    { timeoutMs: 10_000 },
  );
}
