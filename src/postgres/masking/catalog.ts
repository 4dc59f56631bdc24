import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import type { CatalogColumn, CatalogForeignKey, CatalogTable, ColumnClass, MaskCatalog } from './types.js';

const CLASS_BY_TYPE: Readonly<Record<string, ColumnClass>> = {
  text: 'string',
  varchar: 'string',
  bpchar: 'string',
  name: 'string',
  citext: 'string',
  int2: 'integer',
  int4: 'integer',
  int8: 'integer',
  numeric: 'numeric',
  float4: 'numeric',
  float8: 'numeric',
  date: 'date',
  timestamp: 'timestamp',
  timestamptz: 'timestamp',
  json: 'json',
  jsonb: 'json',
  uuid: 'uuid',
  bytea: 'bytea',
  inet: 'inet',
  cidr: 'inet',
  bool: 'boolean',
};

export function classOf(typeName: string, category: string): ColumnClass {
  return CLASS_BY_TYPE[typeName] ?? (category === 'S' ? 'string' : 'other');
}

/** Schemas never looked at: PostgreSQL's own. */
export const SYSTEM_SCHEMA_FILTER = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

const TABLES_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind, c.relispartition,
       rn.nspname AS root_schema, r.relname AS root_name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_class r ON c.relispartition AND r.oid = pg_partition_root(c.oid)
  LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm', 'v', 'f') AND ${SYSTEM_SCHEMA_FILTER}
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname`;

// Domains resolve to their base type (one level is what real schemas use; deeper ones fall to
// their category); arrays to their element.
const COLUMNS_SQL = `
SELECT a.attrelid::int8 AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       a.attgenerated <> '' AS generated, a.attidentity = 'a' AS identity_always,
       el.typname AS element, el.typcategory AS category, b.typcategory = 'A' AS is_array,
       CASE WHEN el.typname IN ('varchar', 'bpchar') AND coalesce(nullif(t.typtypmod, -1), a.atttypmod) > 4
            THEN coalesce(nullif(t.typtypmod, -1), a.atttypmod) - 4 END AS max_length
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
  JOIN pg_type el ON el.oid = CASE WHEN b.typcategory = 'A' THEN b.typelem ELSE b.oid END
 WHERE c.relkind IN ('r', 'p', 'm', 'v', 'f') AND a.attnum > 0 AND NOT a.attisdropped AND ${SYSTEM_SCHEMA_FILTER}
 ORDER BY a.attrelid, a.attnum`;

const UNIQUE_SQL = `
SELECT i.indrelid::int8 AS oid, array_agg(a.attname::text ORDER BY k.ord) AS columns
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indisunique AND i.indexprs IS NULL AND ${SYSTEM_SCHEMA_FILTER}
 GROUP BY i.indexrelid, i.indrelid`;

const FOREIGN_KEYS_SQL = `
SELECT co.conrelid::int8 AS oid, co.conname AS name, rn.nspname AS ref_schema, r.relname AS ref_table,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(co.conkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.attnum) AS columns,
       (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(co.confkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.attnum) AS ref_columns
  FROM pg_constraint co
  JOIN pg_class c ON c.oid = co.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class r ON r.oid = co.confrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE co.contype = 'f' AND co.conparentid = 0 AND ${SYSTEM_SCHEMA_FILTER}`;

const KIND: Readonly<Record<string, CatalogTable['kind']>> = { r: 'table', p: 'table', m: 'matview', v: 'view', f: 'foreign' };

/**
 * A snapshot of the connected database's user relations (extension-owned ones left out): what the
 * rules validator and the detector need, as plain data.
 */
export async function readMaskCatalog(client: pg.Client): Promise<MaskCatalog> {
  try {
    const database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    const [tables, columns, uniques, fks] = [
      await client.query<{ oid: string; schema: string; name: string; relkind: string; relispartition: boolean; root_schema: string | null; root_name: string | null }>(TABLES_SQL),
      await client.query<{
        oid: string;
        name: string;
        type: string;
        not_null: boolean;
        generated: boolean;
        identity_always: boolean;
        element: string;
        category: string;
        is_array: boolean;
        max_length: number | null;
      }>(COLUMNS_SQL),
      await client.query<{ oid: string; columns: string[] }>(UNIQUE_SQL),
      await client.query<{ oid: string; name: string; ref_schema: string; ref_table: string; columns: string[]; ref_columns: string[] }>(FOREIGN_KEYS_SQL),
    ];
    const columnsOf = new Map<string, CatalogColumn[]>();
    for (const row of columns.rows) {
      const list = columnsOf.get(row.oid) ?? [];
      list.push({
        name: row.name,
        type: row.type,
        class: classOf(row.element, row.category),
        isArray: row.is_array,
        ...(row.max_length !== null ? { maxLength: row.max_length } : {}),
        notNull: row.not_null,
        generated: row.generated,
        identityAlways: row.identity_always,
      });
      columnsOf.set(row.oid, list);
    }
    const group = <T>(rows: readonly (T & { oid: string })[]): Map<string, T[]> => {
      const map = new Map<string, T[]>();
      for (const row of rows) map.set(row.oid, [...(map.get(row.oid) ?? []), row]);
      return map;
    };
    const uniquesOf = group(uniques.rows);
    const fksOf = group(fks.rows);
    return {
      database,
      tables: tables.rows.map((t): CatalogTable => {
        const partition = t.relispartition && t.root_schema !== null && t.root_name !== null;
        return {
          schema: t.schema,
          name: t.name,
          kind: partition ? 'partition' : KIND[t.relkind]!,
          ...(partition ? { partitionOf: { schema: t.root_schema!, name: t.root_name! } } : {}),
          columns: columnsOf.get(t.oid) ?? [],
          uniqueKeys: (uniquesOf.get(t.oid) ?? []).map((u) => u.columns),
          foreignKeys: (fksOf.get(t.oid) ?? []).map(
            (f): CatalogForeignKey => ({ name: f.name, columns: f.columns, refSchema: f.ref_schema, refTable: f.ref_table, refColumns: f.ref_columns }),
          ),
        };
      }),
    };
  } catch (cause) {
    throw new PgbranchError('POSTGRES_ERROR', `reading the catalog for masking failed: ${(cause as Error).message}`, { cause });
  }
}

/** The catalog entry of `schema.table`, if any. */
export function findTable(catalog: MaskCatalog, schema: string, table: string): CatalogTable | undefined {
  return catalog.tables.find((t) => t.schema === schema && t.name === table);
}
