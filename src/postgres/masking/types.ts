/**
 * Masking as data: what the executor and the detector consume. The rules-as-code parser (in the
 * domain) produces `MaskingRules`; `readMaskCatalog` produces the `MaskCatalog` it is validated
 * against. Nothing here carries a value of the database.
 */

/** Where a rule was written (1-based), for messages; absent for rules built in code. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export const FAKE_KINDS = [
  'email',
  'name',
  'first_name',
  'last_name',
  'phone',
  'address',
  'city',
  'iban',
  'company',
  'username',
  'url',
  'ip',
  'text',
] as const;
export type FakeKind = (typeof FAKE_KINDS)[number];

/**
 * One masking strategy. Every strategy but `sql` and `constant` is a function of the original
 * value and the key alone (never of the column), so equal inputs give equal outputs in every table:
 * joins and foreign keys survive. NULL stays NULL under every strategy.
 */
export type MaskStrategy =
  | { readonly kind: 'fake'; readonly fake: FakeKind }
  /** Keyed HMAC-SHA256; text gets hex (`length` hex digits, default 64), integers/uuid/bytea get bits of it. */
  | { readonly kind: 'hash'; readonly length?: number }
  | { readonly kind: 'partial'; readonly keepFirst: number; readonly keepLast: number; readonly maskChar: string }
  | { readonly kind: 'null' }
  /** A fixed value for every non-NULL value (JSON text for json/jsonb columns). */
  | { readonly kind: 'constant'; readonly value: string | number | boolean }
  /** Shift by a deterministic offset in [-seconds, +seconds] (dates shift by whole days). */
  | { readonly kind: 'noise-date'; readonly seconds: number }
  /** Multiply by 1 + a deterministic factor in [-percent, +percent] / 100. */
  | { readonly kind: 'noise-number'; readonly percent: number }
  /** An SQL expression over the row's columns (their original values), as written by the user. */
  | { readonly kind: 'sql'; readonly expression: string }
  /** Explicitly not personal: left as is (and not flagged by the detector). */
  | { readonly kind: 'keep' };

export type MaskStrategyKind = MaskStrategy['kind'];

/**
 * A path inside a json/jsonb value: object keys, or `*` for every element of an array (or every
 * value of an object). `contact.emails[*]` is `['contact', 'emails', '*']`.
 */
export type JsonPath = readonly string[];

export interface JsonPathRule {
  readonly path: JsonPath;
  readonly strategy: MaskStrategy;
  readonly at?: SourcePosition;
}

export type ColumnRule =
  | { readonly column: string; readonly kind: 'strategy'; readonly strategy: MaskStrategy; readonly at?: SourcePosition }
  /** json/jsonb column masked per path; the rest of the document is kept. */
  | { readonly column: string; readonly kind: 'json'; readonly paths: readonly JsonPathRule[]; readonly at?: SourcePosition };

export interface TableRule {
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly ColumnRule[];
  readonly at?: SourcePosition;
}

export interface MaskingRules {
  /** The database the rules are written for, when the file says (the caller decides otherwise). */
  readonly database?: string;
  readonly tables: readonly TableRule[];
}

/** What a column can hold, as far as masking cares. */
export type ColumnClass =
  | 'string'
  | 'integer'
  | 'numeric'
  | 'date'
  | 'timestamp'
  | 'json'
  | 'uuid'
  | 'bytea'
  | 'inet'
  | 'boolean'
  | 'other';

export interface CatalogColumn {
  readonly name: string;
  /** As PostgreSQL prints it (format_type), e.g. `character varying(120)`, `text[]`. */
  readonly type: string;
  /** Class of the type, or of its element for arrays (domains resolved to their base type). */
  readonly class: ColumnClass;
  readonly isArray: boolean;
  /** Declared maximum length of varchar(n)/char(n) (of the element for arrays). */
  readonly maxLength?: number;
  readonly notNull: boolean;
  /** GENERATED … STORED/VIRTUAL: computed from other columns, cannot be written. */
  readonly generated: boolean;
  /** GENERATED ALWAYS AS IDENTITY (cannot be updated to a chosen value). */
  readonly identityAlways: boolean;
}

export interface CatalogForeignKey {
  readonly name: string;
  readonly columns: readonly string[];
  readonly refSchema: string;
  readonly refTable: string;
  readonly refColumns: readonly string[];
}

export interface CatalogTable {
  readonly schema: string;
  readonly name: string;
  /** table (incl. partitioned parents), partition (a leaf or sub-partition), matview, view, foreign. */
  readonly kind: 'table' | 'partition' | 'matview' | 'view' | 'foreign';
  /** For partitions: the top partitioned table rules must name. */
  readonly partitionOf?: { readonly schema: string; readonly name: string };
  readonly columns: readonly CatalogColumn[];
  /** Column sets of unique indexes (incl. the primary key); expression indexes left out. */
  readonly uniqueKeys: readonly (readonly string[])[];
  readonly foreignKeys: readonly CatalogForeignKey[];
}

/** A snapshot of one database's user tables, as data (validation needs no connection). */
export interface MaskCatalog {
  readonly database: string;
  readonly tables: readonly CatalogTable[];
}

/** The personal kinds the detector knows. */
export type PiiKind = 'email' | 'phone' | 'name' | 'address' | 'birth' | 'national_id' | 'iban' | 'card' | 'ip' | 'username' | 'secret';

export type PiiReason =
  | { readonly by: 'name'; readonly kind: PiiKind; readonly matched: string }
  | { readonly by: 'content'; readonly kind: PiiKind; readonly matched: number; readonly sampled: number };

/** A column (or a path inside a json column) that looks personal and has no rule. Never carries values. */
export interface PersonalColumn {
  readonly schema: string;
  readonly table: string;
  readonly column: string;
  readonly type: string;
  /** For json/jsonb: the path the personal values were found at, e.g. `contact.email`, `items[*].email`. */
  readonly jsonPath?: string;
  readonly reasons: readonly PiiReason[];
  /** One line for humans, e.g. `public.users.email (text): name matches "email"; 200 of 200 sampled values are emails`. */
  readonly message: string;
}

export interface DetectOptions {
  /** Rows sampled per table (default 500). */
  readonly sampleRows?: number;
  /** Schemas to look at (default: every non-system schema). */
  readonly schemas?: readonly string[];
}

export interface MaskProgress {
  /** mask: a table being masked (rewrite or update); rewrite: VACUUM FULL after an update. */
  readonly phase: 'prepare' | 'mask' | 'constraints' | 'rewrite' | 'statistics' | 'matviews' | 'done';
  readonly table?: string;
  /** Tables done in this phase / total tables. */
  readonly done: number;
  readonly total: number;
}

export interface MaskOptions {
  /** Host secret for the keyed hash (≥ 16 bytes). Never logged, never written to the database. */
  readonly key: string | Uint8Array;
  readonly onProgress?: (progress: MaskProgress) => void;
}

export interface TableMaskResult {
  readonly schema: string;
  readonly table: string;
  readonly maskedColumns: readonly string[];
  /**
   * rewrite: one ALTER TABLE … ALTER COLUMN … TYPE … USING pass (new files, no dead tuples);
   * update: UPDATE then VACUUM FULL (when a view, rule, policy or generated column uses a masked
   * column, the table has inheritance children, or an sql rule has a sub-select).
   */
  readonly method: 'rewrite' | 'update';
  /** Rows masked. */
  readonly rows: number;
  /** pg_total_relation_size before and after (heap + TOAST + indexes). */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** The UPDATE (update method; 0 for rewrite). */
  readonly updateMs: number;
  /** The ALTER TABLE rewrite, or the VACUUM FULL after the UPDATE: table, TOAST and indexes in new files. */
  readonly rewriteMs: number;
  readonly analyzeMs: number;
}

export interface MaskReport {
  readonly database: string;
  readonly tables: readonly TableMaskResult[];
  /** Foreign keys dropped before the updates and re-added (so re-validated) after. */
  readonly foreignKeysRevalidated: readonly string[];
  readonly matviewsRefreshed: readonly string[];
  readonly totalMs: number;
}

/** What sealWal saw and did; wipeResidue checks the shut-down cluster against it. */
export interface WalSeal {
  /** First LSN of the WAL segment begun after masking: nothing before it may survive. */
  readonly cleanFromLsn: string;
  readonly walSegmentBytes: number;
  readonly timeline: number;
  /** Replication slots dropped (they pin old WAL, and logical ones spill decoded rows). */
  readonly droppedSlots: readonly string[];
}

export interface WipeReport {
  readonly removedWalSegments: number;
  readonly removedWalBytes: number;
  /** Bytes zeroed in the kept segment after the shutdown checkpoint record. */
  readonly zeroedWalBytes: number;
  /** Other files removed (temp files, statistics files, stray logs), relative to the data directory. */
  readonly removedFiles: readonly string[];
  /** The segment kept: the one holding the shutdown checkpoint. */
  readonly keptWalSegment: string;
}

export interface ResidueHit {
  /** Path relative to the scanned directory. */
  readonly file: string;
  readonly offset: number;
  /** Index of the needle that matched (never the value). */
  readonly needle: number;
}
