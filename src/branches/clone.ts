import { existsSync } from 'node:fs';
import { chown, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkpoint,
  detachFromSource,
  flushWal,
  reloadConfig,
  scramSha256VerifierAsync,
  setRoleVerifier,
  startBackup,
  stopBackup,
  waitForLogin,
  walPosition,
  withClient,
  writeHba,
} from '../postgres/index.js';
import type { BranchRecord } from '../state/index.js';
import { PgbranchError } from '../errors.js';
import { log, runHooks, timed } from '../util/index.js';
import { crashPoint } from './crash-points.js';
import { assertPoolRoom } from './pool-room.js';
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
  /**
   * For a parent that is a standby (a following root): where the copy stands in the source's
   * history. `redoLsn` was read before the copy (the copy needs no WAL before it); `lsn` and
   * `time` (the last replayed commit, null if none yet) after it, so the copy holds nothing later.
   */
  readonly replay?: { readonly redoLsn: string; readonly lsn: string; readonly time: string | null };
  /**
   * For a running primary parent on an atomic-snapshot driver: its WAL insert position right
   * before the snapshot, when all WAL before it was on disk (so the copy holds every change
   * before it). While the parent's insert position stays there, the parent has not changed since.
   */
  readonly parentLsn?: string;
  /** Whether the parent was checkpointed before the copy (false: little WAL since its last one). */
  readonly checkpointed?: boolean;
}

type Client = Parameters<Parameters<typeof withClient>[1]>[0];

/** Replay position and last replayed commit of a standby, and the redo point of its last restartpoint. */
async function replayPosition(client: Client): Promise<{ redoLsn: string; lsn: string; time: string | null }> {
  const { rows } = await client.query<{ redo: string; lsn: string; time: Date | null }>(
    'SELECT (pg_control_checkpoint()).redo_lsn::text AS redo, pg_last_wal_replay_lsn()::text AS lsn, pg_last_xact_replay_timestamp() AS time',
  );
  const row = rows[0]!;
  return { redoLsn: row.redo, lsn: row.lsn, time: row.time?.toISOString() ?? null };
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
export async function cloneConsistent(
  rt: Runtime,
  parent: Pick<BranchRecord, 'id' | 'volume' | 'port' | 'dbUser' | 'pgMajor'>,
  targetVolume: string,
  options: { readonly wantParentLsn?: boolean } = {},
): Promise<ClonedData> {
  const parentRunning = await rt.isRunning(parent.volume);
  if (!parentRunning) {
    const branchTime = new Date().toISOString();
    crashPoint(CLONE_POINTS.ready);
    await timed('snapshot', () => rt.storage.cloneVolume(parent.volume, targetVolume));
    return { branchTime };
  }
  // The parent's CHECKPOINT (or backup) writes on the pool: never when that could fill it and
  // take the parent down (create and snapshot check the same floor; reset, diff, rebase, warm
  // clones and branch points come through here).
  await timed('room', () => assertPoolRoom(rt, 'new-data', 'checkpoint a running instance for a copy of its data'));
  const admin = rt.adminTarget(parent);
  const standby = rt.store.getSource(parent.id)?.mode === 'follow';
  // On a standby a CHECKPOINT is a restartpoint; its redo point bounds the WAL a copy needs.
  const replayBefore = async (client: Client) => (standby ? (await replayPosition(client)).redoLsn : undefined);
  const replayAfter = async (client: Client, redoLsn: string | undefined): Promise<Pick<ClonedData, 'replay'>> =>
    redoLsn === undefined ? {} : { replay: { ...(await replayPosition(client)), redoLsn } };
  if (rt.storage.capabilities.atomicSnapshot) {
    return withClient(admin, async (client) => {
      // The CHECKPOINT only bounds the copy's crash recovery: it replays the WAL since the
      // parent's last checkpoint. When that is little, replaying it in the copy costs less than a
      // checkpoint on the parent. Only WAL on disk is in the snapshot, and a transaction committed
      // asynchronously (or a page whose hint bits were logged) is visible before its WAL is
      // flushed: an unflushed tail is flushed first by a commit of our own, which costs one WAL
      // fsync (the CHECKPOINT it replaces wrote every dirty buffer: ~300 ms on a parent under
      // write load). A standby's restartpoint is what bounds its copy's WAL: always taken.
      const threshold = rt.config.clone.checkpointAboveWalBytes;
      let wal = standby ? undefined : await walPosition(client);
      let durable = wal?.flushed ?? false;
      if (wal !== undefined && !durable && wal.sinceRedoBytes < threshold) {
        durable = await timed('flush-wal', () => flushWal(client)).then(
          () => true,
          (err: unknown) => (log.debug({ err: (err as Error).message }, 'flushing the parent\'s WAL failed; checkpointing instead'), false),
        );
        // Read again: a warm clone records the position only when nothing after it is unflushed.
        if (durable) wal = await walPosition(client);
      }
      const skip = wal !== undefined && durable && wal.sinceRedoBytes < threshold;
      if (!skip) {
        await timed('checkpoint', () => checkpoint(client));
        if (wal !== undefined && options.wantParentLsn) wal = await walPosition(client);
      }
      const redoLsn = await replayBefore(client);
      const branchTime = new Date().toISOString();
      crashPoint(CLONE_POINTS.ready);
      await timed('snapshot', () => rt.storage.cloneVolume(parent.volume, targetVolume));
      const parentLsn = wal?.flushed ? { parentLsn: wal.insertLsn } : {};
      return { branchTime, checkpointed: !skip, ...parentLsn, ...(await replayAfter(client, redoLsn)) };
    });
  }
  return withClient(admin, async (client) => {
    const { major } = await rt.binariesFor(parent.pgMajor);
    await startBackup(client, `pgbranch clone to ${targetVolume}`, major);
    const redoLsn = await replayBefore(client);
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
    return { branchTime, ...(await replayAfter(client, redoLsn)) };
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
  branch: Pick<BranchRecord, 'id' | 'name' | 'port' | 'dbUser' | 'dbName' | 'password' | 'pgMajor'>,
  volume: string,
  hooks: readonly string[] = [],
  options: {
    /**
     * Work to run while TCP opens, once the instance has its own password and ran its hooks (the
     * branch point: a snapshot of the volume, which TCP opening does not change). Both are
     * awaited before this returns.
     */
    readonly alongsideOpenTcp?: () => Promise<unknown>;
    /** False: TCP stays closed (the caller opens it once the data may be seen, e.g. after masking). */
    readonly openTcp?: boolean;
  } = {},
): Promise<{ branchLsn: string; lastCommitAt: string | null }> {
  const dataDir = rt.dataDir(volume);
  // The parent's lock file came along with the clone; its pid is alive (the parent), which would
  // make the new postmaster refuse to start.
  await rm(join(dataDir, 'postmaster.pid'), { force: true });
  await rm(join(dataDir, 'postmaster.opts'), { force: true });
  if (existsSync(join(dataDir, 'standby.signal'))) {
    // A clone of a following root: cut every tie to the source and its archive, and let it start
    // without standby.signal — crash recovery replays the WAL the clone holds (everything the
    // standby had received) and the server comes up as a primary of its own.
    const { major } = await rt.binariesFor(branch.pgMajor);
    await detachFromSource(dataDir, { major });
    await rm(join(dataDir, 'standby.signal'), { force: true });
  }
  await writeHba(dataDir, { allowTcp: false });
  // A clone set up to recover to a point in time (recovery.signal) starts, replays to its target
  // and becomes a primary; anything else starts as a primary after crash recovery.
  // The verifier's key derivation runs on the thread pool while postgres starts.
  const verifier = scramSha256VerifierAsync(branch.password);
  verifier.catch(() => undefined);
  await timed('start', () => (existsSync(join(dataDir, 'recovery.signal')) ? rt.recover(branch, volume) : rt.start(branch, volume)));
  crashPoint(CLONE_POINTS.afterStart);
  // In the branch's own database: the first session after a start rebuilds the relation cache
  // file of the database it opens (PostgreSQL removes them at every start), and the TCP login
  // below, then the user's first connection, open that database: built once here (~7 ms less).
  const point = await timed('password', () => withClient(rt.adminTarget(branch, branch.dbName), async (client) => {
    await setRoleVerifier(client, branch.dbUser, await verifier);
    // After crash recovery the server writes an end-of-recovery checkpoint exactly where replay
    // ended (a cold clone keeps the parent's shutdown checkpoint): that is the branch point. The
    // last commit recovery replayed is when, in the source's history, a clone of a standby stands.
    const { rows } = await client.query<{ lsn: string; at: Date | null }>(
      'SELECT checkpoint_lsn::text AS lsn, pg_last_xact_replay_timestamp() AS at FROM pg_control_checkpoint()',
    );
    return { branchLsn: rows[0]!.lsn, lastCommitAt: rows[0]!.at?.toISOString() ?? null };
  }));
  crashPoint(CLONE_POINTS.passwordSet);
  if (hooks.length > 0) await timed('hooks', () => runBranchHooks(rt, branch, hooks));
  const alongside = options.alongsideOpenTcp ? timed('branch-point', options.alongsideOpenTcp) : undefined;
  alongside?.catch(() => undefined);
  if (options.openTcp !== false) await timed('open-tcp', () => openTcp(rt, branch, volume));
  await alongside;
  return point;
}

/**
 * The hooks of a following root's source (`source set … --after-refresh`): run on each branch of
 * it before anyone can connect (TCP is still closed), over its private socket. A failure fails
 * the operation, which is then undone.
 */
export function sourceHooks(rt: Runtime, parentId: string | null): readonly string[] {
  const source = parentId ? rt.store.getSource(parentId) : undefined;
  return source?.mode === 'follow' ? source.afterRefresh : [];
}

export async function runBranchHooks(rt: Runtime, branch: Pick<BranchRecord, 'id' | 'name' | 'port' | 'dbUser' | 'dbName'>, hooks: readonly string[]): Promise<void> {
  const url = `postgresql://${encodeURIComponent(branch.dbUser)}@/${encodeURIComponent(branch.dbName)}?host=${encodeURIComponent(rt.socketDir(branch.id))}&port=${branch.port}`;
  const run = await runHooks({ commands: hooks, env: { DATABASE_URL: url, PGBRANCH_BRANCH: branch.name } });
  if (!run.failure) return;
  const { step, outputTail } = run.failure;
  throw new PgbranchError('HOOK_FAILED', `hook "${step.command}" of the source failed on "${branch.name}" (exit ${step.exitCode ?? step.signal})\n${outputTail.trimEnd()}`, {
    details: { branch: branch.name, command: step.command, exitCode: step.exitCode, signal: step.signal, output: outputTail },
  });
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
