import type { ConnectionTarget } from '../types.js';

/**
 * Row-level data diff between two instances of the same cluster lineage: `base` (a copy of an
 * earlier state) and `head` (the same cluster, changed since). It reads only the heap blocks the
 * caller says may differ; it knows nothing about how the caller found them.
 */

export interface TableName {
  readonly schema: string;
  readonly name: string;
}

/**
 * Heap block numbers (main fork) that may differ between the two sides of one relation, or
 * `'all'`. The promise the caller makes: any block listed on neither side is byte-identical on
 * both sides (or missing on both). Over-listing only costs reads. Both lists are read on both
 * sides (their union), and `'all'` on either side means the whole table is compared.
 */
export interface ChangedBlocks {
  readonly base: readonly number[] | 'all';
  readonly head: readonly number[] | 'all';
}

/** A value as JSON can carry it without loss: bigint, numeric, bytea (`\x…` hex) and the rest as text. */
export type JsonValue = string | number | boolean | null;
export type RowValues = Readonly<Record<string, JsonValue>>;

/**
 * One changed row. Keyed tables: an update of the key itself is reported as the old key deleted
 * and the new key inserted (a key is the row's identity). Tables without a primary key are
 * compared as multisets of rows, so they only have inserts and deletes (one per copy of a
 * duplicated row). Values are those of the compared (common) columns.
 */
export type RowChange =
  | { readonly change: 'inserted'; readonly key?: RowValues; readonly new: RowValues }
  | { readonly change: 'updated'; readonly key: RowValues; readonly old: RowValues; readonly new: RowValues }
  | { readonly change: 'deleted'; readonly key?: RowValues; readonly old: RowValues };

export interface ChangeCounts {
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
}

/**
 * Why a table was read whole although block information may have been offered. `prepared-transactions`:
 * a two-phase transaction prepared on the base side was since committed or rolled back on the
 * head, which changes what its rows' blocks mean without changing a byte of them.
 */
export type FullReason = 'no-block-info' | 'relation-rewritten' | 'unlogged' | 'all-blocks' | 'prepared-transactions' | 'requested';

/** What it cost: rows and blocks read on each side, keys looked up in the other side's index. */
export interface ScanFigures {
  readonly baseRows: number;
  readonly headRows: number;
  /** Distinct heap blocks range-scanned; undefined when the table was read whole. */
  readonly blocks?: number;
  readonly keyLookups: number;
}

/** A table present on both sides, compared row by row. */
export interface ComparedTable extends TableName {
  readonly status: 'compared';
  /** `blocks`: only the changed blocks were read; `full`: both sides were read whole. */
  readonly method: 'blocks' | 'full';
  readonly fullReason?: FullReason;
  /** Primary key columns used as row identity; null: compared as a multiset of whole rows. */
  readonly keyColumns: readonly string[] | null;
  /** Columns compared: those present on both sides, in the head's order. */
  readonly columns: readonly string[];
  /** Columns only the head has (not compared). */
  readonly columnsAdded: readonly string[];
  /** Columns only the base has (not compared). */
  readonly columnsDropped: readonly string[];
  readonly counts: ChangeCounts;
  /** Present when rows were asked for: at most `limit`, ordered by key (or row), deterministic. */
  readonly rows?: readonly RowChange[];
  /** True when more changed rows exist than `rows` holds. */
  readonly rowsTruncated?: boolean;
  readonly scanned: ScanFigures;
}

/** A table on one side only: a schema change, reported but not diffed. */
export interface AddedOrDroppedTable extends TableName {
  readonly status: 'added' | 'dropped';
}

export type TableDataDiff = ComparedTable | AddedOrDroppedTable;

export interface DataDiff {
  /** Sorted by schema, then name. Unchanged tables are included (with zero counts). */
  readonly tables: readonly TableDataDiff[];
  readonly totals: ChangeCounts;
}

export interface RowOptions {
  /** Return the changed rows (old and new values), not only counts. */
  readonly rows: boolean;
  /** At most this many rows per table (default 1000); counts stay exact. */
  readonly limit?: number;
}

export interface DiffTableDataOptions extends RowOptions {
  readonly base: ConnectionTarget;
  readonly head: ConnectionTarget;
  readonly table: TableName;
  /**
   * Absent: the table is compared whole (as fullDiffTableData). The blocks are taken as given:
   * for a head still being written, changes committed after they were computed may be missed —
   * use diffData with `afterSnapshots` for an exact answer at one instant.
   */
  readonly changedBlocks?: ChangedBlocks;
}

export interface FullDiffTableDataOptions extends RowOptions {
  readonly base: ConnectionTarget;
  readonly head: ConnectionTarget;
  readonly table: TableName;
}

/** A table's main-fork file on each side, as `relationFiles` describes it. */
export interface RelationPair extends TableName {
  readonly base: RelationFile;
  readonly head: RelationFile;
}

export interface DiffDataOptions extends Partial<RowOptions> {
  readonly base: ConnectionTarget;
  readonly head: ConnectionTarget;
  /** Only these tables (default: every ordinary table outside the system schemas). */
  readonly tables?: readonly TableName[];
  /**
   * Runs once both snapshots are taken, before any table is read. A head that may still be
   * written should be CHECKPOINTed here and the changed blocks worked out after that: every
   * change the head's snapshot can see is then in a block written to its files, so no block
   * list computed afterwards can miss it.
   */
  readonly afterSnapshots?: () => void | Promise<void>;
  /**
   * Changed blocks of a table present on both sides; undefined (or no callback) compares it
   * whole. Called after `afterSnapshots`, and only for tables whose relation was not rewritten
   * (same relfilenode on both sides) and is not unlogged: those are compared whole anyway.
   */
  readonly changedBlocksFor?: (relation: RelationPair) => ChangedBlocks | undefined | Promise<ChangedBlocks | undefined>;
}

/** Where a table's rows live on disk, relative to the data directory. */
export interface RelationFile extends TableName {
  readonly oid: number;
  readonly relfilenode: number;
  /** `base/<database oid>/<relfilenode>` (or under `pg_tblspc/…`): the first segment of the main fork. */
  readonly path: string;
  /** `p` permanent, `u` unlogged. */
  readonly persistence: 'p' | 'u';
}

export interface RelationFiles {
  /** Bytes per heap block (BLCKSZ, normally 8192). */
  readonly blockSize: number;
  /** Blocks per segment file (RELSEG_SIZE, normally 131072 = 1 GiB): `N.k` holds blocks from k × this. */
  readonly segmentBlocks: number;
  readonly tables: readonly RelationFile[];
}
