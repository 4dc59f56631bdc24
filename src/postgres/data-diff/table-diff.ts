import { PgbranchError } from '../../errors.js';
import { quoteIdent } from '../quote.js';
import { blockRanges, tidRangeCondition, unionBlocks, type BlockRange } from './blocks.js';
import type { ColumnInfo, TableInfo } from './catalog.js';
import type { Snapshot, TextRow } from './snapshot.js';
import type { ChangeCounts, ChangedBlocks, ComparedTable, FullReason, JsonValue, RowChange, RowValues, ScanFigures, TableName } from './types.js';
import { columnComparator, INTEGER_TYPES, toJsonValue, type ColumnComparator } from './values.js';

export const DEFAULT_ROW_LIMIT = 1000;
/** TID range scans per statement (UNION ALL): one round trip reads many runs of blocks. */
const RANGES_PER_QUERY = 128;
/** Rows per FETCH when streaming whole tables (a few MB per batch and side). */
const FULL_BATCH_ROWS = 20_000;
/** Keys per index lookup statement. */
const KEYS_PER_LOOKUP = 5000;

export interface CompareOptions {
  readonly rows: boolean;
  readonly limit: number;
  /** Undefined, or `requested`: read both sides whole. */
  readonly changedBlocks?: ChangedBlocks;
  readonly forceFull?: boolean;
  /** Set when blocks cannot be trusted for any table of these snapshots (see FullReason). */
  readonly blocksUntrusted?: 'prepared-transactions';
}

/**
 * How the two sides of one table line up: the columns both have (in the head's order), the
 * primary key when both sides agree on it, and how each compared column is ordered for a merge.
 */
interface Shape {
  readonly base: TableInfo;
  readonly head: TableInfo;
  readonly columns: readonly string[];
  readonly baseColumns: readonly ColumnInfo[];
  readonly headColumns: readonly ColumnInfo[];
  readonly columnsAdded: readonly string[];
  readonly columnsDropped: readonly string[];
  readonly key: readonly string[] | null;
  readonly keyIndexes: readonly number[] | null;
  /** Per compared column: ordered as an integer (native, by index) or as "C"-collated text. */
  readonly integerOrder: readonly boolean[];
  readonly comparators: readonly ColumnComparator[];
}

function shapeOf(base: TableInfo, head: TableInfo): Shape {
  const baseByName = new Map(base.columns.map((c) => [c.name, c]));
  const headNames = new Set(head.columns.map((c) => c.name));
  const headColumns = head.columns.filter((c) => baseByName.has(c.name));
  const baseColumns = headColumns.map((c) => baseByName.get(c.name)!);
  const columns = headColumns.map((c) => c.name);
  // Only a key both sides agree on identifies a row on both; otherwise rows are a multiset.
  const sameKey =
    base.key !== null && head.key !== null && base.key.length === head.key.length && base.key.every((k, i) => k === head.key![i]) && base.key.every((k) => columns.includes(k));
  const key = sameKey ? head.key : null;
  const integerOrder = headColumns.map((c, i) => INTEGER_TYPES.has(c.baseTypeOid) && INTEGER_TYPES.has(baseColumns[i]!.baseTypeOid));
  return {
    base,
    head,
    columns,
    baseColumns,
    headColumns,
    columnsAdded: head.columns.filter((c) => !baseByName.has(c.name)).map((c) => c.name),
    columnsDropped: base.columns.filter((c) => !headNames.has(c.name)).map((c) => c.name),
    key,
    keyIndexes: key ? key.map((k) => columns.indexOf(k)) : null,
    integerOrder,
    comparators: headColumns.map((c, i) => (integerOrder[i] ? columnComparator(c.baseTypeOid) : columnComparator(0))),
  };
}

const qualified = (table: TableInfo): string => `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
const selectList = (shape: Shape): string => shape.columns.map((c) => `t.${quoteIdent(c)}`).join(', ');

/** Compares two rows over the given column indexes with the shape's comparators. */
function comparatorOver(shape: Shape, indexes: readonly number[]): (a: TextRow, b: TextRow) => number {
  return (a, b) => {
    for (const i of indexes) {
      const c = shape.comparators[i]!(a[i]!, b[i]!);
      if (c !== 0) return c;
    }
    return 0;
  };
}

function sameRow(a: TextRow, b: TextRow): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Counts every change and keeps the first `limit` as RowChanges (callers add them in order). */
class ChangeCollector {
  inserted = 0;
  updated = 0;
  deleted = 0;
  readonly rows: RowChange[] = [];
  truncated = false;

  constructor(
    private readonly shape: Shape,
    private readonly options: CompareOptions,
  ) {}

  add(change: RowChange['change'], baseRow: TextRow | undefined, headRow: TextRow | undefined): void {
    this[change]++;
    if (!this.options.rows) return;
    if (this.rows.length >= this.options.limit) {
      this.truncated = true;
      return;
    }
    this.rows.push(this.toRowChange(change, baseRow, headRow));
  }

  private values(row: TextRow, columns: readonly ColumnInfo[], only?: readonly number[]): RowValues {
    const out: Record<string, JsonValue> = {};
    for (const i of only ?? columns.map((_, j) => j)) out[columns[i]!.name] = toJsonValue(row[i]!, columns[i]!.baseTypeOid);
    return out;
  }

  private toRowChange(change: RowChange['change'], baseRow: TextRow | undefined, headRow: TextRow | undefined): RowChange {
    const { shape } = this;
    const keyOf = (row: TextRow, columns: readonly ColumnInfo[]): { key?: RowValues } =>
      shape.keyIndexes ? { key: this.values(row, columns, shape.keyIndexes) } : {};
    if (change === 'inserted') return { change, ...keyOf(headRow!, shape.headColumns), new: this.values(headRow!, shape.headColumns) };
    if (change === 'deleted') return { change, ...keyOf(baseRow!, shape.baseColumns), old: this.values(baseRow!, shape.baseColumns) };
    return {
      change,
      key: this.values(headRow!, shape.headColumns, shape.keyIndexes!),
      old: this.values(baseRow!, shape.baseColumns),
      new: this.values(headRow!, shape.headColumns),
    };
  }

  counts(): ChangeCounts {
    return { inserted: this.inserted, updated: this.updated, deleted: this.deleted };
  }
}

// ---------------------------------------------------------------------------------------------
// Block-level comparison

/** One statement reading the visible rows of some runs of blocks, each run a TID range scan. */
export function blockReadSql(table: TableName, columns: readonly string[], ranges: readonly BlockRange[]): string {
  const list = columns.map((c) => `t.${quoteIdent(c)}`).join(', ');
  const from = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  return ranges.map((range) => `SELECT ${list} FROM ONLY ${from} t WHERE ${tidRangeCondition(range)}`).join('\nUNION ALL\n');
}

async function readBlocks(snapshot: Snapshot, table: TableInfo, shape: Shape, ranges: readonly BlockRange[]): Promise<TextRow[]> {
  const rows: TextRow[] = [];
  for (let i = 0; i < ranges.length; i += RANGES_PER_QUERY) {
    for (const row of await snapshot.textRows(blockReadSql(table, shape.columns, ranges.slice(i, i + RANGES_PER_QUERY)))) rows.push(row);
  }
  return rows;
}

/**
 * One statement fetching the rows whose key is among the arrays `$1…$n` (one text array per key
 * column, cast to each column's type): a join the planner runs as index probes for few keys.
 */
export function keyLookupSql(table: TableName, columns: readonly string[], key: ReadonlyArray<{ readonly name: string; readonly type: string }>): string {
  const list = columns.map((c) => `t.${quoteIdent(c)}`).join(', ');
  const from = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  const names = key.map((_, j) => `k${j}`);
  return (
    `SELECT ${list} FROM ONLY ${from} t ` +
    `JOIN unnest(${key.map((_, j) => `$${j + 1}::text[]`).join(', ')}) AS k(${names.join(', ')}) ` +
    `ON ${key.map((column, j) => `t.${quoteIdent(column.name)} = k.${names[j]}::${column.type}`).join(' AND ')}`
  );
}

/** Rows of `table` whose key is one of `keys` (each key: texts of the key columns), by index. */
async function lookupKeys(snapshot: Snapshot, table: TableInfo, columns: readonly ColumnInfo[], shape: Shape, keys: readonly TextRow[]): Promise<TextRow[]> {
  const keyIndexes = shape.keyIndexes!;
  const sql = keyLookupSql(table, shape.columns, keyIndexes.map((i) => ({ name: shape.columns[i]!, type: columns[i]!.type })));
  const rows: TextRow[] = [];
  for (let i = 0; i < keys.length; i += KEYS_PER_LOOKUP) {
    const chunk = keys.slice(i, i + KEYS_PER_LOOKUP);
    const params = keyIndexes.map((_, j) => chunk.map((key) => key[j]!));
    for (const row of await snapshot.textRows(sql, params)) rows.push(row);
  }
  return rows;
}

interface BlockResult {
  readonly collector: ChangeCollector;
  readonly scanned: ScanFigures;
}

async function compareBlocks(snapshots: { base: Snapshot; head: Snapshot }, shape: Shape, blocks: readonly number[], options: CompareOptions): Promise<BlockResult> {
  const ranges = blockRanges(blocks);
  const [baseRows, headRows] = await Promise.all([
    readBlocks(snapshots.base, shape.base, shape, ranges),
    readBlocks(snapshots.head, shape.head, shape, ranges),
  ]);
  const collector = new ChangeCollector(shape, options);
  const pending: Array<{ change: RowChange['change']; base?: TextRow; head?: TextRow }> = [];
  let keyLookups = 0;

  if (shape.keyIndexes) {
    const keyIndexes = shape.keyIndexes;
    const keyText = (row: TextRow): string => JSON.stringify(keyIndexes.map((i) => row[i]));
    const keyValues = (row: TextRow): TextRow => keyIndexes.map((i) => row[i]!);
    const index = (rows: readonly TextRow[], side: string): Map<string, TextRow> => {
      const map = new Map<string, TextRow>();
      for (const row of rows) {
        const k = keyText(row);
        if (map.has(k)) {
          throw new PgbranchError('INTERNAL', `data diff: two visible rows with key ${k} in ${shape.head.schema}.${shape.head.name} on the ${side} side`, {
            cause: new Error('duplicate primary key in one snapshot'),
          });
        }
        map.set(k, row);
      }
      return map;
    };
    const baseByKey = index(baseRows, 'base');
    const headByKey = index(headRows, 'head');
    // A key seen on one side only may still exist on the other outside the blocks read (it
    // cannot, if the caller's blocks are right, but an index probe is cheap insurance).
    const missingInBase = headRows.filter((row) => !baseByKey.has(keyText(row))).map(keyValues);
    const missingInHead = baseRows.filter((row) => !headByKey.has(keyText(row))).map(keyValues);
    keyLookups = missingInBase.length + missingInHead.length;
    const [foundInBase, foundInHead] = await Promise.all([
      missingInBase.length > 0 ? lookupKeys(snapshots.base, shape.base, shape.baseColumns, shape, missingInBase) : [],
      missingInHead.length > 0 ? lookupKeys(snapshots.head, shape.head, shape.headColumns, shape, missingInHead) : [],
    ]);
    for (const row of foundInBase) if (!baseByKey.has(keyText(row))) baseByKey.set(keyText(row), row);
    for (const row of foundInHead) if (!headByKey.has(keyText(row))) headByKey.set(keyText(row), row);

    for (const [k, head] of headByKey) {
      const base = baseByKey.get(k);
      if (!base) pending.push({ change: 'inserted', head });
      else if (!sameRow(base, head)) pending.push({ change: 'updated', base, head });
    }
    for (const [k, base] of baseByKey) if (!headByKey.has(k)) pending.push({ change: 'deleted', base });
    const compare = comparatorOver(shape, keyIndexes);
    pending.sort((a, b) => compare((a.head ?? a.base)!, (b.head ?? b.base)!));
  } else {
    // Rows in blocks neither side listed are the same on both sides, so the multiset difference
    // of the rows read is the multiset difference of the whole tables.
    const counts = new Map<string, { row: TextRow; balance: number }>();
    for (const row of headRows) {
      const k = JSON.stringify(row);
      const entry = counts.get(k);
      if (entry) entry.balance++;
      else counts.set(k, { row, balance: 1 });
    }
    for (const row of baseRows) {
      const k = JSON.stringify(row);
      const entry = counts.get(k);
      if (entry) entry.balance--;
      else counts.set(k, { row, balance: -1 });
    }
    for (const { row, balance } of counts.values()) {
      for (let n = 0; n < balance; n++) pending.push({ change: 'inserted', head: row });
      for (let n = 0; n < -balance; n++) pending.push({ change: 'deleted', base: row });
    }
    const compare = comparatorOver(
      shape,
      shape.columns.map((_, i) => i),
    );
    pending.sort((a, b) => compare((a.head ?? a.base)!, (b.head ?? b.base)!));
  }

  for (const p of pending) collector.add(p.change, p.base, p.head);
  return { collector, scanned: { baseRows: baseRows.length, headRows: headRows.length, blocks: blocks.length, keyLookups } };
}

// ---------------------------------------------------------------------------------------------
// Full comparison: both sides streamed in the same order and merged

/**
 * A stream of rows, read a batch at a time (the next batch is fetched while this one is merged),
 * that checks they arrive in the order the merge relies on. `current()` is synchronous; `fill()`
 * is needed only when `ready` is false, so the merge awaits once per batch, not per row.
 */
class OrderedReader {
  private batch: readonly TextRow[] = [];
  private at = 0;
  private finished = false;
  private prefetch: Promise<IteratorResult<TextRow[]>> | undefined;
  private previous: TextRow | undefined;
  count = 0;

  constructor(
    private readonly batches: AsyncGenerator<TextRow[]>,
    private readonly compare: (a: TextRow, b: TextRow) => number,
    private readonly strict: boolean,
    private readonly what: string,
  ) {}

  get ready(): boolean {
    return this.finished || this.at < this.batch.length;
  }

  async fill(): Promise<void> {
    while (!this.ready) {
      const result = await (this.prefetch ?? this.batches.next());
      this.prefetch = undefined;
      if (result.done) {
        this.finished = true;
        return;
      }
      this.batch = result.value;
      this.at = 0;
      this.prefetch = this.batches.next();
      // Awaited by the next fill(); until then a failure must not count as unhandled.
      this.prefetch.catch(() => undefined);
    }
  }

  /** The current row; undefined once the stream is exhausted (call only when `ready`). */
  current(): TextRow | undefined {
    return this.batch[this.at];
  }

  advance(): void {
    const row = this.batch[this.at++]!;
    this.count++;
    if (this.previous) {
      const c = this.compare(this.previous, row);
      if (c > 0 || (this.strict && c === 0)) {
        // The server sorts "C"-collated text by bytes and we compare UTF-8 the same way; a
        // mismatch means an encoding we cannot mirror, and merging on would give wrong results.
        throw new PgbranchError('POSTGRES_ERROR', `data diff: rows of ${this.what} did not arrive in key order (is the database encoding UTF8?)`, {
          cause: new Error('merge order violated'),
        });
      }
    }
    this.previous = row;
  }

  async close(): Promise<void> {
    await this.prefetch?.catch(() => undefined);
    await this.batches.return(undefined);
  }
}

function orderBy(shape: Shape, indexes: readonly number[]): string {
  return indexes
    .map((i) => {
      const column = `t.${quoteIdent(shape.columns[i]!)}`;
      // format('%s') is the type's output function, i.e. exactly the text we receive.
      return shape.integerOrder[i] ? `${column} ASC` : `(${column} IS NULL), format('%s', ${column}) COLLATE "C"`;
    })
    .join(', ');
}

async function compareFull(snapshots: { base: Snapshot; head: Snapshot }, shape: Shape, options: CompareOptions): Promise<BlockResult> {
  const indexes = shape.keyIndexes ?? shape.columns.map((_, i) => i);
  const compare = comparatorOver(shape, indexes);
  const order = indexes.length > 0 ? ` ORDER BY ${orderBy(shape, indexes)}` : '';
  const reader = (snapshot: Snapshot, table: TableInfo): OrderedReader =>
    new OrderedReader(
      snapshot.cursor(`SELECT ${selectList(shape)} FROM ONLY ${qualified(table)} t${order}`, [], FULL_BATCH_ROWS),
      compare,
      shape.keyIndexes !== null,
      `${table.schema}.${table.name} (${snapshot.side})`,
    );
  const base = reader(snapshots.base, shape.base);
  const head = reader(snapshots.head, shape.head);
  const collector = new ChangeCollector(shape, options);
  try {
    for (;;) {
      if (!base.ready || !head.ready) await Promise.all([base.fill(), head.fill()]);
      const a = base.current();
      const b = head.current();
      if (!a && !b) break;
      const c = !a ? 1 : !b ? -1 : compare(a, b);
      if (c < 0) {
        collector.add('deleted', a, undefined);
        base.advance();
      } else if (c > 0) {
        collector.add('inserted', undefined, b);
        head.advance();
      } else {
        // Same key (or, without a key, the same row paired off with one copy on the other side).
        if (!sameRow(a!, b!)) collector.add('updated', a, b);
        base.advance();
        head.advance();
      }
    }
  } finally {
    await Promise.all([base.close(), head.close()]);
  }
  return { collector, scanned: { baseRows: base.count, headRows: head.count, keyLookups: 0 } };
}

// ---------------------------------------------------------------------------------------------

/** Why the blocks cannot be used for this table, if they cannot. */
function fullReason(shape: Shape, options: CompareOptions): FullReason | undefined {
  if (options.forceFull) return 'requested';
  if (!options.changedBlocks) return 'no-block-info';
  // A new relfilenode (TRUNCATE, VACUUM FULL, CLUSTER, a rewriting ALTER) means a new file: block
  // numbers on the two sides no longer name the same place.
  if (shape.base.relfilenode !== shape.head.relfilenode) return 'relation-rewritten';
  // Crash recovery empties unlogged tables, so a copy of one says nothing about the other side.
  if (shape.base.persistence === 'u' || shape.head.persistence === 'u') return 'unlogged';
  if (options.changedBlocks.base === 'all' || options.changedBlocks.head === 'all') return 'all-blocks';
  if (options.blocksUntrusted) return options.blocksUntrusted;
  return undefined;
}

/** Compares one table present on both sides, inside the callers' snapshots. */
export async function compareTable(snapshots: { base: Snapshot; head: Snapshot }, base: TableInfo, head: TableInfo, options: CompareOptions): Promise<ComparedTable> {
  const shape = shapeOf(base, head);
  const reason = fullReason(shape, options);
  const blocks = reason === undefined ? unionBlocks(options.changedBlocks!.base as number[], options.changedBlocks!.head as number[]) : undefined;
  const { collector, scanned } = blocks ? await compareBlocks(snapshots, shape, blocks, options) : await compareFull(snapshots, shape, options);
  return {
    schema: head.schema,
    name: head.name,
    status: 'compared',
    method: blocks ? 'blocks' : 'full',
    ...(reason ? { fullReason: reason } : {}),
    keyColumns: shape.key,
    columns: shape.columns,
    columnsAdded: shape.columnsAdded,
    columnsDropped: shape.columnsDropped,
    counts: collector.counts(),
    ...(options.rows ? { rows: collector.rows, rowsTruncated: collector.truncated } : {}),
    scanned,
  };
}
