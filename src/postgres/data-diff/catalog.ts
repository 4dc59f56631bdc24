import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import type { RelationFile, RelationFiles, TableName } from './types.js';

export interface ColumnInfo {
  readonly name: string;
  /** format_type() of the column: usable in a cast (`$1::<type>`). */
  readonly type: string;
  /** The type (a domain's base type) that decides how its text becomes JSON. */
  readonly baseTypeOid: number;
}

export interface TableInfo extends RelationFile {
  /** Columns in attnum order (dropped ones left out). */
  readonly columns: readonly ColumnInfo[];
  /** Primary key columns in key order; null without a primary key. */
  readonly key: readonly string[] | null;
}

interface Queryable {
  rows<R extends pg.QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

/**
 * Ordinary tables (relkind r: plain tables and leaf partitions; partitioned parents hold no rows)
 * outside the system schemas, permanent or unlogged (temporary tables belong to other sessions).
 */
const TABLES_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name,
       pg_relation_filenode(c.oid)::int8 AS relfilenode, pg_relation_filepath(c.oid) AS path,
       c.relpersistence AS persistence,
       (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                          'baseTypeOid', (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int8)
                        ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT json_agg(a.attname ORDER BY k.ord)
          FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary) AS key
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence IN ('p', 'u')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
   AND ($1::text[] IS NULL OR (n.nspname || '.' || c.relname) = ANY($1::text[]))
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`;

interface TableRow {
  oid: string;
  schema: string;
  name: string;
  relfilenode: string;
  path: string;
  persistence: 'p' | 'u';
  columns: ColumnInfo[] | null;
  key: string[] | null;
}

/** The tables to diff (all, or those named), with their columns, key and file. */
export async function readTables(db: Queryable, only?: readonly TableName[]): Promise<TableInfo[]> {
  // Names are matched as "schema.name" strings; a dot inside a name could alias another table,
  // so results are filtered exactly below.
  const filter = only ? only.map((t) => `${t.schema}.${t.name}`) : null;
  const rows = await db.rows<TableRow>(TABLES_SQL, [filter]);
  const wanted = only ? new Set(only.map((t) => JSON.stringify([t.schema, t.name]))) : undefined;
  return rows
    .filter((row) => !wanted || wanted.has(JSON.stringify([row.schema, row.name])))
    .map((row) => ({
      schema: row.schema,
      name: row.name,
      oid: Number(row.oid),
      relfilenode: Number(row.relfilenode),
      path: row.path,
      persistence: row.persistence,
      columns: row.columns ?? [],
      key: row.key,
    }));
}

/**
 * Every table's main-fork file, relative to the data directory, plus the block and segment
 * sizes needed to turn byte offsets of `path`, `path.1`, … into block numbers.
 */
export async function relationFiles(client: pg.Client): Promise<RelationFiles> {
  try {
    const settings = await client.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('block_size', 'segment_size')",
    );
    const setting = (name: string): number => Number(settings.rows.find((row) => row.name === name)?.setting);
    const tables = await readTables({ rows: async (sql, params = []) => (await client.query(sql, [...params])).rows });
    return {
      blockSize: setting('block_size'),
      // pg_settings reports segment_size in blocks.
      segmentBlocks: setting('segment_size'),
      tables: tables.map(({ schema, name, oid, relfilenode, path, persistence }) => ({ schema, name, oid, relfilenode, path, persistence })),
    };
  } catch (cause) {
    if (cause instanceof PgbranchError) throw cause;
    throw new PgbranchError('POSTGRES_ERROR', `reading relation files failed: ${(cause as Error).message}`, { cause });
  }
}
