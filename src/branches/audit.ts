import { EventEmitter } from 'node:events';
import { userInfo } from 'node:os';
import { PgbranchError, isPgbranchError } from '../errors.js';
import type { AuditQuery, AuditRecord, AuditTargetKind, StateStore } from '../state/index.js';
import { canonicalTime } from './governance.js';
import { assertBranchName } from './names.js';
import type { Principal } from './tokens.js';

/**
 * Who asked for a mutation, as the audit log records it. `id` is stable and machine-readable
 * (`token:<token id>`, `local:<os user>`, `host`); `name` is for humans (the token's name).
 */
export interface Actor {
  readonly id: string;
  readonly name: string | null;
}

/** Background jobs of the host itself (expiry, idle suspension, the scheduler's gc). */
export const HOST_ACTOR: Actor = { id: 'host', name: null };

/** Someone running the CLI in-process on the host, as the OS user they are. */
export function localActor(user = safeUserName()): Actor {
  return { id: `local:${user}`, name: null };
}

export function tokenActor(principal: Pick<Principal, 'tokenId' | 'name'>): Actor {
  return { id: `token:${principal.tokenId}`, name: principal.name };
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry for this uid (containers): the number still identifies the caller.
    return String(process.getuid?.() ?? 'unknown');
  }
}

export interface AuditTarget {
  readonly kind: AuditTargetKind;
  readonly name: string;
  /** Extra non-secret facts (the parent of a new branch, the role of a new token…). */
  readonly details?: Record<string, unknown>;
}

export function branchTarget(name: string, details?: Record<string, unknown>): AuditTarget {
  return { kind: 'branch', name, details };
}

/** One finished domain operation, for metrics: what, how it ended, how long it took. */
export interface OperationObservation {
  readonly operation: string;
  readonly result: 'ok' | 'error';
  readonly errorCode?: string;
  readonly durationMs: number;
}

/**
 * Every audited operation (and every wake of a suspended branch) is reported here once it ends.
 * Edges that export metrics listen; the domain does not know who does.
 */
export const operationEvents = new EventEmitter<{ operation: [OperationObservation] }>();

export function observeOperation(observation: OperationObservation): void {
  operationEvents.emit('operation', observation);
}

/** What the domain reports about an audit entry. */
export type AuditEntry = AuditRecord;

/** Filters of `listAudit`; `since`/`until` are ISO-8601 times. */
export type AuditFilter = AuditQuery;

/** The audit log, newest first, filtered. */
export function listAudit(store: StateStore, filter: AuditFilter): AuditEntry[] {
  if (filter.limit !== undefined && (!Number.isInteger(filter.limit) || filter.limit < 1)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'limit must be a positive whole number');
  }
  if (filter.branch !== undefined) assertBranchName(filter.branch);
  const since = filter.since === undefined ? undefined : canonicalTime(filter.since, 'since');
  const until = filter.until === undefined ? undefined : canonicalTime(filter.until, 'until');
  return store.listAudit({ ...filter, since, until });
}

/**
 * Runs `fn` as one audited call. The entry is written before `fn` starts, so even a process
 * killed mid-call leaves a trace, and completed afterwards with the result and duration; a
 * failure is recorded with its error code and rethrown unchanged.
 */
export async function audited<T>(
  store: StateStore,
  actor: Actor,
  operation: string,
  target: AuditTarget,
  fn: () => Promise<T>,
  targetAfter?: (result: T) => string,
): Promise<T> {
  const started = performance.now();
  const id = store.beginAudit({ actor: actor.id, actorName: actor.name, operation, targetKind: target.kind, target: target.name, details: target.details });
  const durationMs = () => Math.round(performance.now() - started);
  try {
    const result = await fn();
    const ms = durationMs();
    store.finishAudit(id, { result: 'ok', durationMs: ms, target: targetAfter?.(result) });
    observeOperation({ operation, result: 'ok', durationMs: ms });
    return result;
  } catch (err) {
    const ms = durationMs();
    const errorCode = isPgbranchError(err) ? err.code : 'INTERNAL';
    store.finishAudit(id, { result: 'error', errorCode, durationMs: ms });
    observeOperation({ operation, result: 'error', errorCode, durationMs: ms });
    throw err;
  }
}
