import type { BranchRecord, DesiredState, SnapshotRecord } from '../state/index.js';
import type { PoolUsage, VolumeLimitSupport } from '../storage/index.js';
import { branchPointOf, branchPointVolume } from './branch-point.js';
import type { HostConfig } from './config.js';
import { instanceHealth, NOT_RUNNING_REASON, type InstanceHealth, type ReadyMemory } from './health.js';
import { poolFloorBytes } from './quotas.js';
import type { RemaskOutcome } from './operations/index.js';
import type { Runtime } from './runtime.js';
import { effectiveIdleTimeoutMs } from './sessions.js';
import { cachedUsage, measureVolume, type SizeCache, type Usage } from './sizes.js';

/**
 * running: the instance is up and accepts connections. suspended: stopped for idleness, woken by
 * the next connection through the endpoint. stopped: stopped on request; connections are refused
 * until started. unhealthy: it should run but does not accept connections (crashed, stuck in
 * recovery, could not start): see unhealthyReason; `serve` restarts it.
 */
export type BranchState = 'running' | 'suspended' | 'stopped' | 'unhealthy';

/** What the domain reports about a branch (never the password: see ConnectionInfo). */
export interface BranchView {
  readonly id: string;
  readonly name: string;
  readonly parent: string | null;
  /** True when the parent was deleted after this branch was made (the branch keeps working). */
  readonly parentDeleted: boolean;
  readonly state: BranchState;
  /** Why the branch is unhealthy (what the instance answered, or that it is not running); null otherwise. */
  readonly unhealthyReason: string | null;
  readonly desiredState: DesiredState;
  /** Idle time after which the host suspends the branch (0 = never). */
  readonly idleTimeoutMs: number;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly source: Record<string, unknown>;
  readonly branchPoint: { readonly lsn: string | null; readonly time: string | null };
  readonly createdAt: string;
  readonly resetAt: string | null;
  /** Delete, reset and expiry are refused until unprotected. */
  readonly protected: boolean;
  /** When the host deletes the branch (ISO-8601); null = never. */
  readonly expiresAt: string | null;
  /** Bytes this branch does not share with any other branch (null if not measured). */
  readonly ownBytes: number | null;
  /** Bytes shared with other branches (copy-on-write): total minus own; null if not measured. */
  readonly sharedBytes: number | null;
  readonly totalBytes: number | null;
  /** Cap on ownBytes, enforced by the storage driver (writes past it fail as "disk full"); null = none. */
  readonly maxOwnBytes: number | null;
  /** Audit actor that created the branch (`token:<id>`, `local:<user>`, `host`); null if unknown. */
  readonly createdBy: string | null;
  /** Masked data (made with --mask, or a branch of a masked branch): the rules' SHA-256 and when; null = not masked. */
  readonly masked: { readonly rulesSha256: string; readonly maskedAt: string } | null;
  /**
   * What keeping its branch point costs (see diff): bytes the branch point holds that no other
   * volume shares any more; null when none is kept. Present only when sizes were measured.
   */
  readonly branchPointBytes?: number | null;
}

export interface EndpointAddress {
  readonly host: string;
  readonly port: number;
}

export interface ConnectionInfo {
  readonly branch: string;
  /** Direct (unpooled, loopback-only) address of the branch's own instance. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
  /**
   * Direct postgresql:// URI (like DATABASE_URL_UNPOOLED), accepted as is by psql, libpq,
   * node-postgres, postgres.js and Prisma. Does not wake a suspended branch.
   */
  readonly url: string;
  /**
   * Through the host's Postgres endpoint (like DATABASE_URL): one host:port for every branch,
   * wakes suspended branches. The branch travels in the user name, `<role>.<branch>`, which
   * every mainstream client passes through untouched. Null when the endpoint port is not known.
   */
  readonly endpoint: { readonly host: string; readonly port: number; readonly user: string; readonly url: string } | null;
}

/** User name that routes an endpoint connection: `<role>.<branch>` (split at the first dot). */
export function endpointUser(role: string, branch: string): string {
  return `${role}.${branch}`;
}

export interface HostStatus {
  readonly home: string;
  readonly driver: Runtime['storage']['name'];
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

export async function hostStatus(rt: Runtime): Promise<HostStatus> {
  const { storage, binaries, config, paths, osUser, store } = rt;
  const pool = await storage.poolUsage();
  return {
    home: paths.home,
    driver: storage.name,
    poolPath: storage.poolPath,
    loopImage: config.storage.loop?.imagePath ?? null,
    capabilities: storage.capabilities,
    pool,
    branchLimits: await storage.limitSupport(),
    // The floor in force (the configured one, or the default sized from the pool).
    quotas: { ...config.quotas, minPoolFreeBytes: poolFloorBytes(rt, pool.totalBytes) },
    postgres: { version: binaries.version, major: binaries.major, binDir: binaries.binDir, source: binaries.source, osUser: osUser.name },
    branches: store.listBranches().length,
  };
}

/**
 * How a view gets its sizes: `true` measures now (one branch: `branch get`), a SizeCache reads
 * the last measurement kept in state.db (lists; see sizes.ts), `false` leaves them out.
 */
export type UsageMode = boolean | SizeCache;

/**
 * What a list learns once for all its branches instead of once per branch (a lookup of the parent
 * and a stat of the branch point each cost ~0.2 ms, a second or so at 1,000 branches per list):
 * every branch's name by id, and the pool's volumes.
 */
export interface ListContext {
  readonly names: ReadonlyMap<string, string>;
  readonly volumes: ReadonlySet<string>;
}

export async function listContext(rt: Runtime, records: readonly BranchRecord[]): Promise<ListContext> {
  return { names: new Map(records.map((r) => [r.id, r.name])), volumes: new Set(await rt.storage.listVolumes()) };
}

/**
 * A branch as reported: its instance's real state and, when asked, its sizes. `readyMemory`
 * (lists): believe a "ready" answer kept moments ago (see ReadyMemory); without it the instance is
 * pinged (one branch asked for by name: a ping is cheap, and a frozen postmaster must show as
 * unhealthy at once, not after the ready memory).
 */
export async function branchView(
  rt: Runtime,
  record: BranchRecord,
  withUsage: UsageMode = true,
  options: { readyMemory?: ReadyMemory; list?: ListContext; justStarted?: boolean } = {},
): Promise<BranchView> {
  const { list } = options;
  const parentName = record.parentId ? (list ? list.names.get(record.parentId) : rt.store.getBranchById(record.parentId)?.name) : undefined;
  const measure = (volume: string): Promise<Usage | undefined> =>
    typeof withUsage === 'object' ? cachedUsage(rt, withUsage, volume) : measureVolume(rt, volume);
  const bpBytes = async (): Promise<number | null> => {
    const bp = list ? (list.volumes.has(branchPointVolume(record.volume)) ? branchPointVolume(record.volume) : undefined) : await branchPointOf(rt, record);
    return bp === undefined ? null : ((await measure(bp))?.ownBytes ?? null);
  };
  const [health, usage, branchPointBytes] = await Promise.all([
    // An operation that just logged in to the instance it started (a create) knows it is ready.
    options.justStarted ? Promise.resolve<InstanceHealth>({ kind: 'ready' }) : instanceHealth(rt, record, { memory: options.readyMemory }),
    withUsage ? measure(record.volume) : Promise.resolve(undefined),
    withUsage ? bpBytes().catch(() => null) : Promise.resolve(undefined),
  ]);
  const view = toView(record, parentName ?? null, health, effectiveIdleTimeoutMs(rt, record), usage);
  return branchPointBytes === undefined ? view : { ...view, branchPointBytes };
}

function toView(
  record: BranchRecord,
  parentName: string | null,
  health: InstanceHealth,
  idleTimeoutMs: number,
  usage: { ownBytes: number; totalBytes: number } | undefined,
): BranchView {
  const { state, reason } = stateOf(record, health);
  return {
    id: record.id,
    name: record.name,
    parent: parentName ?? record.parentName,
    parentDeleted: record.parentName !== null && record.parentId === null,
    state,
    unhealthyReason: reason,
    desiredState: record.desiredState,
    idleTimeoutMs,
    port: record.port,
    database: record.dbName,
    user: record.dbUser,
    source: JSON.parse(record.source) as Record<string, unknown>,
    branchPoint: { lsn: record.branchLsn, time: record.branchTime },
    createdAt: record.createdAt,
    resetAt: record.resetAt,
    protected: record.protected,
    expiresAt: record.expiresAt,
    ownBytes: usage?.ownBytes ?? null,
    sharedBytes: usage ? Math.max(0, usage.totalBytes - usage.ownBytes) : null,
    totalBytes: usage?.totalBytes ?? null,
    maxOwnBytes: record.maxOwnBytes,
    createdBy: record.createdBy,
    masked: maskedMark(record),
  };
}

function stateOf(record: BranchRecord, health: InstanceHealth): { state: BranchState; reason: string | null } {
  if (health.kind === 'ready') return { state: 'running', reason: null };
  if (health.kind === 'unhealthy') return { state: 'unhealthy', reason: health.reason };
  if (record.desiredState === 'running') return { state: 'unhealthy', reason: NOT_RUNNING_REASON };
  return { state: record.desiredState === 'suspended' ? 'suspended' : 'stopped', reason: null };
}

/** A following root has no password of its own (it serves the source's roles): its URL has none. */
const pgUrl = (user: string, password: string, host: string, port: number, database: string): string =>
  `postgresql://${encodeURIComponent(user)}${password === '' ? '' : `:${encodeURIComponent(password)}`}@${host}:${port}/${encodeURIComponent(database)}`;

export function connectionInfo(record: BranchRecord, endpoint: EndpointAddress | null, host = '127.0.0.1'): ConnectionInfo {
  const url = pgUrl(record.dbUser, record.password, host, record.port, record.dbName);
  const routedUser = endpointUser(record.dbUser, record.name);
  return {
    branch: record.name,
    host,
    port: record.port,
    user: record.dbUser,
    database: record.dbName,
    password: record.password,
    url,
    endpoint: endpoint && {
      host: endpoint.host,
      port: endpoint.port,
      user: routedUser,
      url: pgUrl(routedUser, record.password, endpoint.host, endpoint.port, record.dbName),
    },
  };
}

/** What the domain reports about a snapshot. */
export interface SnapshotView {
  readonly id: string;
  readonly name: string;
  /** The branch it was taken of; it may have been deleted since (the snapshot stays usable). */
  readonly branch: string;
  readonly branchId: string;
  readonly branchDeleted: boolean;
  /** When the branch's data was captured. */
  readonly time: string;
  /** Approximate: the source's WAL position read right after the clone; null if it was stopped. */
  readonly lsn: string | null;
  readonly createdAt: string;
  /** 'user': made on request; 'history': kept on a schedule for a following root's history window. */
  readonly kind: 'user' | 'history';
  /** Taken of a masked branch: its masked mark (branches made from it are masked too); null = not masked. */
  readonly masked: MaskedMark | null;
}

/** A root after a refresh, with what happened to its masked branches (see refreshRoot). */
export type RefreshedRootView = BranchView & { readonly remasked: readonly RemaskOutcome[] };

export interface MaskedMark {
  readonly rulesSha256: string;
  readonly maskedAt: string;
}

/** The masked mark of a branch or snapshot as shown; null = not masked. */
function maskedMark(record: Pick<BranchRecord, 'maskedRulesSha256' | 'maskedAt' | 'createdAt'>): MaskedMark | null {
  return record.maskedRulesSha256 !== null ? { rulesSha256: record.maskedRulesSha256, maskedAt: record.maskedAt ?? record.createdAt } : null;
}

export function toSnapshotView(rt: Runtime, record: SnapshotRecord): SnapshotView {
  return {
    id: record.id,
    name: record.name,
    branch: record.sourceBranchName,
    branchId: record.sourceBranchId,
    branchDeleted: rt.store.getBranchById(record.sourceBranchId) === undefined,
    time: record.time,
    lsn: record.lsn,
    createdAt: record.createdAt,
    kind: record.kind,
    masked: maskedMark(record),
  };
}
