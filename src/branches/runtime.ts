import { readdir, rm } from 'node:fs/promises';
import { PgbranchError } from '../errors.js';
import { join } from 'node:path';
import {
  findFreePort,
  instanceStatus,
  killInstance,
  prepareDirectory,
  resolveBinaries,
  runRecovery,
  startInstance,
  startSettings,
  stopInstance,
  type ConnectionTarget,
  type OsUser,
  type PgBinaries,
  type StartOptions,
} from '../postgres/index.js';
import type { StateStore, BranchRecord } from '../state/index.js';
import type { StorageDriver } from '../storage/index.js';
import { ForegroundActivity } from '../util/index.js';
import type { HostConfig, HostPaths } from './config.js';
import { assertPoolRoom } from './pool-room.js';

/** How long a point-in-time recovery may replay before it is given up (and undone). */
const RECOVERY_TIMEOUT_MS = 60 * 60_000;

/** Directory inside a volume that holds the PostgreSQL data directory. */
export const PGDATA = 'pgdata';

export interface ProgressEvent {
  readonly phase: string;
  readonly done?: number;
  readonly total?: number;
  readonly unit?: 'items' | 'bytes';
  readonly message?: string;
}
export type ProgressSink = (event: ProgressEvent) => void;

/** Who an instance belongs to: the branch's id (socket dir, log), port and PostgreSQL major. */
export type InstanceOwner = Pick<BranchRecord, 'id' | 'port' | 'pgMajor'>;

/**
 * Everything a branch operation needs from the mechanisms, resolved once per host open.
 * This is the only place where storage, postgres and state meet.
 */
export class Runtime {
  /** Binaries of majors other than the host's, resolved on first use (following roots of other majors). */
  private readonly otherBinaries = new Map<number, Promise<PgBinaries>>();
  /** Operations under way in this process (under the host lock): background upkeep stands aside. */
  readonly foreground = new ForegroundActivity();

  constructor(
    readonly paths: HostPaths,
    readonly config: HostConfig,
    readonly store: StateStore,
    readonly storage: StorageDriver,
    readonly binaries: PgBinaries,
    readonly osUser: OsUser,
  ) {}

  dataDir(volume: string): string {
    return join(this.storage.volumePath(volume), PGDATA);
  }

  socketDir(branchId: string): string {
    return join(this.paths.runDir, branchId);
  }

  logFile(branchId: string): string {
    return join(this.paths.logDir, `${branchId}.log`);
  }

  /** Superuser connection over the branch's private unix socket (trust auth, never TCP). */
  adminTarget(branch: Pick<BranchRecord, 'id' | 'port' | 'dbUser'>, database = 'postgres'): ConnectionTarget {
    return { socketDir: this.socketDir(branch.id), port: branch.port, user: branch.dbUser, database };
  }

  async isRunning(volume: string): Promise<boolean> {
    return (await instanceStatus(this.dataDir(volume))).running;
  }

  /** The server binaries of a data directory's major (null = the host's). */
  binariesFor(major: number | null): Promise<PgBinaries> {
    if (major === null || major === this.binaries.major) return Promise.resolve(this.binaries);
    let found = this.otherBinaries.get(major);
    if (!found) {
      found = resolveBinaries({ major });
      // A failed lookup (binaries not installed) is asked again next time: they may be by then.
      found.catch(() => this.otherBinaries.delete(major));
      this.otherBinaries.set(major, found);
    }
    return found;
  }

  /** Starts the instance serving `volume` for `owner` (its socket dir, log, port and major). */
  async start(owner: InstanceOwner, volume: string): Promise<void> {
    // A start writes (recovery, its checkpoint, WAL): never on a pool about to be full.
    await assertPoolRoom(this, 'start', `start an instance on volume ${volume}`);
    await startInstance(await this.startOptions(owner, volume));
  }

  /**
   * Starts an instance configured to recover to a target (see configureRecoveryTarget) and
   * resolves once it has reached it and become a primary.
   */
  async recover(owner: InstanceOwner, volume: string): Promise<void> {
    await assertPoolRoom(this, 'start', `start an instance on volume ${volume}`);
    // Replaying up to a snapshot interval of a busy source's WAL can take minutes: the wait is
    // bounded only against a recovery that never ends.
    await runRecovery({ ...(await this.startOptions(owner, volume)), timeoutMs: RECOVERY_TIMEOUT_MS });
  }

  private async startOptions(owner: InstanceOwner, volume: string): Promise<StartOptions> {
    const socketDir = this.socketDir(owner.id);
    await prepareDirectory(socketDir, this.osUser, 0o700);
    const dataDir = this.dataDir(volume);
    // A lock file left by a crash or a reboot may name a pid that now belongs to some other
    // process, and postgres would refuse to start; instanceStatus checks the pid really is ours.
    // The socket lock file (.s.PGSQL.<port>.lock) has the same problem — postgres only asks
    // whether its pid is alive, so a reused pid or an unreaped zombie blocks the start — and the
    // socket directory is private to this branch, whose instance is not running: all stale.
    if (!(await instanceStatus(dataDir)).running) {
      await rm(join(dataDir, 'postmaster.pid'), { force: true });
      await removeStaleSocketFiles(socketDir);
    }
    return {
      binaries: await this.binariesFor(owner.pgMajor),
      dataDir,
      osUser: this.osUser,
      port: owner.port,
      socketDir,
      logFile: this.logFile(owner.id),
      settings: { ...startSettings(), ...this.config.postgres.settings },
    };
  }

  async stop(volume: string): Promise<void> {
    await stopInstance(this.dataDir(volume), { mode: 'fast', timeoutMs: 30_000 });
  }

  /** A clean stop, and a kill when that fails: used where nothing may be left running. */
  async stopOrKill(volume: string): Promise<void> {
    await this.stop(volume).catch(() => this.kill(volume));
  }

  /** For rollback of half-made work: no clean shutdown needed, the data is thrown away. */
  async kill(volume: string): Promise<void> {
    await killInstance(this.dataDir(volume));
  }

  /** A loopback port no branch of this host uses and nothing listens on right now. */
  async allocatePort(): Promise<number> {
    // Warm clones (recorded as intents, not branches) run on ports of their own too.
    const used = new Set([...this.store.usedPorts(), ...this.store.listOperations().flatMap((op) => (typeof op.data.port === 'number' ? [op.data.port] : []))]);
    for (let attempt = 0; attempt < 20; attempt++) {
      const port = await findFreePort();
      if (!used.has(port)) return port;
    }
    throw new PgbranchError('PORT_IN_USE', 'could not find a free loopback port that no branch of this host uses', { details: { attempts: 20 } });
  }

  /** Removes the per-branch files outside the pool (socket dir, server log). */
  async removeBranchFiles(branchId: string): Promise<void> {
    await rm(this.socketDir(branchId), { recursive: true, force: true });
    await rm(this.logFile(branchId), { force: true });
  }
}

/** Unix socket and socket lock files a postmaster leaves in its socket directory. */
const SOCKET_FILE = /^\.s\.PGSQL\.\d+(\.lock)?$/;

async function removeStaleSocketFiles(socketDir: string): Promise<void> {
  const entries = await readdir(socketDir).catch(() => [] as string[]);
  await Promise.all(entries.filter((e) => SOCKET_FILE.test(e)).map((e) => rm(join(socketDir, e), { force: true })));
}
