import { PgbranchError } from '../../errors.js';
import type { BranchRecord } from '../../state/index.js';
import { expiryChange } from '../governance.js';
import type { Runtime } from '../runtime.js';
import { changeOwnBytesLimit } from './limit.js';

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

/**
 * Changes per-branch settings. Every value is checked before anything changes; then the cap (the
 * one change the pool can refuse, and then nothing else has changed either), then the rest at once.
 */
export async function updateBranch(rt: Runtime, branch: BranchRecord, change: BranchChange): Promise<void> {
  if (change.idleTimeoutMs !== undefined && change.idleTimeoutMs !== null && (!Number.isInteger(change.idleTimeoutMs) || change.idleTimeoutMs < 0)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'idle timeout must be a whole number of milliseconds, 0 (never) or null (host default)');
  }
  const expiresAt = expiryChange(change);
  if (change.maxOwnBytes !== undefined) await changeOwnBytesLimit(rt, branch, change.maxOwnBytes);
  rt.store.transaction(() => {
    if (change.idleTimeoutMs !== undefined) rt.store.setIdleTimeout(branch.id, change.idleTimeoutMs);
    if (change.protected !== undefined) rt.store.setProtected(branch.id, change.protected);
    if (expiresAt !== undefined) rt.store.setExpiresAt(branch.id, expiresAt);
  });
}
