import { existsSync } from 'node:fs';
import type { BranchRecord } from '../state/index.js';
import { timed } from '../util/index.js';
import { ActivityTracker } from './activity.js';
import { audited, branchTarget, listAudit, localActor, type Actor, type AuditEntry, type AuditFilter, type AuditTarget } from './audit.js';
import { hostPaths, resolveHome, type HostConfig, type HostPaths } from './config.js';
import type { HostCore } from './core.js';
import { runGc, type GcReport } from './gc.js';
import { withHostLock } from './host-lock.js';
import { isAlive } from './process-alive.js';
import { checkReinit, makeRoot, openRuntime, prepareHost, type InitOptions, type OpenOptions } from './init.js';
import { assertBranchName } from './names.js';
import type { DiffRequest, DiffView } from './diff-types.js';
import type { RebaseReport, RebaseRequest } from './rebase-types.js';
import * as op from './operations/index.js';
import { reconcile, type ReconcileReport } from './reconcile.js';
import type { Runtime } from './runtime.js';
import { closeKeptClients, discardOwnWarmClones, refillWarmClones } from './warm.js';
import { deleteAndForget, deleteExpiredBranches, openSession, suspendIdleBranches } from './sessions.js';
import { maintainSources, sourceOf, sourceView, updateSource, type SourceChange, type SourceView } from './sources.js';
import { findBranch } from './lookup.js';
import { HealthMonitor, ReadyMemory } from './health.js';
import { refreshSizes, sizeCache } from './sizes.js';
import { authenticate, createToken, revokeToken, tokenInfo, type Principal, type TokenInfo, type TokenRequest } from './tokens.js';
import { branchView, connectionInfo, hostStatus, listContext, toSnapshotView, type BranchView, type ConnectionInfo, type EndpointAddress, type HostStatus, type RefreshedRootView, type SnapshotView } from './view.js';

/** How many branches a list looks at (pings, and measures the never measured) at once. */
const LIST_CONCURRENCY = 16;

/** `fn` over `items` with at most `limit` calls under way; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * One host, as edges see it: a thin facade. Each mutating call is audited, takes the host lock,
 * finds its branch and hands it to the operation module that owns the rules (`operations/`);
 * reads go straight to the views.
 */
export class Host {
  /** Who the audit log names for calls through this object (see `as`). */
  private actor: Actor = localActor();
  private boundEndpoint: EndpointAddress | null = null;
  /** This process is the host's serve (see markServing). */
  private serving = false;
  /** Per hot parent, its insert position at the previous refill (a parent is refilled once quiet). */
  private readonly warmQuiet = new Map<string, string>();
  private readonly core: HostCore;
  private readonly health: HealthMonitor;

  private constructor(
    private readonly rt: Runtime,
    lockTimeoutMs: number,
  ) {
    this.core = { rt, activity: new ActivityTracker(), locked: (fn) => withHostLock(rt, lockTimeoutMs, fn) };
    this.health = new HealthMonitor(rt.config.serve.unhealthyGraceMs);
  }

  get paths(): HostPaths {
    return this.rt.paths;
  }

  /** Serving settings of this host (listen addresses, TLS, idle timeout). */
  get serveConfig(): HostConfig['serve'] {
    return this.rt.config.serve;
  }

  /** Opens an initialised host and reconciles it (finishes or undoes interrupted operations). */
  static async open(options: OpenOptions = {}): Promise<Host> {
    const host = new Host(await openRuntime(hostPaths(resolveHome(options.home))), options.lockTimeoutMs ?? 60_000);
    await host.core.locked(async () => {
      await reconcile(host.rt);
      // Calls whose process died before finishing: their entries stay, marked as such.
      host.rt.store.markInterruptedAudit(isAlive);
    });
    return host;
  }

  /** Creates the host (pool, config, metadata) and its root branch, protected. */
  static async init(options: InitOptions = {}): Promise<{ host: Host; root: BranchView; created: boolean; adminToken?: string }> {
    const paths = hostPaths(resolveHome(options.home));
    const rootName = assertBranchName(options.rootName ?? 'main');
    const source = options.source ?? { kind: 'empty' };
    if (existsSync(paths.configFile)) {
      const host = await Host.open(options);
      try {
        const existing = checkReinit(host.core, rootName, options.ifNotExists ?? false);
        if (existing !== 'make-root') return { host, root: await branchView(host.rt, existing), created: false };
        // An init that died before its root branch was made: finish it.
        const root = await makeRoot(host.core, host.actor, rootName, source, false, options.onProgress);
        return { host, root: await branchView(host.rt, root), created: true };
      } catch (err) {
        host.close();
        throw err;
      }
    }
    await prepareHost(paths, options);
    const host = new Host(await openRuntime(paths), options.lockTimeoutMs ?? 60_000);
    const root = await makeRoot(host.core, host.actor, rootName, source, true, options.onProgress);
    // The first admin token, shown once: the way to reach this host remotely.
    const { token: adminToken } = createToken(host.rt.store, { name: 'init-admin', role: 'admin' });
    return { host, root: await branchView(host.rt, root), created: true, adminToken };
  }

  close(): void {
    if (this.serving) {
      this.serving = false;
      try {
        this.rt.store.clearServing(process.pid);
      } catch {
        // a closed or read-only store: the row names a dead pid from now on, which counts for nothing
      }
    }
    closeKeptClients();
    this.rt.store.close();
  }

  /**
   * The same host, recording `actor` in the audit log for every call made through the returned
   * object (the API makes one per request with the token; the CLI's default is the local OS
   * user). It shares everything with this host, lock and activity included.
   */
  as(actor: Actor): Host {
    const view = Object.create(this) as Host;
    view.actor = actor;
    return view;
  }

  // --- reads ---

  async status(): Promise<HostStatus> {
    return hostStatus(this.rt);
  }

  /**
   * Every branch with its instance's real state (a few concurrent health pings, none for an
   * instance seen ready moments ago by serve's health beat or another list: see ReadyMemory) and, with
   * `withUsage`, its sizes as last measured (see sizes.ts: serve refreshes them in the background).
   * `measureMissing`: how many never-measured volumes this call measures itself (default 10, or
   * 0 while a serve runs on this host; a serving process passes 0 and has them measured in the
   * background instead).
   */
  async listBranches(options: { withUsage?: boolean; measureMissing?: number } = {}): Promise<BranchView[]> {
    // With a serve running on this host, its size refresh measures new volumes within its
    // interval: a list elsewhere (the CLI) measures nothing itself and stays fast at any size.
    const budget = options.measureMissing ?? (this.servedElsewhere() ? 0 : undefined);
    const usage = (options.withUsage ?? true) ? sizeCache(this.rt, budget) : false;
    const readyMemory = new ReadyMemory(this.rt);
    const records = this.rt.store.listBranches();
    const list = await listContext(this.rt, records);
    const views = await mapLimited(records, LIST_CONCURRENCY, (r) => branchView(this.rt, r, usage, { readyMemory, list }));
    readyMemory.save();
    return views;
  }

  /** `withUsage: false`: no live size measurement (an access check needs the mark, not the sizes). */
  async getBranch(name: string, options: { withUsage?: boolean } = {}): Promise<BranchView> {
    return branchView(this.rt, findBranch(this.rt, name), options.withUsage ?? true);
  }

  /** Connection details; starts the branch first if it is not running (a URL must work). */
  async connectionInfo(name: string): Promise<ConnectionInfo> {
    if (!(await this.rt.isRunning(findBranch(this.rt, name).volume))) await this.core.locked(() => this.started(findBranch(this.rt, name)));
    return connectionInfo(findBranch(this.rt, name), this.endpoint());
  }

  /**
   * The fail-closed masking check on a branch (started first if stopped): the rules fit its
   * catalog and every personal-looking column has a rule or an explicit keep; throws
   * MASK_RULES_INVALID or MASK_UNCOVERED_COLUMNS (naming the columns) otherwise.
   */
  async maskCheck(name: string, mask: op.MaskRequest): Promise<op.MaskCheckView> {
    if (!(await this.rt.isRunning(findBranch(this.rt, name).volume))) await this.core.locked(() => this.started(findBranch(this.rt, name)));
    return (await op.checkCoverage(this.rt, findBranch(this.rt, name), mask)).view;
  }

  /** The audit log, newest first. */
  async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    return listAudit(this.rt.store, filter);
  }

  async listSnapshots(): Promise<SnapshotView[]> {
    return this.rt.store.listSnapshots().map((s) => toSnapshotView(this.rt, s));
  }

  async getSnapshot(name: string): Promise<SnapshotView> {
    return toSnapshotView(this.rt, op.findSnapshot(this.rt, name));
  }

  /** What changed between two sides (default: a branch since its branch point): schema as SQL, data row by row. */
  async diff(request: DiffRequest): Promise<DiffView> {
    return op.diffSides(this.core, request);
  }

  // --- branch lifecycle ---

  async createBranch(name: string, request: op.CreateRequest): Promise<{ branch: BranchView; created: boolean }> {
    const { record, created } = await this.audit('create', branchTarget(name, op.originDetails(request.origin)), () =>
      this.core.locked(() => timed('operation', () => op.createBranch(this.rt, this.actor, name, request))),
    );
    return { branch: await timed('view', () => branchView(this.rt, record, false, { justStarted: created })), created };
  }

  /** `mask`: re-mask on the way (the parent's current data, checked and masked before anyone sees it). */
  async resetBranch(name: string, options: { mask?: op.MaskRequest } = {}): Promise<BranchView> {
    const details = options.mask ? { mask: op.rulesSha256(options.mask.rules) } : undefined;
    return branchView(this.rt, await this.onBranch('reset', name, (b) => op.resetBranch(this.rt, b, options), details), false);
  }

  /** Rebase (or `undo`): builds without the host lock, like diff; audited like reset. */
  async rebaseBranch(name: string, request: RebaseRequest = {}): Promise<RebaseReport> {
    const details = { ...(request.onto ? { onto: request.onto } : {}), ...(request.prefer ? { prefer: request.prefer } : {}), ...(request.dryRun ? { dryRun: true } : {}), ...(request.undo ? { undo: true } : {}) };
    return this.audit('rebase', branchTarget(name, details), () => op.rebaseBranch(this.core, name, request));
  }

  async deleteBranch(name: string): Promise<void> {
    await this.onBranch('delete', name, (b) => deleteAndForget(this.core, b));
  }

  async startBranch(name: string): Promise<BranchView> {
    return this.onBranchThenView('start', name, (b) => this.started(b));
  }

  /** A start is use: the idle timeout counts from it (a started branch is not suspended at once). */
  private async started(branch: BranchRecord): Promise<void> {
    await op.startBranch(this.rt, branch);
    this.core.activity.touch(branch.id);
  }

  async stopBranch(name: string): Promise<BranchView> {
    return this.onBranchThenView('stop', name, (b) => op.stopBranch(this.rt, b));
  }

  async suspendBranch(name: string): Promise<BranchView> {
    return this.onBranchThenView('suspend', name, (b) => op.suspendBranch(this.rt, b));
  }

  async rotatePassword(name: string): Promise<ConnectionInfo> {
    await this.onBranch('rotate-password', name, (b) => op.rotatePassword(this.rt, b));
    return this.connectionInfo(name);
  }

  /** Changes per-branch settings: idle timeout, protection, expiry, size cap (see BranchChange). */
  async updateBranch(name: string, change: op.BranchChange): Promise<BranchView> {
    // The requested values are recorded as given (none is secret): the entry says what was asked.
    const details = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
    return this.onBranchThenView('update', name, (b) => op.updateBranch(this.rt, b, change), details);
  }

  /** A named, immutable, consistent point of `branch` that branches can be created from. */
  async createSnapshot(branch: string, name: string): Promise<SnapshotView> {
    // Audited against the branch: a snapshot is its data, and token patterns filter on branch names.
    const record = await this.onBranch('snapshot-create', branch, (b) => op.createSnapshot(this.rt, name, b), { snapshot: name });
    return toSnapshotView(this.rt, record);
  }

  /** Removes the snapshot; branches made from it keep working (but cannot be reset any more). */
  async deleteSnapshot(name: string): Promise<void> {
    assertBranchName(name);
    const known = this.rt.store.getSnapshotByName(name);
    await this.audit('snapshot-delete', branchTarget(known?.sourceBranchName ?? name, { snapshot: name }), () =>
      this.core.locked(() => op.deleteSnapshot(this.rt, op.findSnapshot(this.rt, name))),
    );
  }

  // --- sources: following roots, refreshed roots ---

  /** How a root keeps up with its source: state, lag, history window (follow) or generations (refresh). */
  async sourceStatus(name: string): Promise<SourceView> {
    return sourceView(this.rt, findBranch(this.rt, name));
  }

  /** Imports the source of a `--from-url` root again and switches the root to it (same URL). */
  async refreshSource(name: string, options: Pick<op.RefreshOptions, 'onProgress' | 'hookOutput'> = {}): Promise<RefreshedRootView> {
    const { root, remasked } = await this.audit('source-refresh', branchTarget(name), () =>
      op.refreshRoot(this.core, name, { ...options, actor: this.actor, hooks: sourceOf(this.rt, findBranch(this.rt, name)).afterRefresh }),
    );
    return { ...(await branchView(this.rt, root, false)), remasked };
  }

  async updateSource(name: string, change: SourceChange): Promise<SourceView> {
    await this.onBranch('source-update', name, async (b) => updateSource(this.rt, b, change), { ...change });
    return this.sourceStatus(name);
  }

  /** History snapshots and pruning of following roots, scheduled refreshes. Run periodically by serve. */
  maintainSources(nowMs = Date.now()): Promise<string[]> {
    return maintainSources(this.core, nowMs);
  }

  /** Runs reconcile on demand (normally done at open). */
  async reconcile(): Promise<ReconcileReport> {
    return this.core.locked(() => reconcile(this.rt));
  }

  // --- serving: endpoint sessions, sweeps, gc ---

  /** Records this process as the host's serve (lists elsewhere leave the caches to it); undone by `close`. */
  markServing(): void {
    this.rt.store.setServing(process.pid);
    this.serving = true;
  }

  /** Whether a live serve other than this process keeps this host's caches fresh. */
  private servedElsewhere(): boolean {
    const pid = this.rt.store.servingPid();
    return pid !== undefined && pid !== process.pid && isAlive(pid);
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

  /** An endpoint connection wants `name`: wakes it if suspended, counts it until `release`. */
  openSession(name: string): Promise<{ port: number; release: () => void }> {
    return openSession(this.core, name);
  }

  /** Suspends branches idle for their timeout; returns their names. Run periodically by serve. */
  suspendIdleBranches(nowMs = Date.now()): Promise<string[]> {
    return suspendIdleBranches(this.core, nowMs);
  }

  /**
   * Restarts branches that should run but are down or refuse connections past the grace period,
   * with a backoff per branch; returns the names restarted. Run periodically by serve.
   */
  checkHealth(nowMs = Date.now()): Promise<string[]> {
    return this.health.check(this.core, nowMs);
  }

  /** Measures the sizes that may have moved, for lists to read (see refreshSizes); returns how many. Run periodically by serve. */
  refreshSizes(nowMs = Date.now()): Promise<number> {
    return refreshSizes(this.rt, nowMs);
  }

  /** Deletes unprotected branches past their expiry; returns their names. Run periodically by serve. */
  deleteExpiredBranches(nowMs = Date.now()): Promise<string[]> {
    return deleteExpiredBranches(this.core, nowMs);
  }

  /** Removes orphans, expired branches and idle instances (see GcActionKind); a dry run only reports. */
  gc(options: { dryRun?: boolean } = {}, nowMs = Date.now()): Promise<GcReport> {
    return runGc(this.core, this.actor, options.dryRun ?? false, nowMs);
  }

  /** Warm clones: stale ones discarded, hot parents topped up (see warm.ts). Run periodically by serve. */
  async refillWarmClones(): Promise<{ made: number; discarded: number }> {
    return refillWarmClones(this.core, this.warmQuiet);
  }

  /** Discards the warm clones this process made (serve shutdown: they would not survive it anyway). */
  discardWarmClones(): Promise<number> {
    return discardOwnWarmClones(this.core);
  }

  /** How often serve refills warm clones, or null when no parent is warm. */
  get warmRefillIntervalMs(): number | null {
    const { branches, size, refillIntervalMs } = this.rt.config.warm;
    return branches.length > 0 && size > 0 ? refillIntervalMs : null;
  }

  /** Stops every instance cleanly (serve shutdown); desired states are kept for the next start. */
  async stopAllInstances(): Promise<void> {
    await this.core.locked(() => op.stopAllInstances(this.rt));
  }

  // --- API tokens ---

  /** `creator`: the token asking (API); a token never creates one with more power than itself. */
  async createToken(request: TokenRequest, creator?: Principal): Promise<{ token: string; info: TokenInfo }> {
    // The audit names the token's id once it exists; never its secret.
    const target: AuditTarget = {
      kind: 'token',
      name: request.name,
      details: { name: request.name, role: request.role, branchPatterns: request.branchPatterns ?? [], ...(request.maskedOnly ? { maskedOnly: true } : {}) },
    };
    return this.audit('token-create', target, async () => createToken(this.rt.store, request, creator), (result) => result.info.tokenId);
  }

  async listTokens(): Promise<TokenInfo[]> {
    return this.rt.store.listTokens().map(tokenInfo);
  }

  async revokeToken(id: string): Promise<void> {
    await this.audit('token-revoke', { kind: 'token', name: id }, async () => revokeToken(this.rt.store, id));
  }

  authenticate(token: string | undefined): Principal {
    return authenticate(this.rt.store, token);
  }

  // --- the one wrapper of every mutation ---

  /** Records one mutating call of this object's actor (failures included). */
  private audit<T>(operation: string, target: AuditTarget, fn: () => Promise<T>, targetAfter?: (result: T) => string): Promise<T> {
    return audited(this.rt.store, this.actor, operation, target, fn, targetAfter);
  }

  /** Audit, lock, find the branch (under the lock), run the operation on it. */
  private onBranch<T>(operation: string, name: string, fn: (branch: BranchRecord) => Promise<T>, details?: Record<string, unknown>): Promise<T> {
    return this.audit(operation, branchTarget(name, details), () => this.core.locked(() => fn(findBranch(this.rt, name))));
  }

  private async onBranchThenView(operation: string, name: string, fn: (branch: BranchRecord) => Promise<unknown>, details?: Record<string, unknown>): Promise<BranchView> {
    await this.onBranch(operation, name, fn, details);
    return this.getBranch(name);
  }
}
