import { PgbranchError } from '../errors.js';
import type { BranchRecord } from '../state/index.js';
import type { ActivityTracker } from './activity.js';
import type { HostConfig } from './config.js';
import { idleCandidates } from './serving.js';
import type { Runtime } from './runtime.js';
import { matchesPattern } from './tokens.js';

/** How a new branch's expiry is asked for; both absent = the host's per-pattern default, if any. */
export interface ExpiryRequest {
  /** Time to live from now, in milliseconds. */
  readonly ttlMs?: number;
  /** Absolute time (ISO-8601). */
  readonly expiresAt?: string;
}

/** Parses an ISO-8601 time into the one canonical form stored (so string order is time order). */
export function canonicalTime(value: string, what: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new PgbranchError('INVALID_ARGUMENT', `${what} must be an ISO-8601 time (e.g. 2026-01-31T12:00:00Z), got "${value}"`);
  return new Date(ms).toISOString();
}

function assertTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new PgbranchError('INVALID_ARGUMENT', 'a TTL must be a positive whole number of milliseconds');
}

/** When a branch created now expires: explicit request first, then the first matching config pattern. */
export function resolveExpiry(config: HostConfig, name: string, request: ExpiryRequest, nowMs = Date.now()): string | null {
  if (request.ttlMs !== undefined && request.expiresAt !== undefined) {
    throw new PgbranchError('INVALID_ARGUMENT', 'give either a TTL or an expiry time, not both');
  }
  if (request.expiresAt !== undefined) return canonicalTime(request.expiresAt, 'expires_at');
  if (request.ttlMs !== undefined) {
    assertTtl(request.ttlMs);
    return new Date(nowMs + request.ttlMs).toISOString();
  }
  const rule = config.expiry.find((r) => matchesPattern(r.pattern, name));
  return rule ? new Date(nowMs + rule.ttlMs).toISOString() : null;
}

/** A later change: a TTL from now, an absolute time, or null (never expires). */
export function expiryChange(change: { ttlMs?: number | null; expiresAt?: string | null }, nowMs = Date.now()): string | null | undefined {
  if (change.ttlMs !== undefined && change.expiresAt !== undefined) {
    throw new PgbranchError('INVALID_ARGUMENT', 'give either a TTL or an expiry time, not both');
  }
  if (change.expiresAt !== undefined) return change.expiresAt === null ? null : canonicalTime(change.expiresAt, 'expires_at');
  if (change.ttlMs === undefined) return undefined;
  if (change.ttlMs === null) return null;
  assertTtl(change.ttlMs);
  return new Date(nowMs + change.ttlMs).toISOString();
}

export function isExpired(branch: BranchRecord, nowMs: number): boolean {
  return branch.expiresAt !== null && Date.parse(branch.expiresAt) <= nowMs;
}

export function assertNotProtected(branch: BranchRecord, operation: string): void {
  if (!branch.protected) return;
  throw new PgbranchError('BRANCH_PROTECTED', `cannot ${operation} "${branch.name}": it is protected (\`pgbranch branch unprotect ${branch.name}\` first)`, {
    details: { branch: branch.name, operation },
  });
}

/**
 * - orphan-staging: a clone or delete staged under a temporary name with no operation left.
 * - orphan-volume: a volume no branch owns, no instance on it.
 * - orphan-instance: the same with a postgres still running on it (killed, then removed).
 * - missing-volume: a branch whose volume is gone (removed behind pgbranch's back): there is no
 *   data left to serve, so its metadata is deleted (children are separate volumes, unaffected).
 * - expired: a branch past its expiry that is not protected (deleted like `branch delete`).
 * - idle-suspend: a running branch idle for its timeout (suspended).
 */
export type GcActionKind = 'orphan-staging' | 'orphan-volume' | 'orphan-instance' | 'missing-volume' | 'expired' | 'idle-suspend';

export interface GcAction {
  readonly kind: GcActionKind;
  /** Volume name for orphans, branch name otherwise. */
  readonly target: string;
  /** False in a dry run (planned), true once carried out. */
  readonly done: boolean;
}

export interface GcReport {
  readonly dryRun: boolean;
  readonly actions: GcAction[];
}

/** Internal plan entry: what to act on, found under the host lock. */
export interface PlannedGc {
  readonly kind: GcActionKind;
  readonly target: string;
  readonly branch?: BranchRecord;
}

/**
 * Finds what gc would do, changing nothing. Runs under the host lock, so no operation is in
 * flight and every unowned volume really is an orphan (reconcile at open already settled the
 * operations of crashed processes, which know their own volumes).
 */
export async function planGc(rt: Runtime, activity: ActivityTracker, nowMs: number): Promise<PlannedGc[]> {
  const planned: PlannedGc[] = [];
  for (const name of await rt.storage.listStaging()) planned.push({ kind: 'orphan-staging', target: name });
  const branches = rt.store.listBranches();
  // Snapshot volumes are owned too (by their snapshot row), never orphans.
  const owned = new Set([...branches.map((b) => b.volume), ...rt.store.listSnapshots().map((s) => s.volume)]);
  const volumes = await rt.storage.listVolumes();
  for (const volume of volumes) {
    if (owned.has(volume)) continue;
    planned.push({ kind: (await rt.isRunning(volume)) ? 'orphan-instance' : 'orphan-volume', target: volume });
  }
  const present = new Set(volumes);
  const missing = new Set<string>();
  for (const branch of branches) {
    if (present.has(branch.volume)) continue;
    missing.add(branch.id);
    planned.push({ kind: 'missing-volume', target: branch.name, branch });
  }
  for (const branch of branches) {
    if (missing.has(branch.id) || branch.protected || !isExpired(branch, nowMs)) continue;
    planned.push({ kind: 'expired', target: branch.name, branch });
  }
  const gone = new Set(planned.filter((p) => p.branch).map((p) => p.branch!.id));
  for (const branch of await idleCandidates(rt, activity, nowMs)) {
    if (!gone.has(branch.id)) planned.push({ kind: 'idle-suspend', target: branch.name, branch });
  }
  return planned;
}
