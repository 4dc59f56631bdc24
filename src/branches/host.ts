import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PgbranchError, isPgbranchError, toPgbranchError } from '../errors.js';
import { assertReachable, ensureOsUser, instanceStatus, resolveBinaries } from '../postgres/index.js';
import { StateStore, type BranchRecord, type TokenRole } from '../state/index.js';
import {
  chooseDriver,
  createLoopPool,
  createStorageDriver,
  isMountPoint,
  mountLoopPool,
  probeDirectory,
  type DriverName,
  type PoolUsage,
} from '../storage/index.js';
import { log } from '../util/log.js';
import { withMutex } from '../util/mutex.js';
import { waitFor } from '../util/wait.js';
import { hostPaths, readConfig, resolveHome, writeConfig, type HostConfig, type HostConfigInput, type HostPaths } from './config.js';
import { ActivityTracker } from './activity.js';
import { branchStopped, effectiveIdleTimeoutMs, idleCandidates, rotatePassword, suspend, wake } from './serving.js';
import { authenticate, createToken, tokenInfo, type Principal, type TokenInfo } from './tokens.js';
import { createChild, createRoot, type RootSource } from './create.js';
import { deleteBranch, resetBranch, startBranch, stopBranch } from './lifecycle.js';
import { assertBranchName } from './names.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { Runtime, type ProgressSink } from './runtime.js';
import { connectionInfo, toView, type BranchView, type ConnectionInfo, type EndpointAddress } from './view.js';

export interface OpenOptions {
  readonly home?: string;
  /** How long to wait for another pgbranch process that is changing the host. */
  readonly lockTimeoutMs?: number;
}

export interface InitOptions extends OpenOptions {
  /** 'auto' (default): the home's filesystem if it can snapshot or reflink, else a loop image when root, else copy. */
  readonly driver?: DriverName | 'auto';
  /** Put the pool here instead of <home>/pool (must support the driver unless a loop image is made). */
  readonly poolPath?: string;
  /** Size of the sparse loop image when one is made (default 20 GiB). */
  readonly poolSizeBytes?: number;
  readonly pgMajor?: number;
  readonly pgBinDir?: string;
  readonly osUser?: string;
  readonly dbUser?: string;
  readonly dbName?: string;
  /** Name of the root branch (default "main"). */
  readonly rootName?: string;
  readonly source?: RootSource;
  /** Succeed without changes when the host is already initialised. */
  readonly ifNotExists?: boolean;
  readonly onProgress?: ProgressSink;
  /** Overrides for `pgbranch serve` (listen addresses, public host name, idle timeout). */
  readonly serve?: HostConfigInput['serve'];
}

export interface CreateOptions {
  /** Parent branch; omit with a root source to make another root branch. */
  readonly from?: string;
  readonly source?: RootSource;
  /** CI retries: an existing branch with the same name and parent is returned, not an error. */
  readonly ifNotExists?: boolean;
  readonly onProgress?: ProgressSink;
}

export interface HostStatus {
  readonly home: string;
  readonly driver: DriverName;
  readonly poolPath: string;
  readonly loopImage: string | null;
  readonly capabilities: Runtime['storage']['capabilities'];
  readonly pool: PoolUsage;
  readonly postgres: { readonly version: string; readonly major: number; readonly binDir: string; readonly source: string; readonly osUser: string };
  readonly branches: number;
}

const DEFAULT_LOOP_SIZE_BYTES = 20 * 1024 ** 3;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One host: its config, metadata, pool and instances. Every public method is a complete domain
 * operation; mutations hold the host lock so that two CLI processes never interleave steps.
 */
export class Host {
  private readonly activity = new ActivityTracker();
  private boundEndpoint: EndpointAddress | null = null;

  private constructor(
    private readonly rt: Runtime,
    private readonly lockTimeoutMs: number,
  ) {}

  get paths(): HostPaths {
    return this.rt.paths;
  }

  /** Opens an initialised host and reconciles it (finishes or undoes interrupted operations). */
  static async open(options: OpenOptions = {}): Promise<Host> {
    const paths = hostPaths(resolveHome(options.home));
    const config = readConfig(paths);
    const host = new Host(await buildRuntime(paths, config), options.lockTimeoutMs ?? 60_000);
    await host.withLock(() => reconcile(host.rt));
    return host;
  }

  /** Creates the host (pool, config, metadata) and its root branch. */
  static async init(options: InitOptions = {}): Promise<{ host: Host; root: BranchView; created: boolean; adminToken?: string }> {
    const paths = hostPaths(resolveHome(options.home));
    const rootName = assertBranchName(options.rootName ?? 'main');
    if (existsSync(paths.configFile)) {
      const host = await Host.open(options);
      const existing = host.rt.store.listBranches();
      const existingRoot = existing.find((b) => b.name === rootName);
      if (existingRoot) {
        if (options.ifNotExists) return { host, root: await host.view(existingRoot), created: false };
        host.close();
        throw new PgbranchError('HOST_ALREADY_INITIALIZED', `a pgbranch host already exists at ${paths.home}`, { details: { home: paths.home } });
      }
      if (existing.length > 0) {
        host.close();
        throw new PgbranchError('HOST_ALREADY_INITIALIZED', `a pgbranch host already exists at ${paths.home} (without a "${rootName}" branch)`);
      }
      // An init that died before its root branch was made: finish it.
      const root = await host.withLock(() => createRoot(host.rt, rootName, options.source ?? { kind: 'empty' }, options.onProgress));
      return { host, root: await host.view(root), created: true };
    }

    await mkdir(paths.home, { recursive: true, mode: 0o755 });
    // Instances run as an unprivileged user who must be able to reach the pool and sockets.
    await chmod(paths.home, 0o755);
    const osUser = await ensureOsUser(options.osUser ?? 'pgbranch');
    await assertReachable(paths.home, osUser);
    const binaries = await resolveBinaries({ major: options.pgMajor, binDir: options.pgBinDir });
    const storage = await planStorage(paths, options);
    const input: HostConfigInput = {
      version: 1,
      storage,
      postgres: {
        major: binaries.major,
        ...(options.pgBinDir ? { binDir: options.pgBinDir } : {}),
        osUser: osUser.name,
        settings: {},
      },
      defaults: { dbUser: options.dbUser ?? 'postgres', dbName: options.dbName ?? 'app' },
      serve: options.serve ?? {},
    };
    await provisionPool(input.storage, options.onProgress);
    await mkdir(paths.runDir, { recursive: true, mode: 0o755 });
    await mkdir(paths.logDir, { recursive: true, mode: 0o755 });
    writeConfig(paths, input);
    const config = readConfig(paths);
    const host = new Host(await buildRuntime(paths, config), options.lockTimeoutMs ?? 60_000);
    const root = await host.withLock(() => createRoot(host.rt, rootName, options.source ?? { kind: 'empty' }, options.onProgress));
    // The first admin token, shown once: the way to reach this host remotely.
    const { token: adminToken } = createToken(host.rt.store, { name: 'init-admin', role: 'admin' });
    return { host, root: await host.view(root), created: true, adminToken };
  }

  close(): void {
    this.rt.store.close();
  }

  async status(): Promise<HostStatus> {
    const { storage, binaries, config, paths } = this.rt;
    return {
      home: paths.home,
      driver: storage.name,
      poolPath: storage.poolPath,
      loopImage: config.storage.loop?.imagePath ?? null,
      capabilities: storage.capabilities,
      pool: await storage.poolUsage(),
      postgres: { version: binaries.version, major: binaries.major, binDir: binaries.binDir, source: binaries.source, osUser: this.rt.osUser.name },
      branches: this.rt.store.listBranches().length,
    };
  }

  async listBranches(options: { withUsage?: boolean } = {}): Promise<BranchView[]> {
    const records = this.rt.store.listBranches();
    return Promise.all(records.map((r) => this.view(r, options.withUsage ?? true)));
  }

  async getBranch(name: string): Promise<BranchView> {
    return this.view(this.find(name));
  }

  /** Connection details; starts the branch first if it is not running (a URL must work). */
  async connectionInfo(name: string): Promise<ConnectionInfo> {
    const branch = this.find(name);
    if (!(await this.rt.isRunning(branch.volume))) {
      await this.withLock(() => startBranch(this.rt, this.find(name)));
    }
    return connectionInfo(this.find(name), this.endpoint());
  }

  /**
   * Where the Postgres endpoint is reached: the serving process sets the address it really
   * bound; elsewhere it is the configured one (unknown when configured as port 0).
   */
  endpoint(): EndpointAddress | null {
    if (this.boundEndpoint) return this.boundEndpoint;
    const { proxy, publicHost } = this.rt.config.serve;
    return proxy.port === 0 ? null : { host: publicHost, port: proxy.port };
  }

  setBoundEndpoint(port: number): void {
    this.boundEndpoint = { host: this.rt.config.serve.publicHost, port };
  }

  /** Serving settings of this host (listen addresses, TLS, idle timeout). */
  get serveConfig(): HostConfig['serve'] {
    return this.rt.config.serve;
  }

  // --- endpoint support: sessions, scale to zero ---

  /**
   * A client connection through the endpoint wants `name`: wakes the branch if it is suspended
   * and counts the connection until `release` (idle suspension waits for zero).
   */
  async openSession(name: string): Promise<{ port: number; release: () => void }> {
    let branch = this.find(name);
    if (branch.desiredState === 'stopped') throw branchStopped(branch);
    const release = this.activity.acquire(branch.id);
    try {
      if (branch.desiredState !== 'running' || !(await this.rt.isRunning(branch.volume))) {
        await this.withLock(async () => {
          branch = this.find(name);
          await wake(this.rt, branch);
        });
      }
      return { port: branch.port, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Suspends branches idle for their timeout; returns their names. Run periodically by serve. */
  async suspendIdleBranches(nowMs = Date.now()): Promise<string[]> {
    const suspended: string[] = [];
    for (const candidate of await idleCandidates(this.rt, this.activity, nowMs)) {
      await this.withLock(async () => {
        const branch = this.rt.store.getBranchById(candidate.id);
        // A connection may have arrived while we looked: the lock orders us against its wake.
        if (!branch || branch.desiredState !== 'running' || this.activity.connections(branch.id) > 0) return;
        await suspend(this.rt, branch);
        suspended.push(branch.name);
      });
    }
    return suspended;
  }

  async suspendBranch(name: string): Promise<BranchView> {
    await this.withLock(() => suspend(this.rt, this.find(name)));
    return this.getBranch(name);
  }

  async rotatePassword(name: string): Promise<ConnectionInfo> {
    await this.withLock(() => rotatePassword(this.rt, this.find(name)));
    return this.connectionInfo(name);
  }

  /** Changes per-branch settings. `idleTimeoutMs`: null = host default, 0 = never suspend. */
  async updateBranch(name: string, change: { idleTimeoutMs?: number | null }): Promise<BranchView> {
    if (change.idleTimeoutMs !== undefined && change.idleTimeoutMs !== null && (!Number.isInteger(change.idleTimeoutMs) || change.idleTimeoutMs < 0)) {
      throw new PgbranchError('INVALID_ARGUMENT', 'idle timeout must be a whole number of milliseconds, 0 (never) or null (host default)');
    }
    await this.withLock(async () => {
      const branch = this.find(name);
      if (change.idleTimeoutMs !== undefined) this.rt.store.setIdleTimeout(branch.id, change.idleTimeoutMs);
    });
    return this.getBranch(name);
  }

  /** Stops every instance cleanly (serve shutdown); desired states are kept for the next start. */
  async stopAllInstances(): Promise<void> {
    await this.withLock(async () => {
      for (const branch of this.rt.store.listBranches()) {
        await this.rt.stop(branch.volume).catch((err: unknown) => log.warn({ branch: branch.name, err: (err as Error).message }, 'could not stop branch'));
      }
    });
  }

  // --- API tokens ---

  /** `creator`: the token asking (API); a token never creates one with more power than itself. */
  async createToken(request: { name: string; role: TokenRole; branchPatterns?: readonly string[] }, creator?: Principal): Promise<{ token: string; info: TokenInfo }> {
    return createToken(this.rt.store, request, creator);
  }

  async listTokens(): Promise<TokenInfo[]> {
    return this.rt.store.listTokens().map(tokenInfo);
  }

  async revokeToken(id: string): Promise<void> {
    if (!this.rt.store.deleteToken(id)) throw new PgbranchError('TOKEN_NOT_FOUND', `no token with id "${id}"`, { details: { id } });
  }

  authenticate(token: string | undefined): Principal {
    return authenticate(this.rt.store, token);
  }

  async createBranch(name: string, options: CreateOptions = {}): Promise<{ branch: BranchView; created: boolean }> {
    assertBranchName(name);
    if (options.from !== undefined) assertBranchName(options.from);
    if (options.from !== undefined && options.source !== undefined) {
      throw new PgbranchError('INVALID_ARGUMENT', 'give either a parent branch or a root source (dump file / URL / empty), not both');
    }
    const record = await this.withLock(async () => {
      const existing = this.rt.store.getBranchByName(name);
      if (existing) {
        const parent = existing.parentId ? this.rt.store.getBranchById(existing.parentId)?.name : undefined;
        const sameOrigin = options.from !== undefined ? parent === options.from : existing.parentId === null;
        if (options.ifNotExists && sameOrigin) return { record: existing, created: false };
        const origin = parent ? `from "${parent}"` : 'as a root branch';
        throw new PgbranchError('BRANCH_EXISTS', `branch "${name}" already exists (${origin})`, { details: { name, parent: parent ?? null } });
      }
      if (options.from === undefined) {
        return { record: await createRoot(this.rt, name, options.source ?? { kind: 'empty' }, options.onProgress), created: true };
      }
      const parent = this.rt.store.getBranchByName(options.from);
      if (!parent) {
        throw new PgbranchError('PARENT_NOT_FOUND', `cannot create "${name}": no branch named "${options.from}"`, { details: { parent: options.from } });
      }
      return { record: await createChild(this.rt, name, parent), created: true };
    });
    return { branch: await this.view(record.record, false), created: record.created };
  }

  async resetBranch(name: string): Promise<BranchView> {
    const record = await this.withLock(() => resetBranch(this.rt, this.find(name)));
    return this.view(record, false);
  }

  async deleteBranch(name: string): Promise<void> {
    await this.withLock(async () => {
      const branch = this.find(name);
      await deleteBranch(this.rt, branch);
      this.activity.forget(branch.id);
    });
  }

  async startBranch(name: string): Promise<BranchView> {
    await this.withLock(() => startBranch(this.rt, this.find(name)));
    return this.getBranch(name);
  }

  async stopBranch(name: string): Promise<BranchView> {
    await this.withLock(() => stopBranch(this.rt, this.find(name)));
    return this.getBranch(name);
  }

  /** Runs reconcile on demand (normally done at open). */
  async reconcile(): Promise<ReconcileReport> {
    return this.withLock(() => reconcile(this.rt));
  }

  private find(name: string): BranchRecord {
    assertBranchName(name);
    const record = this.rt.store.getBranchByName(name);
    if (!record) throw new PgbranchError('BRANCH_NOT_FOUND', `no branch named "${name}"`, { details: { name } });
    return record;
  }

  private async view(record: BranchRecord, withUsage = true): Promise<BranchView> {
    const parent = record.parentId ? this.rt.store.getBranchById(record.parentId) : undefined;
    const [status, usage] = await Promise.all([
      instanceStatus(this.rt.dataDir(record.volume)),
      withUsage ? this.rt.storage.usage(record.volume).catch(() => undefined) : Promise.resolve(undefined),
    ]);
    return toView(record, parent?.name ?? null, status.running, effectiveIdleTimeoutMs(this.rt, record), usage);
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withMutex(this.rt.paths.home, () => this.withHostLock(fn));
  }

  private async withHostLock<T>(fn: () => Promise<T>): Promise<T> {
    const { store } = this.rt;
    try {
      await waitFor(() => (store.tryLock(process.pid, isAlive) ? true : undefined), {
        timeoutMs: this.lockTimeoutMs,
        intervalMs: 25,
        what: 'the host lock',
      });
    } catch (cause) {
      throw new PgbranchError('HOST_BUSY', `another pgbranch process is changing this host; gave up after ${this.lockTimeoutMs} ms`, { cause });
    }
    try {
      return await fn();
    } catch (err) {
      // A failed operation is undone at once by the same code that undoes a crashed one, so a
      // failure leaves nothing half-made either.
      if (store.listOperations().length > 0) {
        await reconcile(this.rt).catch((cleanupErr: unknown) => log.warn({ err: (cleanupErr as Error).message }, 'cleanup after a failed operation failed'));
      }
      throw isPgbranchError(err) ? err : toPgbranchError(err);
    } finally {
      store.unlock(process.pid);
    }
  }
}

async function buildRuntime(paths: HostPaths, config: HostConfig): Promise<Runtime> {
  await ensurePoolMounted(config.storage);
  const [binaries, osUser] = await Promise.all([
    resolveBinaries({ major: config.postgres.major, binDir: config.postgres.binDir }),
    ensureOsUser(config.postgres.osUser),
  ]);
  const storage = createStorageDriver({ driver: config.storage.driver, poolPath: config.storage.poolPath });
  return new Runtime(paths, config, StateStore.open(paths.stateFile), storage, binaries, osUser);
}

/** After a reboot the loop image is not mounted any more: mount it before touching volumes. */
async function ensurePoolMounted(storage: HostConfig['storage']): Promise<void> {
  const loop = storage.loop;
  if (!loop) return;
  if (await isMountPoint(storage.poolPath)) return;
  await mountLoopPool({ imagePath: loop.imagePath, mountPoint: storage.poolPath, fsType: loop.fsType });
}

async function planStorage(paths: HostPaths, options: InitOptions): Promise<HostConfig['storage']> {
  const wanted = options.driver ?? 'auto';
  const poolPath = options.poolPath ?? paths.defaultPoolPath;
  const probeAt = existsSync(poolPath) ? poolPath : dirname(poolPath);
  const probe = await probeDirectory(probeAt);
  const native = chooseDriver(probe);
  const isRoot = process.getuid?.() === 0;
  const loopFor = (driver: 'btrfs' | 'reflink'): HostConfig['storage'] => {
    if (!isRoot) {
      throw new PgbranchError('PERMISSION_DENIED', `the ${driver} driver needs a ${driver === 'btrfs' ? 'btrfs' : 'reflink-capable (XFS, btrfs)'} pool; ${probeAt} is ${probe.fsType} and only root can create a loop-mounted pool`);
    }
    return {
      driver,
      poolPath,
      loop: { imagePath: paths.defaultLoopImage, fsType: driver === 'btrfs' ? 'btrfs' : 'xfs', sizeBytes: options.poolSizeBytes ?? DEFAULT_LOOP_SIZE_BYTES },
    };
  };
  switch (wanted) {
    case 'btrfs':
      return probe.btrfsSubvolumes ? { driver: 'btrfs', poolPath } : loopFor('btrfs');
    case 'reflink':
      return probe.reflink ? { driver: 'reflink', poolPath } : loopFor('reflink');
    case 'copy':
      return { driver: 'copy', poolPath };
    case 'auto':
      if (native) return { driver: native, poolPath };
      if (isRoot) return loopFor('btrfs');
      options.onProgress?.({
        phase: 'warning',
        message: `${probeAt} (${probe.fsType}) cannot snapshot or reflink and only root can make a loop pool: using the copy driver, branching is O(size)`,
      });
      return { driver: 'copy', poolPath };
  }
}

async function provisionPool(storage: HostConfig['storage'], onProgress?: ProgressSink): Promise<void> {
  const { loop, poolPath } = storage;
  if (!loop) {
    await mkdir(poolPath, { recursive: true, mode: 0o755 });
    await chmod(poolPath, 0o755);
    return;
  }
  if (existsSync(loop.imagePath)) {
    await ensurePoolMounted(storage);
    return;
  }
  onProgress?.({ phase: 'pool', message: `creating a ${Math.round(loop.sizeBytes / 1024 ** 3)} GiB sparse ${loop.fsType} pool at ${loop.imagePath}` });
  await createLoopPool({ imagePath: loop.imagePath, mountPoint: poolPath, sizeBytes: loop.sizeBytes, fsType: loop.fsType });
  await chmod(poolPath, 0o755);
}
