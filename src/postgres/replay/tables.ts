import type { Client } from '../client.js';

/** What replay needs to know of a table on the side it writes. */
export interface ReplayColumn {
  readonly name: string;
  /** The type (a domain's base type) that decides how its text output becomes a JSON value. */
  readonly baseTypeOid: number;
  /** Generated (stored) columns cannot be written. */
  readonly generated: boolean;
  readonly hasDefault: boolean;
}

export interface ReplayTable {
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly ReplayColumn[];
  /** Primary key columns in key order; null without one. */
  readonly key: readonly string[] | null;
}

const TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS name,
       (SELECT json_agg(json_build_object('name', a.attname,
                 'baseTypeOid', (CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END)::int8,
                 'generated', a.attgenerated <> '', 'hasDefault', a.atthasdef OR a.attidentity <> '') ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT json_agg(a.attname ORDER BY k.ord)
          FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary) AS key
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relpersistence IN ('p', 'u')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Foreign keys between user tables: referencing → referenced (self references left out). */
const FKEYS_SQL = `
SELECT fn.nspname || '.' || f.relname AS child, pn.nspname || '.' || p.relname AS parent
  FROM pg_constraint k
  JOIN pg_class f ON f.oid = k.conrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
  JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
 WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`;

export const tableKey = (t: { readonly schema: string; readonly name: string }): string => `${t.schema}.${t.name}`;

/** The user tables of a database, by `schema.name`. */
export async function readReplayTables(client: Client): Promise<Map<string, ReplayTable>> {
  const { rows } = await client.query<{ schema: string; name: string; columns: Array<ReplayColumn & { baseTypeOid: string | number }> | null; key: string[] | null }>(TABLES_SQL);
  return new Map(
    rows.map((r) => [
      tableKey(r),
      { schema: r.schema, name: r.name, key: r.key, columns: (r.columns ?? []).map((c) => ({ ...c, baseTypeOid: Number(c.baseTypeOid) })) },
    ]),
  );
}

/**
 * Tables in an order that writes referenced rows before referencing ones (reverse it for
 * deletes). Cycles cannot be ordered: their tables keep name order, and a row that fails its
 * foreign key is reported by the replay, not hidden.
 */
export async function foreignKeyOrder(client: Client, tables: readonly string[]): Promise<string[]> {
  const { rows } = await client.query<{ child: string; parent: string }>(FKEYS_SQL);
  const wanted = new Set(tables);
  const parents = new Map<string, Set<string>>(tables.map((t) => [t, new Set()]));
  for (const { child, parent } of rows) if (wanted.has(child) && wanted.has(parent)) parents.get(child)!.add(parent);
  const ordered: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (t: string): void => {
    if (state.get(t) !== undefined) return;
    state.set(t, 'visiting');
    for (const p of [...parents.get(t)!].sort()) visit(p);
    state.set(t, 'done');
    ordered.push(t);
  };
  for (const t of [...tables].sort()) visit(t);
  return ordered;
}
