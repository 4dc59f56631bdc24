import { PgbranchError } from '../../errors.js';
import { readTables, type TableInfo } from './catalog.js';
import { openSnapshots, preparedTransactionsResolved, type Snapshot } from './snapshot.js';
import { compareTable, DEFAULT_ROW_LIMIT, type CompareOptions } from './table-diff.js';
import type {
  ChangeCounts,
  ComparedTable,
  DataDiff,
  DiffDataOptions,
  DiffTableDataOptions,
  FullDiffTableDataOptions,
  RelationFile,
  TableDataDiff,
  TableName,
} from './types.js';

function rowLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_ROW_LIMIT;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new PgbranchError('INVALID_ARGUMENT', `row limit must be a non-negative integer, got ${String(limit)}`, { cause: new Error(`limit ${String(limit)}`) });
  }
  return limit;
}

async function withSnapshots<T>(options: { base: DiffDataOptions['base']; head: DiffDataOptions['head'] }, fn: (s: { base: Snapshot; head: Snapshot }) => Promise<T>): Promise<T> {
  const snapshots = await openSnapshots(options.base, options.head);
  try {
    return await fn(snapshots);
  } finally {
    await Promise.all([snapshots.base.close(), snapshots.head.close()]);
  }
}

async function trustOf(snapshots: { base: Snapshot; head: Snapshot }): Promise<Pick<CompareOptions, 'blocksUntrusted'>> {
  return (await preparedTransactionsResolved(snapshots)) ? { blocksUntrusted: 'prepared-transactions' } : {};
}

async function tableOnBothSides(snapshots: { base: Snapshot; head: Snapshot }, table: TableName): Promise<{ base: TableInfo; head: TableInfo }> {
  const [[base], [head]] = await Promise.all([readTables(snapshots.base, [table]), readTables(snapshots.head, [table])]);
  if (!base || !head) {
    const where = !base && !head ? 'on either side' : !base ? 'on the base side (added since?)' : 'on the head side (dropped since?)';
    throw new PgbranchError('TABLE_NOT_FOUND', `table ${table.schema}.${table.name} does not exist ${where}; list tables with diffData to see added and dropped ones`, {
      cause: new Error(`no ordinary table ${table.schema}.${table.name} ${where}`),
      details: { schema: table.schema, name: table.name },
    });
  }
  return { base, head };
}

/**
 * Row changes of one table from `base` to `head`, reading only `changedBlocks` (and probing keys
 * by index) when given; whole tables otherwise, or when the relation was rewritten or is
 * unlogged (see ComparedTable.fullReason). Both sides are read in REPEATABLE READ, read-only
 * transactions.
 */
export async function diffTableData(options: DiffTableDataOptions): Promise<ComparedTable> {
  const compare: CompareOptions = { rows: options.rows, limit: rowLimit(options.limit), changedBlocks: options.changedBlocks };
  return withSnapshots(options, async (snapshots) => {
    const { base, head } = await tableOnBothSides(snapshots, options.table);
    return compareTable(snapshots, base, head, { ...compare, ...(options.changedBlocks ? await trustOf(snapshots) : {}) });
  });
}

/** Row changes of one table by reading both sides whole: the fallback, and the reference. */
export async function fullDiffTableData(options: FullDiffTableDataOptions): Promise<ComparedTable> {
  const compare: CompareOptions = { rows: options.rows, limit: rowLimit(options.limit), forceFull: true };
  return withSnapshots(options, async (snapshots) => {
    const { base, head } = await tableOnBothSides(snapshots, options.table);
    return compareTable(snapshots, base, head, compare);
  });
}

const ALL_BLOCKS = { base: 'all', head: 'all' } as const;

const fileOf = ({ schema, name, oid, relfilenode, path, persistence }: TableInfo): RelationFile => ({ schema, name, oid, relfilenode, path, persistence });

/**
 * Row changes of every table (or those named) from `base` to `head`, all read at one snapshot per
 * side. Tables on one side only are reported as added or dropped, not diffed. `changedBlocksFor`
 * supplies each table's changed blocks; without it (or when it answers undefined) tables are
 * compared whole.
 */
export async function diffData(options: DiffDataOptions): Promise<DataDiff> {
  const rowOptions = { rows: options.rows ?? false, limit: rowLimit(options.limit) };
  return withSnapshots(options, async (snapshots) => {
    const compare = { ...rowOptions, ...(options.changedBlocksFor ? await trustOf(snapshots) : {}) };
    const [baseTables, headTables] = await Promise.all([readTables(snapshots.base, options.tables), readTables(snapshots.head, options.tables)]);
    await options.afterSnapshots?.();
    const id = (t: TableName): string => JSON.stringify([t.schema, t.name]);
    const baseById = new Map(baseTables.map((t) => [id(t), t]));
    const headIds = new Set(headTables.map(id));
    const results: TableDataDiff[] = [];
    for (const head of headTables) {
      const base = baseById.get(id(head));
      if (!base) {
        results.push({ schema: head.schema, name: head.name, status: 'added' });
        continue;
      }
      // Rewritten or unlogged tables are compared whole whatever the blocks say (compareTable
      // records why), so the caller is not asked about them.
      const rewritten = base.relfilenode !== head.relfilenode || base.persistence === 'u' || head.persistence === 'u';
      const changedBlocks = rewritten ? ALL_BLOCKS : await options.changedBlocksFor?.({ schema: head.schema, name: head.name, base: fileOf(base), head: fileOf(head) });
      results.push(await compareTable(snapshots, base, head, { ...compare, changedBlocks }));
    }
    for (const base of baseTables) if (!headIds.has(id(base))) results.push({ schema: base.schema, name: base.name, status: 'dropped' });
    results.sort((a, b) => (a.schema === b.schema ? byBytes(a.name, b.name) : byBytes(a.schema, b.schema)));
    const totals: { -readonly [K in keyof ChangeCounts]: number } = { inserted: 0, updated: 0, deleted: 0 };
    for (const table of results) {
      if (table.status !== 'compared') continue;
      totals.inserted += table.counts.inserted;
      totals.updated += table.counts.updated;
      totals.deleted += table.counts.deleted;
    }
    return { tables: results, totals };
  });
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
