import { existsSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PgbranchError, isPgbranchError, toPgbranchError } from '../errors.js';
import { assertReachable, ensureOsUser, instanceStatus, resolveBinaries } from '../postgres/index.js';
import { StateStore, type AuditQuery, type BranchRecord, type TokenRole } from '../state/index.js';
import {
  chooseDriver,
  createLoopPool,
  createStorageDriver,
  isMountPoint,
  mountLoopPool,
  probeDirectory,
  type DriverName,
  type PoolUsage,
  type VolumeLimitSupport,
} from '../storage/index.js';
import { log } from '../util/log.js';
import { withMutex } from '../util/mutex.js';
import { waitFor } from '../util/wait.js';
import { hostPaths, readConfig, resolveHome, writeConfig, type HostConfig, type HostConfigInput, type HostPaths } from './config.js';
import { ActivityTracker } from './activity.js';
import { HOST_ACTOR, audited, localActor, observeOperation, type Actor, type AuditEntry, type AuditTarget } from './audit.js';
import { assertNotProtected, canonicalTime, expiryChange, isExpired, planGc, resolveExpiry, type ExpiryRequest, type GcAction, type GcReport, type PlannedGc } from './governance.js';
import { branchStopped, effectiveIdleTimeoutMs, idleCandidates, rotatePassword, suspend, wake } from './serving.js';
import { authenticate, createToken, tokenInfo, type Principal, type TokenInfo } from './tokens.js';
import { createChild, createRoot, type RootSource } from './create.js';
import { assertBranchCountQuota, assertPoolFloor, changeOwnBytesLimit, resolveOwnBytesLimit } from './quotas.js';
import { deleteBranch, resetBranch, startBranch, stopBranch } from './lifecycle.js';
import { assertBranchName } from './names.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import { createFromSnapshot, createSnapshot, deleteSnapshot, findSnapshot, toSnapshotView, type SnapshotView } from './snapshot.js';
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

export interface CreateOptions extends ExpiryRequest {
  /** Parent branch; omit with a root source to make another root branch. */
  readonly from?: string;
  /** Snapshot to make the branch from (instead of a parent or a root source). */
  readonly fromSnapshot?: string;
  readonly source?: RootSource;
  /** CI retries: an existing branch with the same name and parent is returned, not an error. */
  readonly ifNotExists?: boolean;
  /**
   * Cap on the bytes the branch may own (written since it was branched). Absent = the host's
   * `quotas.maxOwnBytesPerBranch` for clones, none for roots; null = none (refused when the host
   * has a ceiling).
   */
  readonly maxOwnBytes?: number | null;
  readonly onProgress?: ProgressSink;
}

/** Per-branch settings; every field is optional, absent = unchanged. */
export interface BranchChange {
  /** null = host default, 0 = never suspend. */
  readonly idleTimeoutMs?: number | null;
  readonly protected?: boolean;
  /** Expire this long from now; null = never. */
  readonly ttlMs?: number | null;
  /** Expire at this ISO-8601 time; null = never. */
  readonly expiresAt?: string | null;
  /** Cap on the bytes the branch may own; null = none. Takes effect at once, on the running branch. */
  readonly maxOwnBytes?: number | null;
}

/** Filters of `listAudit`; `since`/`until` are ISO-8601 times. */
export type AuditFilter = AuditQuery;

export interface HostStatus {
  readonly home: string;
  readonly driver: DriverName;
  readonly poolPath: string;
  readonly loopImage: string | null;
  readonly capabilities: Runtime['storage']['capabilities'];
  readonly pool: PoolUsage;
  /** What the pool can cap per branch (see VolumeLimitKind) and why not, if it cannot. */
  readonly branchLimits: VolumeLimitSupport;
  readonly quotas: HostConfig['quotas'];
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
  /** Who the audit log names for calls through this object (see `as`). */
  private actor: Actor = localActor();

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
    await host.withLock(async () => {
      await reconcile(host.rt);
      // Calls whose process died before finishing: their entries stay, marked as such.
      host.rt.store.markInterruptedAudit(isAlive);
    });
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
      const made = await host.withLock(() =>
        createRoot(host.rt, rootName, options.source ?? { kind: 'empty' }, { createdBy: host.actor.id, maxOwnBytes: null }, options.onProgress),
      );
      host.rt.store.setProtected(made.id, true);
      return { host, root: await host.view(host.rt.store.getBranchById(made.id)!), created: true };
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
    const source = options.source ?? { kind: 'empty' };
    const made = await host.audit('create', host.branchTarget(rootName, { parent: null, source: source.kind, init: true }), () =>
      host.withLock(() => createRoot(host.rt, rootName, source, { createdBy: host.actor.id, maxOwnBytes: null }, options.onProgress)),
    );
    // The root made by init is what every branch comes from: protected until someone says otherwise.
    host.rt.store.setProtected(made.id, true);
    const root = host.rt.store.getBranchById(made.id)!;
    // The first admin token, shown once: the way to reach this host remotely.
    const { token: adminToken } = createToken(host.rt.store, { name: 'init-admin', role: 'admin' });
    return { host, root: await host.view(root), created: true, adminToken };
  }

  close(): void {
    this.rt.store.close();
  }

  /**
   * The same host, recording `actor` in the audit log for every call made through the returned
   * object (the API makes one per request with the token; the CLI's default is the local OS
   * user). It shares everything with this host, lock and activity included: only the actor
   * differs, so no method signature has to carry it.
   */
  as(actor: Actor): Host {
    const view = Object.create(this) as Host;
    view.actor = actor;
    return view;
  }

  /** The audit log, newest first. */
  async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    if (filter.limit !== undefined && (!Number.isInteger(filter.limit) || filter.limit < 1)) {
      throw new PgbranchError('INVALID_ARGUMENT', 'limit must be a positive whole number');
    }
    if (filter.branch !== undefined) assertBranchName(filter.branch);
    return this.rt.store.listAudit({
      ...filter,
      since: filter.since === undefined ? undefined : canonicalTime(filter.since, 'since'),
      until: filter.until === undefined ? undefined : canonicalTime(filter.until, 'until'),
    });
  }

  /** Records one mutating call of this object's actor (failures included). */
  private audit<T>(operation: string, target: AuditTarget, fn: () => Promise<T>, targetAfter?: (result: T) => string): Promise<T> {
    return audited(this.rt.store, this.actor, operation, target, fn, targetAfter);
  }

  private branchTarget(name: string, details?: Record<string, unknown>): AuditTarget {
    return { kind: 'branch', name, details };
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
      branchLimits: await storage.limitSupport(),
      quotas: config.quotas,
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
        const started = performance.now();
        await this.withLock(async () => {
          branch = this.find(name);
          await wake(this.rt, branch);
        });
        observeOperation({ operation: 'wake', result: 'ok', durationMs: Math.round(performance.now() - started) });
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
        await audited(this.rt.store, HOST_ACTOR, 'suspend', this.branchTarget(branch.name, { reason: 'idle' }), () => suspend(this.rt, branch));
        suspended.push(branch.name);
      });
    }
    return suspended;
  }

  /**
   * Deletes branches past their expiry, protected ones excepted (they wait until unprotected).
   * Run periodically by serve; returns the names deleted.
   */
  async deleteExpiredBranches(nowMs = Date.now()): Promise<string[]> {
    const deleted: string[] = [];
    for (const candidate of this.rt.store.listBranches().filter((b) => !b.protected && isExpired(b, nowMs))) {
      await this.withLock(async () => {
        // Re-read under the lock: the expiry may have been extended or the branch protected since.
        const branch = this.rt.store.getBranchById(candidate.id);
        if (!branch || branch.protected || !isExpired(branch, nowMs)) return;
        await audited(this.rt.store, HOST_ACTOR, 'expire', this.branchTarget(branch.name, { expiresAt: branch.expiresAt }), () => this.deleteRecord(branch));
        deleted.push(branch.name);
      });
    }
    return deleted;
  }

  /**
   * Removes what the metadata and the pool disagree on, expired branches and idle instances
   * (see GcActionKind). A dry run only reports; a real run audits each action.
   */
  async gc(options: { dryRun?: boolean } = {}, nowMs = Date.now()): Promise<GcReport> {
    const dryRun = options.dryRun ?? false;
    const run = () =>
      this.withLock(async () => {
        const planned = await planGc(this.rt, this.activity, nowMs);
        if (dryRun) return { dryRun, actions: planned.map((p): GcAction => ({ kind: p.kind, target: p.target, done: false })) };
        const actions: GcAction[] = [];
        for (const p of planned) {
          const target: AuditTarget = p.branch ? this.branchTarget(p.target) : { kind: 'host', name: p.target, details: { volume: p.target } };
          await this.audit(`gc:${p.kind}`, target, () => this.applyGc(p));
          actions.push({ kind: p.kind, target: p.target, done: true });
        }
        return { dryRun, actions };
      });
    // A dry run changes nothing, so it is not an audited mutation.
    return dryRun ? run() : this.audit('gc', { kind: 'host', name: 'gc' }, run);
  }

  private async applyGc(p: PlannedGc): Promise<void> {
    switch (p.kind) {
      case 'orphan-staging':
        await this.rt.storage.removeStaging(p.target);
        return;
      case 'orphan-volume':
      case 'orphan-instance':
        await this.rt.kill(p.target);
        await this.rt.storage.deleteVolume(p.target);
        {
          // Volumes are named `<branch id>.<suffix>` (volumeName): the socket dir and log of the
          // instance that ran on it go too, unless a branch still has that id.
          const branchId = p.target.split('.')[0]!;
          if (!this.rt.store.getBranchById(branchId)) await this.rt.removeBranchFiles(branchId);
        }
        return;
      case 'missing-volume':
        // One row delete: atomic without an intent; its run files are debris reconcile also removes.
        this.rt.store.deleteBranch(p.branch!.id);
        this.activity.forget(p.branch!.id);
        await this.rt.removeBranchFiles(p.branch!.id);
        return;
      case 'expired':
        await this.deleteRecord(p.branch!);
        return;
      case 'idle-suspend': {
        const branch = this.rt.store.getBranchById(p.branch!.id);
        if (branch && branch.desiredState === 'running' && this.activity.connections(branch.id) === 0) await suspend(this.rt, branch);
        return;
      }
    }
  }

  async suspendBranch(name: string): Promise<BranchView> {
    await this.audit('suspend', this.branchTarget(name), () => this.withLock(() => suspend(this.rt, this.find(name))));
    return this.getBranch(name);
  }

  async rotatePassword(name: string): Promise<ConnectionInfo> {
    await this.audit('rotate-password', this.branchTarget(name), () => this.withLock(() => rotatePassword(this.rt, this.find(name))));
    return this.connectionInfo(name);
  }

  /**
   * Changes per-branch settings: idle timeout (null = host default, 0 = never suspend),
   * protection, and expiry (a TTL from now or an absolute time; null = never).
   */
  async updateBranch(name: string, change: BranchChange): Promise<BranchView> {
    // The requested values are recorded as given (none is secret): the entry says what was asked.
    const details = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
    await this.audit('update', this.branchTarget(name, details), async () => {
      if (change.idleTimeoutMs !== undefined && change.idleTimeoutMs !== null && (!Number.isInteger(change.idleTimeoutMs) || change.idleTimeoutMs < 0)) {
        throw new PgbranchError('INVALID_ARGUMENT', 'idle timeout must be a whole number of milliseconds, 0 (never) or null (host default)');
      }
      const expiresAt = expiryChange(change);
      await this.withLock(async () => {
        const branch = this.find(name);
        // The cap first: it is the one change that can be refused (ceiling, pool support), and
        // then nothing else has changed either.
        if (change.maxOwnBytes !== undefined) await changeOwnBytesLimit(this.rt, branch, change.maxOwnBytes);
        this.rt.store.transaction(() => {
          if (change.idleTimeoutMs !== undefined) this.rt.store.setIdleTimeout(branch.id, change.idleTimeoutMs);
          if (change.protected !== undefined) this.rt.store.setProtected(branch.id, change.protected);
          if (expiresAt !== undefined) this.rt.store.setExpiresAt(branch.id, expiresAt);
        });
      });
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
    // The audit names the token's id once it exists; never its secret.
    return this.audit(
      'token-create',
      { kind: 'token', name: request.name, details: { name: request.name, role: request.role, branchPatterns: request.branchPatterns ?? [] } },
      async () => createToken(this.rt.store, request, creator),
      (result) => result.info.tokenId,
    );
  }

  async listTokens(): Promise<TokenInfo[]> {
    return this.rt.store.listTokens().map(tokenInfo);
  }

  async revokeToken(id: string): Promise<void> {
    await this.audit('token-revoke', { kind: 'token', name: id }, async () => {
      if (!this.rt.store.deleteToken(id)) throw new PgbranchError('TOKEN_NOT_FOUND', `no token with id "${id}"`, { details: { id } });
    });
  }

  authenticate(token: string | undefined): Principal {
    return authenticate(this.rt.store, token);
  }

  // --- snapshots ---

  /** A named, immutable, consistent point of `branch` that branches can be created from. */
  async createSnapshot(branch: string, name: string): Promise<SnapshotView> {
    // Audited against the branch: a snapshot is its data, and token patterns filter on branch names.
    const record = await this.audit('snapshot-create', this.branchTarget(branch, { snapshot: name }), async () => {
      assertBranchName(name);
      return this.withLock(async () => {
        const source = this.find(branch);
        if (this.rt.store.getSnapshotByName(name)) {
          throw new PgbranchError('SNAPSHOT_EXISTS', `snapshot "${name}" already exists`, { details: { name } });
        }
        await assertPoolFloor(this.rt, `snapshot "${name}"`);
        return createSnapshot(this.rt, name, source);
      });
    });
    return toSnapshotView(this.rt, record);
  }

  async listSnapshots(): Promise<SnapshotView[]> {
    return this.rt.store.listSnapshots().map((s) => toSnapshotView(this.rt, s));
  }

  async getSnapshot(name: string): Promise<SnapshotView> {
    assertBranchName(name);
    return toSnapshotView(this.rt, findSnapshot(this.rt, name));
  }

  /** Removes the snapshot; branches made from it keep working (but cannot be reset any more). */
  async deleteSnapshot(name: string): Promise<void> {
    assertBranchName(name);
    const known = this.rt.store.getSnapshotByName(name);
    await this.audit('snapshot-delete', this.branchTarget(known?.sourceBranchName ?? name, { snapshot: name }), () =>
      this.withLock(async () => deleteSnapshot(this.rt, findSnapshot(this.rt, name))),
    );
  }

  async createBranch(name: string, options: CreateOptions = {}): Promise<{ branch: BranchView; created: boolean }> {
    const details = {
      parent: options.from ?? null,
      ...(options.fromSnapshot !== undefined ? { snapshot: options.fromSnapshot } : {}),
      source: options.source?.kind ?? (options.fromSnapshot !== undefined ? 'snapshot' : options.from === undefined ? 'empty' : 'branch'),
    };
    return this.audit('create', this.branchTarget(name, details), () => this.createBranchUnaudited(name, options));
  }

  private async createBranchUnaudited(name: string, options: CreateOptions): Promise<{ branch: BranchView; created: boolean }> {
    assertBranchName(name);
    // Resolved before anything is made: a bad expiry must not leave a branch behind.
    const expiresAt = resolveExpiry(this.rt.config, name, options);
    if (options.from !== undefined) assertBranchName(options.from);
    if (options.from !== undefined && options.source !== undefined) {
      throw new PgbranchError('INVALID_ARGUMENT', 'give either a parent branch or a root source (dump file / URL / empty), not both');
    }
    if (options.fromSnapshot !== undefined) {
      assertBranchName(options.fromSnapshot);
      if (options.from !== undefined || options.source !== undefined) {
        throw new PgbranchError('INVALID_ARGUMENT', 'give a snapshot, a parent branch or a root source, not more than one');
      }
    }
    const record = await this.withLock(async () => {
      const existing = this.rt.store.getBranchByName(name);
      if (existing && options.fromSnapshot !== undefined) {
        const snapshot = this.rt.store.getSnapshotByName(options.fromSnapshot);
        if (options.ifNotExists && snapshot && existing.parentSnapshotId === snapshot.id) return { record: existing, created: false };
        throw new PgbranchError('BRANCH_EXISTS', `branch "${name}" already exists`, { details: { name } });
      }
      if (existing) {
        const parent = existing.parentId ? this.rt.store.getBranchById(existing.parentId)?.name : undefined;
        const sameOrigin = options.from !== undefined ? parent === options.from : existing.parentId === null && existing.parentSnapshotId === null;
        if (options.ifNotExists && sameOrigin) return { record: existing, created: false };
        const origin = parent ? `from "${parent}"` : 'as a root branch';
        throw new PgbranchError('BRANCH_EXISTS', `branch "${name}" already exists (${origin})`, { details: { name, parent: parent ?? null } });
      }
      const isRoot = options.fromSnapshot === undefined && options.from === undefined;
      // Quotas after the existing-branch answer (a CI retry must not be refused) and before
      // anything is made.
      assertBranchCountQuota(this.rt, this.actor);
      const settings = { createdBy: this.actor.id, maxOwnBytes: await resolveOwnBytesLimit(this.rt, options.maxOwnBytes, isRoot ? 'root' : 'clone') };
      let made: BranchRecord;
      if (options.fromSnapshot !== undefined) {
        const snapshot = findSnapshot(this.rt, options.fromSnapshot);
        await assertPoolFloor(this.rt, `branch "${name}"`);
        made = await createFromSnapshot(this.rt, name, snapshot, settings);
      } else if (isRoot) {
        await assertPoolFloor(this.rt, `branch "${name}"`);
        made = await createRoot(this.rt, name, options.source ?? { kind: 'empty' }, settings, options.onProgress);
      } else {
        const parent = this.rt.store.getBranchByName(options.from!);
        if (!parent) {
          throw new PgbranchError('PARENT_NOT_FOUND', `cannot create "${name}": no branch named "${options.from}"`, { details: { parent: options.from } });
        }
        await assertPoolFloor(this.rt, `branch "${name}"`);
        made = await createChild(this.rt, name, parent, settings);
      }
      // Set after the create commits: a crash in between leaves a branch that never expires,
      // the safe side (nothing is deleted that the caller may still want).
      if (expiresAt !== null) this.rt.store.setExpiresAt(made.id, expiresAt);
      return { record: this.rt.store.getBranchById(made.id)!, created: true };
    });
    return { branch: await this.view(record.record, false), created: record.created };
  }

  async resetBranch(name: string): Promise<BranchView> {
    const record = await this.audit('reset', this.branchTarget(name), () =>
      this.withLock(async () => {
        const branch = this.find(name);
        // A root branch has nothing to reset from whatever its protection: that error says more.
        if (branch.parentId !== null || branch.parentSnapshotId !== null) assertNotProtected(branch, 'reset');
        return resetBranch(this.rt, branch);
      }),
    );
    return this.view(record, false);
  }

  async deleteBranch(name: string): Promise<void> {
    await this.audit('delete', this.branchTarget(name), () =>
      this.withLock(async () => {
        const branch = this.find(name);
        assertNotProtected(branch, 'delete');
        await this.deleteRecord(branch);
      }),
    );
  }

  async startBranch(name: string): Promise<BranchView> {
    await this.audit('start', this.branchTarget(name), () => this.withLock(() => startBranch(this.rt, this.find(name))));
    return this.getBranch(name);
  }

  async stopBranch(name: string): Promise<BranchView> {
    await this.audit('stop', this.branchTarget(name), () => this.withLock(() => stopBranch(this.rt, this.find(name))));
    return this.getBranch(name);
  }

  /** Under the lock: deletes a branch (children keep working) and forgets its activity. */
  private async deleteRecord(branch: BranchRecord): Promise<void> {
    await deleteBranch(this.rt, branch);
    this.activity.forget(branch.id);
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
