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
