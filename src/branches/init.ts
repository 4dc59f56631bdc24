import { chmod, mkdir } from 'node:fs/promises';
import { PgbranchError } from '../errors.js';
import { assertReachable, ensureOsUser, resolveBinaries } from '../postgres/index.js';
import { StateStore, type BranchRecord } from '../state/index.js';
import { createStorageDriver, DEFAULT_LOOP_SIZE_BYTES, ensurePoolMounted, planPool, provisionPool, type DriverName } from '../storage/index.js';
import { audited, branchTarget, type Actor } from './audit.js';
import { readConfig, writeConfig, type HostConfigInput, type HostPaths } from './config.js';
import type { HostCore } from './core.js';
import { createRootFrom, type RootSource } from './operations/index.js';
import { Runtime, type ProgressSink } from './runtime.js';
import { stateKey } from './source-secrets.js';

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

/** Everything a branch operation needs, from an initialised home (mounting a loop pool after a reboot). */
export async function openRuntime(paths: HostPaths): Promise<Runtime> {
  const config = readConfig(paths);
  await ensurePoolMounted(config.storage);
  const [binaries, osUser] = await Promise.all([
    resolveBinaries({ major: config.postgres.major, binDir: config.postgres.binDir }),
    ensureOsUser(config.postgres.osUser),
  ]);
  const storage = createStorageDriver({ driver: config.storage.driver, poolPath: config.storage.poolPath });
  return new Runtime(paths, config, StateStore.open(paths.stateFile, await stateKey(paths.stateKeyFile)), storage, binaries, osUser);
}

/**
 * The host's files before its first branch: home and run directories reachable by the OS user
 * the instances run as, the pool (planned by storage policy, a loop image made if needed), and
 * the config.
 */
export async function prepareHost(paths: HostPaths, options: InitOptions): Promise<void> {
  await mkdir(paths.home, { recursive: true, mode: 0o755 });
  // Instances run as an unprivileged user who must be able to reach the pool and sockets.
  await chmod(paths.home, 0o755);
  const osUser = await ensureOsUser(options.osUser ?? 'pgbranch');
  await assertReachable(paths.home, osUser);
  const binaries = await resolveBinaries({ major: options.pgMajor, binDir: options.pgBinDir });
  const storage = await planPool({
    driver: options.driver ?? 'auto',
    poolPath: options.poolPath ?? paths.defaultPoolPath,
    loopImagePath: paths.defaultLoopImage,
    loopSizeBytes: options.poolSizeBytes ?? DEFAULT_LOOP_SIZE_BYTES,
    onWarning: (message) => options.onProgress?.({ phase: 'warning', message }),
  });
  await provisionPool(storage, (message) => options.onProgress?.({ phase: 'pool', message }));
  await mkdir(paths.runDir, { recursive: true, mode: 0o755 });
  await mkdir(paths.logDir, { recursive: true, mode: 0o755 });
  writeConfig(paths, {
    version: 1,
    storage,
    postgres: { major: binaries.major, ...(options.pgBinDir ? { binDir: options.pgBinDir } : {}), osUser: osUser.name, settings: {} },
    defaults: { dbUser: options.dbUser ?? 'postgres', dbName: options.dbName ?? 'app' },
    serve: options.serve ?? {},
  });
}

/**
 * An existing home asked to init again: its root is returned (`ifNotExists`) or refused; a home
 * whose init died before its root was made is finished (true = make the root now).
 */
export function checkReinit(core: HostCore, rootName: string, ifNotExists: boolean): BranchRecord | 'make-root' {
  const { home } = core.rt.paths;
  const existing = core.rt.store.listBranches();
  const root = existing.find((b) => b.name === rootName);
  if (root) {
    if (ifNotExists) return root;
    throw new PgbranchError('HOST_ALREADY_INITIALIZED', `a pgbranch host already exists at ${home}`, { details: { home } });
  }
  if (existing.length > 0) throw new PgbranchError('HOST_ALREADY_INITIALIZED', `a pgbranch host already exists at ${home} (without a "${rootName}" branch)`);
  return 'make-root';
}

/**
 * The root every branch comes from, protected until someone says otherwise. `actor`: the audit
 * names the caller of a first init; an init finished after a crash is not audited again.
 */
export async function makeRoot(core: HostCore, actor: Actor, rootName: string, source: RootSource, audit: boolean, onProgress?: ProgressSink): Promise<BranchRecord> {
  const create = () => core.locked(() => createRootFrom(core.rt, rootName, source, { createdBy: actor.id, maxOwnBytes: null }, onProgress));
  const made = audit ? await audited(core.rt.store, actor, 'create', branchTarget(rootName, { parent: null, source: source.kind, init: true }), create) : await create();
  core.rt.store.setProtected(made.id, true);
  return core.rt.store.getBranchById(made.id)!;
}
