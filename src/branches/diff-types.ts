import { PgbranchError } from '../errors.js';
import type {
  ChangeCounts,
  SchemaStatement,
  SchemaVerification,
  TableDataDiff,
  UnsupportedChange,
} from '../postgres/index.js';
import { assertBranchName } from './names.js';

/**
 * One side of a diff, as the edges parsed it: a branch, a snapshot, a branch's branch point
 * (its data as it was made), or a bare name (a branch, else the snapshot of that name).
 */
export type DiffSide =
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'branch'; readonly name: string }
  | { readonly kind: 'snapshot'; readonly name: string }
  | { readonly kind: 'branch-point'; readonly branch: string };

export interface DiffRequest {
  /** What the changes are from; absent = the branch point of `to` (what `to` changed since it was made). */
  readonly from?: DiffSide;
  readonly to: DiffSide;
  /** Compare the schema (migration SQL from `from` to `to`). Neither schema nor data given = both. */
  readonly schema?: boolean;
  /** Compare the data, table by table (counts of inserted, updated and deleted rows). */
  readonly data?: boolean;
  /** Also return the changed rows (implies data), at most `limit` per table (default 1000). */
  readonly rows?: boolean;
  readonly limit?: number;
  /** Prove the schema script on a throwaway CoW clone of `from` (implies schema). */
  readonly verify?: boolean;
  /** Compare whole tables even where the changed blocks are known (a cross-check; slower). */
  readonly full?: boolean;
}

/** A resolved side, as reported. */
export interface DiffSideView {
  readonly kind: 'branch' | 'snapshot' | 'branch-point';
  /** The branch's or snapshot's name (for a branch point: its branch). */
  readonly name: string;
  /** The side as `diff` accepts it: `main`, `snapshot:seed`, `branch-point:pr-7`. */
  readonly ref: string;
  /** Where the side stands: a snapshot's or branch point's LSN and time; null for a live branch. */
  readonly lsn: string | null;
  readonly time: string | null;
}

export interface SchemaDiffView {
  /** In dependency order; applied to `from` they give `to` (see `script`). */
  readonly statements: readonly SchemaStatement[];
  /** Changes the script does not express (apply by hand). */
  readonly unsupported: readonly UnsupportedChange[];
  /** The statements as a psql-ready script with a header comment (what `-o sql` prints). */
  readonly script: string;
  /** `oid`: sides of one cluster lineage, renames found by OID; `name`: unrelated clusters, matched by name only. */
  readonly matchedBy: 'oid' | 'name';
  /** Present with `verify`: the script ran on a throwaway copy of `from` and the result was compared with `to`. */
  readonly verification?: SchemaVerification;
}

export interface DataDiffView {
  /**
   * `blocks`: only the heap blocks the storage reports as changed since the branch point were
   * read (tables rewritten since are read whole, see each table's method); `full`: every table
   * was read whole on both sides.
   */
  readonly method: 'blocks' | 'full';
  /** Why `full`: `requested`, `not-branch-point` (two sides not of one branch and its branch point), `storage` (the pool cannot tell). */
  readonly fullReason?: 'requested' | 'not-branch-point' | 'storage';
  /** With `blocks`: bytes of the database's files the storage reported as changed. */
  readonly changedBytes?: number;
  readonly tables: readonly TableDataDiff[];
  readonly totals: ChangeCounts;
}

export interface DiffView {
  readonly from: DiffSideView;
  readonly to: DiffSideView;
  /** The database compared (both sides hold it). */
  readonly database: string;
  readonly schema?: SchemaDiffView;
  readonly data?: DataDiffView;
  /**
   * Where the time went: scratch clones and instances, schema read + diff, data (of which, for
   * block-level, `rangesMs`: the live side's CHECKPOINT and the storage's changed ranges), proof, all.
   */
  readonly timings: {
    readonly prepareMs: number;
    readonly schemaMs?: number;
    readonly dataMs?: number;
    readonly rangesMs?: number;
    readonly verifyMs?: number;
    readonly totalMs: number;
  };
}

const PREFIXES = ['branch', 'snapshot', 'branch-point'] as const;

/**
 * `NAME` (a branch, else a snapshot), `branch:NAME`, `snapshot:NAME`, `branch-point:NAME`. Names
 * follow the branch-name rules (which have no ':'), so the prefix is never ambiguous.
 */
export function parseDiffSide(text: string): DiffSide {
  const colon = text.indexOf(':');
  if (colon < 0) return { kind: 'name', name: assertBranchName(text) };
  const prefix = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (!(PREFIXES as readonly string[]).includes(prefix)) {
    throw new PgbranchError('INVALID_ARGUMENT', `"${text}" is not a diff side: use NAME, branch:NAME, snapshot:NAME or branch-point:NAME`, { details: { side: text } });
  }
  assertBranchName(name);
  return prefix === 'branch-point' ? { kind: 'branch-point', branch: name } : { kind: prefix as 'branch' | 'snapshot', name };
}

/** The text `parseDiffSide` reads back. */
export function formatDiffSide(side: DiffSide): string {
  switch (side.kind) {
    case 'name':
      return side.name;
    case 'branch-point':
      return `branch-point:${side.branch}`;
    default:
      return `${side.kind}:${side.name}`;
  }
}
