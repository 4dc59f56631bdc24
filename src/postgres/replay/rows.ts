import type pg from 'pg';
import type { Client } from '../client.js';
import { toJsonValue, type JsonValue, type RowValues } from '../data-diff/index.js';
import { quoteIdent, quoteLiteral } from '../quote.js';
import type { ReplayTable } from './tables.js';

/**
 * Row replay: reading rows by primary key on either side and writing them on the side being
 * built. Rows travel as JSON objects: read with `row_to_json` and written through
 * `json_populate_recordset(NULL::table, …)`, which matches fields to columns by name (so column
 * order, and columns one side lacks, do not matter) and reads each value with its column type's
 * input function — the round trip is exact for every type with a text form.
 */

export type JsonRow = Readonly<Record<string, unknown>>;

const BATCH_ROWS = 2_000;

/**
 * Every value as the text its type's output function gives (what the data diff compares):
 * a `::text` cast is not the same (it drops the padding of char(n), for one).
 */
const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

/** The output-function text of an expression in SQL (concat() uses it), NULL kept. */
const outputText = (expr: string): string => `CASE WHEN ${expr} IS NULL THEN NULL ELSE concat(${expr}) END`;

const qualified = (t: ReplayTable): string => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
const keyJoin = (t: ReplayTable, a: string, b: string): string => t.key!.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');

function chunks<T>(items: readonly T[], size = BATCH_ROWS): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A key as one string: its values in key order, in the diff's JSON encoding. */
export function keyString(key: Readonly<Record<string, JsonValue>>, columns: readonly string[]): string {
  return JSON.stringify(columns.map((c) => key[c] ?? null));
}

/** A key's values from a row of text outputs, in the diff's JSON encoding. */
function textKey(table: ReplayTable, texts: ReadonlyArray<string | null>): string {
  return JSON.stringify(table.key!.map((k, i) => toJsonValue(texts[i] ?? null, table.columns.find((c) => c.name === k)!.baseTypeOid)));
}

/**
 * The rows of a keyed table at these keys, as the data diff encodes values (each column's text
 * output as a JSON scalar), by keyString. Absent keys are absent from the map.
 */
export async function readRowValues(client: Client, table: ReplayTable, keys: readonly RowValues[]): Promise<Map<string, RowValues>> {
  const found = new Map<string, RowValues>();
  const exprs = table.columns.map((c) => `t.${quoteIdent(c.name)}`).join(', ');
  for (const batch of chunks(keys)) {
    const { rows } = await client.query<unknown[]>({
      text: `SELECT ${exprs} FROM ${qualified(table)} t JOIN json_populate_recordset(NULL::${qualified(table)}, $1::json) k ON ${keyJoin(table, 't', 'k')}`,
      values: [JSON.stringify(batch)],
      rowMode: 'array',
      types: RAW_TEXT,
    });
    for (const row of rows as Array<Array<string | null>>) {
      const values: Record<string, JsonValue> = {};
      table.columns.forEach((c, i) => (values[c.name] = toJsonValue(row[i] ?? null, c.baseTypeOid)));
      found.set(keyString(values, table.key!), values);
    }
  }
  return found;
}

/** Whole rows (row_to_json) of a keyed table at these keys, by keyString. */
export async function readJsonRows(client: Client, table: ReplayTable, keys: readonly RowValues[]): Promise<Map<string, JsonRow>> {
  const found = new Map<string, JsonRow>();
  const keyExprs = table.key!.map((k) => outputText(`t.${quoteIdent(k)}`)).join(', ');
  for (const batch of chunks(keys)) {
    const { rows } = await client.query<unknown[]>({
      text: `SELECT row_to_json(t), ${keyExprs} FROM ${qualified(table)} t JOIN json_populate_recordset(NULL::${qualified(table)}, $1::json) k ON ${keyJoin(table, 't', 'k')}`,
      values: [JSON.stringify(batch)],
      rowMode: 'array',
    });
    for (const row of rows as unknown[][]) found.set(textKey(table, row.slice(1) as Array<string | null>), row[0] as JsonRow);
  }
  return found;
}

export interface WriteFailure {
  readonly row: JsonRow;
  readonly error: string;
}

export interface WriteResult {
  readonly applied: number;
  readonly failed: readonly WriteFailure[];
}

export type RowWrite = 'insert' | 'update' | 'delete';

/** Columns of `target` a row can set: those the row has that are not generated. */
function writable(target: ReplayTable, sample: JsonRow, withoutKey: boolean): string[] {
  return target.columns.filter((c) => !c.generated && c.name in sample && !(withoutKey && target.key?.includes(c.name))).map((c) => c.name);
}

function writeSql(kind: RowWrite, target: ReplayTable, sample: JsonRow): string | undefined {
  const t = qualified(target);
  const source = `json_populate_recordset(NULL::${t}, $1::json)`;
  switch (kind) {
    case 'insert': {
      const cols = writable(target, sample, false).map(quoteIdent);
      if (cols.length === 0) return `INSERT INTO ${t} SELECT FROM ${source} s`;
      // OVERRIDING SYSTEM VALUE: identity columns GENERATED ALWAYS take the branch's values too.
      return `INSERT INTO ${t} (${cols.join(', ')}) OVERRIDING SYSTEM VALUE SELECT ${cols.map((c) => `s.${c}`).join(', ')} FROM ${source} s`;
    }
    case 'update': {
      const cols = writable(target, sample, true).map(quoteIdent);
      if (cols.length === 0) return undefined;
      return `UPDATE ${t} t SET ${cols.map((c) => `${c} = s.${c}`).join(', ')} FROM ${source} s WHERE ${keyJoin(target, 't', 's')}`;
    }
    case 'delete':
      return `DELETE FROM ${t} t USING ${source} s WHERE ${keyJoin(target, 't', 's')}`;
  }
}

/**
 * Writes rows of a keyed table (`delete` needs only their keys) in batches, each its own
 * transaction; a batch that fails is retried row by row, so each row that cannot be written
 * (a constraint it violates, a referenced row that is missing) is reported with its error and
 * the others are written.
 */
export async function writeRows(client: Client, target: ReplayTable, kind: RowWrite, rows: readonly JsonRow[]): Promise<WriteResult> {
  if (rows.length === 0) return { applied: 0, failed: [] };
  const sql = writeSql(kind, target, rows[0]!);
  if (sql === undefined) return { applied: rows.length, failed: [] };
  let applied = 0;
  const failed: WriteFailure[] = [];
  for (const batch of chunks(rows)) {
    try {
      await client.query('BEGIN');
      await client.query(sql, [JSON.stringify(batch)]);
      await client.query('COMMIT');
      applied += batch.length;
      continue;
    } catch {
      await client.query('ROLLBACK');
    }
    for (const row of batch) {
      try {
        await client.query(sql, [JSON.stringify([row])]);
        applied++;
      } catch (err) {
        failed.push({ row, error: (err as Error).message });
      }
    }
  }
  return { applied, failed };
}

export type HistoryInsert = 'inserted' | 'renumbered' | 'present';

/**
 * One row of a migration history table, merged by migration name: skipped when a row of that
 * name is there (the same migration applied on both sides), else inserted — under a new key when
 * its key was handed out on the other side too (a serial id, flyway's installed_rank).
 */
export async function insertHistoryRow(client: Client, target: ReplayTable, nameColumn: string, row: JsonRow): Promise<HistoryInsert> {
  const t = qualified(target);
  const name = row[nameColumn];
  const present = await client.query(`SELECT 1 FROM ${t} WHERE ${outputText(quoteIdent(nameColumn))} = $1`, [name === null || name === undefined ? null : String(name)]);
  if ((present.rowCount ?? 0) > 0) return 'present';
  const key = target.key;
  let collides = false;
  if (key) {
    const { rowCount } = await client.query(
      `SELECT 1 FROM ${t} t JOIN json_populate_recordset(NULL::${t}, $1::json) s ON ${keyJoin(target, 't', 's')}`,
      [JSON.stringify([row])],
    );
    collides = (rowCount ?? 0) > 0;
  }
  if (!collides || !key || key.length !== 1) {
    const result = await writeRows(client, target, 'insert', [row]);
    if (result.failed.length > 0) throw new Error(result.failed[0]!.error);
    return 'inserted';
  }
  const k = key[0]!;
  const cols = writable(target, row, true).map(quoteIdent);
  const keyColumn = target.columns.find((c) => c.name === k)!;
  // A key with a default (serial, identity) takes the next value; one without, the next number.
  const sql = keyColumn.hasDefault
    ? `INSERT INTO ${t} (${cols.join(', ')}) SELECT ${cols.map((c) => `s.${c}`).join(', ')} FROM json_populate_recordset(NULL::${t}, $1::json) s`
    : `INSERT INTO ${t} (${[...cols, quoteIdent(k)].join(', ')}) SELECT ${cols.map((c) => `s.${c}`).join(', ')}, (SELECT coalesce(max(${quoteIdent(k)}), 0) + 1 FROM ${t}) FROM json_populate_recordset(NULL::${t}, $1::json) s`;
  await client.query(sql, [JSON.stringify([row])]);
  return 'renumbered';
}

/** A diff value as the text output it came from (booleans were `t`/`f`). */
function valueText(value: JsonValue): string | null {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return String(value);
}

/**
 * Deletes one copy of a row from a table without a primary key (such tables are multisets: the
 * diff reports one delete per copy). Returns false when no row has those values any more.
 */
export async function deleteOneRow(client: Client, target: ReplayTable, values: RowValues): Promise<boolean> {
  const cols = Object.keys(values).filter((c) => target.columns.some((tc) => tc.name === c));
  const conditions = cols.map((c, i) => `${outputText(quoteIdent(c))} IS NOT DISTINCT FROM $${i + 1}`);
  const t = qualified(target);
  const { rowCount } = await client.query(
    `DELETE FROM ${t} WHERE ctid = (SELECT ctid FROM ${t} WHERE ${conditions.length > 0 ? conditions.join(' AND ') : 'true'} LIMIT 1)`,
    cols.map((c) => valueText(values[c] ?? null)),
  );
  return (rowCount ?? 0) > 0;
}

const BLOCKS_PER_READ = 256;

/**
 * Reads a whole table from `source` in block ranges (TID range scans, so memory stays bounded
 * whatever its size), `columns` only (default: all), and hands each batch of rows to `sink`.
 */
export async function scanTable(
  source: Client,
  table: { readonly schema: string; readonly name: string },
  columns: readonly string[] | undefined,
  sink: (rows: JsonRow[]) => Promise<void>,
): Promise<number> {
  const t = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  const { rows: size } = await source.query<{ blocks: string }>(
    `SELECT (pg_relation_size(${quoteLiteral(t)}::regclass) / current_setting('block_size')::int8)::text AS blocks`,
  );
  const blocks = Number(size[0]!.blocks);
  const select = columns ? columns.map(quoteIdent).join(', ') : '*';
  let total = 0;
  for (let from = 0; from < blocks; from += BLOCKS_PER_READ) {
    const { rows } = await source.query<{ r: JsonRow }>(
      `SELECT row_to_json(x) AS r FROM (SELECT ${select} FROM ONLY ${t} WHERE ctid >= '(${from},0)'::tid AND ctid < '(${from + BLOCKS_PER_READ},0)'::tid) x`,
    );
    if (rows.length === 0) continue;
    total += rows.length;
    await sink(rows.map((r) => r.r));
  }
  return total;
}

/**
 * Moves each sequence of `target` that `source` also has up to the source's position when the
 * source is ahead: values the replayed rows took must not be handed out again.
 */
export async function advanceSequences(source: Client, target: Client): Promise<number> {
  const sql = `SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) AS name, last_value::text AS value FROM pg_sequences`;
  const [{ rows: from }, { rows: to }] = [await source.query<{ name: string; value: string | null }>(sql), await target.query<{ name: string; value: string | null }>(sql)];
  const current = new Map(to.map((r) => [r.name, r.value]));
  let moved = 0;
  for (const { name, value } of from) {
    if (value === null || !current.has(name)) continue;
    const mine = current.get(name);
    if (mine !== null && mine !== undefined && BigInt(mine) >= BigInt(value)) continue;
    await target.query('SELECT setval($1::regclass, $2::int8)', [name, value]);
    moved++;
  }
  return moved;
}
