import { PgbranchError } from '../errors.js';
import type { BranchRecord } from '../state/index.js';
import type { HostConfig } from './config.js';
import { matchesPattern } from './tokens.js';

/** How a new branch's expiry is asked for; both absent = the host's per-pattern default, if any. */
export interface ExpiryRequest {
  /** Time to live from now, in milliseconds. */
  readonly ttlMs?: number;
  /** Absolute time (ISO-8601). */
  readonly expiresAt?: string;
}

/** Times pgbranch stores: 1970 through 9999 (ISO-8601 with a four-digit year, string order = time order). */
const EARLIEST_MS = 0;
const LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** Parses an ISO-8601 time into the one canonical form stored (so string order is time order). */
export function canonicalTime(value: string, what: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new PgbranchError('INVALID_ARGUMENT', `${what} must be an ISO-8601 time (e.g. 2026-01-31T12:00:00Z), got "${value}"`);
  if (ms < EARLIEST_MS || ms > LATEST_MS) throw new PgbranchError('INVALID_ARGUMENT', `${what} must be between 1970 and 9999, got "${value}"`);
  return new Date(ms).toISOString();
}

function assertTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs <= 0) throw new PgbranchError('INVALID_ARGUMENT', 'a TTL must be a positive whole number of milliseconds');
}

/** Now + a TTL, refused when it lands past the year 9999 (a Date cannot even hold ~8.64e15 ms). */
function afterTtl(nowMs: number, ttlMs: number): string {
  assertTtl(ttlMs);
  if (ttlMs > LATEST_MS - nowMs) {
    throw new PgbranchError('INVALID_ARGUMENT', `a TTL of ${ttlMs} ms ends after the year 9999; give a shorter one, or none to never expire`, { details: { ttlMs } });
  }
  return new Date(nowMs + ttlMs).toISOString();
}

/** When a branch created now expires: explicit request first, then the first matching config pattern. */
export function resolveExpiry(config: HostConfig, name: string, request: ExpiryRequest, nowMs = Date.now()): string | null {
  if (request.ttlMs !== undefined && request.expiresAt !== undefined) {
    throw new PgbranchError('INVALID_ARGUMENT', 'give either a TTL or an expiry time, not both');
  }
  if (request.expiresAt !== undefined) return canonicalTime(request.expiresAt, 'expires_at');
  if (request.ttlMs !== undefined) return afterTtl(nowMs, request.ttlMs);
  const rule = config.expiry.find((r) => matchesPattern(r.pattern, name));
  return rule ? afterTtl(nowMs, rule.ttlMs) : null;
}

/** A later change: a TTL from now, an absolute time, or null (never expires). */
export function expiryChange(change: { ttlMs?: number | null; expiresAt?: string | null }, nowMs = Date.now()): string | null | undefined {
  if (change.ttlMs !== undefined && change.expiresAt !== undefined) {
    throw new PgbranchError('INVALID_ARGUMENT', 'give either a TTL or an expiry time, not both');
  }
  if (change.expiresAt !== undefined) return change.expiresAt === null ? null : canonicalTime(change.expiresAt, 'expires_at');
  if (change.ttlMs === undefined) return undefined;
  if (change.ttlMs === null) return null;
  return afterTtl(nowMs, change.ttlMs);
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
