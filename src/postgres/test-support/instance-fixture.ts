import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureOsUser,
  findFreePort,
  initCluster,
  instanceStatus,
  killInstance,
  prepareDirectory,
  resolveBinaries,
  startInstance,
  stopInstance,
  type ConnectionTarget,
  type OsUser,
  type PgBinaries,
} from '../index.js';

/** A temp directory the instance user can traverse (mkdtemp makes 0700). */
export async function traversableTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

export interface TestCluster {
  readonly binaries: PgBinaries;
  readonly osUser: OsUser;
  readonly root: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly superuser: string;
  readonly password: string;
  port: number;
  target(database: string): ConnectionTarget;
  start(options?: { listenTcp?: boolean }): Promise<{ pid: number; readyMs: number }>;
  stop(): Promise<void>;
  /** Stops whatever runs and removes every file. */
  destroy(): Promise<void>;
}

/**
 * A freshly initialised cluster (not started) in its own temp directory, with the binaries
 * pgbranch resolves for `major`, or the given ones (e.g. a major pgbranch cannot find).
 */
export async function createTestCluster(
  options: { major?: number; binaries?: PgBinaries; database?: string; password?: string } = {},
): Promise<TestCluster> {
  const binaries = options.binaries ?? (await resolveBinaries({ major: options.major ?? 18 }));
  const osUser = await ensureOsUser();
  const root = await traversableTempDir(`pgbranch-pg${binaries.major}-`);
  const dataDir = join(root, 'pgdata');
  const socketDir = join(root, 'sock');
  const logFile = join(root, 'postgres.log');
  const superuser = 'postgres';
  const password = options.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  await prepareDirectory(socketDir, osUser, 0o700);
  await initCluster({ binaries, dataDir, osUser, superuser, superuserPassword: password, database: options.database, noSync: true });
  const cluster: TestCluster = {
    binaries,
    osUser,
    root,
    dataDir,
    socketDir,
    logFile,
    superuser,
    password,
    port: await findFreePort(),
    target: (database) => ({ socketDir, port: cluster.port, user: superuser, database }),
    async start(opts = {}) {
      const t0 = performance.now();
      const { pid } = await startInstance({ binaries, dataDir, osUser, logFile, socketDir, port: cluster.port, listenTcp: opts.listenTcp ?? true });
      return { pid, readyMs: performance.now() - t0 };
    },
    stop: () => stopInstance(dataDir, { mode: 'fast', timeoutMs: 15_000 }),
    async destroy() {
      if ((await instanceStatus(dataDir)).running) {
        await stopInstance(dataDir, { mode: 'fast', timeoutMs: 10_000 }).catch(() => killInstance(dataDir));
      }
      await rm(root, { recursive: true, force: true });
    },
  };
  return cluster;
}
