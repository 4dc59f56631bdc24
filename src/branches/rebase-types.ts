import type { RowValues, SchemaStatement } from '../postgres/index.js';

/** `pgbranch branch rebase NAME …`, as the edges parsed it. */
export interface RebaseRequest {
  /** Report the changes to replay and the conflicts; change nothing. */
  readonly dryRun?: boolean;
  /** Rebase onto this snapshot of the parent instead of the parent's current state. */
  readonly onto?: string;
  /** Settle each conflict for this side instead of refusing the rebase. */
  readonly prefer?: 'branch' | 'parent';
  /** Return to the state before the last rebase (the other options do not apply). */
  readonly undo?: boolean;
}

/**
 * One conflict. `schema`: the same object changed on both sides (differently). `row`: the same
 * row (by primary key) changed on both sides to different values (`both-updated`, `both-inserted`)
 * or deleted on one side and updated on the other (`deleted-on-parent`, `deleted-on-branch`).
 * `failed`: a change of the branch that could not be reapplied (the error says why).
 * `parent` / `branch`: each side's value (SQL for schema, the row for rows; null = no such row).
 */
export interface RebaseConflict {
  readonly kind: 'schema' | 'row' | 'failed';
  readonly reason: 'both-changed' | 'both-updated' | 'both-inserted' | 'deleted-on-parent' | 'deleted-on-branch' | 'statement-failed' | 'row-failed' | 'table-missing';
  /** The schema object (`public.users.email`) or table (`public.users`). */
  readonly object: string;
  readonly key?: RowValues;
  readonly parent: string | RowValues | null;
  readonly branch: string | RowValues | null;
  readonly error?: string;
  /** With `prefer`: whose version the rebased branch has (`parent` also when the branch's change could not be applied). */
  readonly chosen?: 'branch' | 'parent';
}

export interface RebaseTableReport {
  readonly schema: string;
  readonly name: string;
  /** Rows of the branch's changes written onto the parent's state. */
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  /** Changes the parent already had (the same value on both sides, or the same migration). */
  readonly alreadyOnParent: number;
  /** A table the branch added: every row copied. */
  readonly copied?: boolean;
}

export interface RebaseReport {
  readonly branch: string;
  readonly action: 'rebase' | 'undo';
  /** What the branch was rebased onto: the parent branch's name, or `snapshot:NAME`. */
  readonly onto: string | null;
  readonly dryRun: boolean;
  /** Whether the branch now has the rebased (or, for undo, the pre-rebase) state. */
  readonly applied: boolean;
  readonly prefer: 'branch' | 'parent' | null;
  /** The branch's schema changes replayed, in order (those the parent already had are left out). */
  readonly schema: { readonly statements: readonly Pick<SchemaStatement, 'sql' | 'kind' | 'identity' | 'action'>[]; readonly alreadyOnParent: number };
  readonly data: { readonly tables: readonly RebaseTableReport[]; readonly totals: { readonly inserted: number; readonly updated: number; readonly deleted: number } };
  /** At most 1000 listed; `conflictCount` has them all. */
  readonly conflicts: readonly RebaseConflict[];
  readonly conflictCount: number;
  /** The snapshot holding the state before the rebase (`--undo` returns to it). */
  readonly undoSnapshot: string | null;
  readonly branchPoint: { readonly lsn: string | null; readonly time: string | null };
  readonly timings: { readonly captureMs: number; readonly replayMs: number; readonly swapMs: number; readonly totalMs: number };
}
