import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import { quoteIdent } from '../quote.js';
import { findTable, readMaskCatalog } from './catalog.js';
import { columnSql } from './expressions.js';
import { maskingError, quietSession, run } from './session.js';
import { DROP_FUNCTIONS_SQL, hmacPads, IPAD_SETTING, maskingFunctionsSql, OPAD_SETTING } from './sql-functions.js';
import type { CatalogTable, MaskingRules, MaskOptions, MaskReport, TableMaskResult, TableRule } from './types.js';

interface PlannedTable {
  readonly rule: TableRule;
  readonly table: CatalogTable;
  readonly qualified: string;
  readonly oid: number;
  readonly partitioned: boolean;
  /** Old-style inheritance parent: ALTER TABLE would recurse into the children, so UPDATE. */
  readonly hasChildren: boolean;
  /** `col = expr` for the UPDATE path. */
  readonly sets: readonly string[];
  /** `ALTER COLUMN col TYPE t [COLLATE c] USING expr` for the rewrite path. */
  readonly alters: readonly string[];
  /** Functions the USING expressions call (sub-selects are not allowed in USING). */
  readonly functions: readonly string[];
  /** What ALTER … TYPE resets and must be put back: `SET STORAGE …`, `SET COMPRESSION …`. */
  readonly restores: readonly string[];
  readonly maskedColumns: readonly string[];
}

interface ColumnAttributes {
  readonly collation: string | null;
  readonly storage: string;
  readonly typeStorage: string;
  readonly compression: string;
}

const STORAGE: Readonly<Record<string, string>> = { p: 'PLAIN', e: 'EXTERNAL', m: 'MAIN', x: 'EXTENDED' };
const COMPRESSION: Readonly<Record<string, string>> = { p: 'pglz', l: 'lz4' };

interface ForeignKey {
  readonly name: string;
  readonly table: string;
  readonly definition: string;
}

const where = (rule: TableRule): string => (rule.at ? ` (${rule.at.file}:${rule.at.line}:${rule.at.column})` : '');

/** Turns rules into per-table SQL (rewrite and update forms) against the live catalog; refuses anything it cannot mask. */
async function plan(client: pg.Client, rules: MaskingRules): Promise<PlannedTable[]> {
  const catalog = await readMaskCatalog(client);
  const planned: PlannedTable[] = [];
  let functionCount = 0;
  for (const rule of rules.tables) {
    const table = findTable(catalog, rule.schema, rule.table);
    const name = `${rule.schema}.${rule.table}`;
    if (!table || table.kind !== 'table') {
      const what = table ? `a ${table.kind}` : 'not found';
      throw new PgbranchError('MASK_FAILED', `cannot mask ${name}${where(rule)}: ${what} in database ${catalog.database}`, {
        cause: new Error('no such table'),
      });
    }
    const qualified = `${quoteIdent(rule.schema)}.${quoteIdent(rule.table)}`;
    const info = (
      await run<{ oid: number; partitioned: boolean; update_rules: number; children: number }>(
        client,
        `inspecting ${name}`,
        `SELECT c.oid::int AS oid, c.relkind = 'p' AS partitioned,
                (SELECT count(*)::int FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.ev_type = '2') AS update_rules,
                (SELECT count(*)::int FROM pg_inherits i WHERE i.inhparent = c.oid) AS children
           FROM pg_class c WHERE c.oid = $1::regclass`,
        [qualified],
      )
    ).rows[0]!;
    if (info.update_rules > 0) {
      throw new PgbranchError('MASK_FAILED', `cannot mask ${name}: it has an ON UPDATE rule that would rewrite the masking UPDATE; drop the rule first`, {
        cause: new Error('update rule'),
      });
    }
    const attributes = new Map(
      (
        await run<{ name: string; collation: string | null; storage: string; type_storage: string; compression: string }>(
          client,
          `inspecting ${name}`,
          `SELECT a.attname AS name, a.attstorage AS storage, t.typstorage AS type_storage, a.attcompression AS compression,
                  CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0
                       THEN quote_ident(n.nspname) || '.' || quote_ident(co.collname) END AS collation
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_collation co ON co.oid = a.attcollation LEFT JOIN pg_namespace n ON n.oid = co.collnamespace
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`,
          [qualified],
        )
      ).rows.map((r): [string, ColumnAttributes] => [r.name, { collation: r.collation, storage: r.storage, typeStorage: r.type_storage, compression: r.compression }]),
    );
    const sets: string[] = [];
    const alters: string[] = [];
    const functions: string[] = [];
    const restores: string[] = [];
    const masked: string[] = [];
    for (const colRule of rule.columns) {
      const column = table.columns.find((c) => c.name === colRule.column);
      if (!column) {
        throw new PgbranchError('MASK_FAILED', `cannot mask ${name}.${colRule.column}${where(rule)}: no such column`, { cause: new Error('no such column') });
      }
      if (colRule.kind === 'strategy' && colRule.strategy.kind === 'keep') continue;
      if (column.generated || column.identityAlways) {
        throw new PgbranchError('MASK_FAILED', `cannot mask ${name}.${column.name}: it is ${column.generated ? 'a generated column' : 'GENERATED ALWAYS AS IDENTITY'}`, {
          cause: new Error('unwritable column'),
        });
      }
      const built = columnSql(colRule, column);
      if (built.expression === undefined) continue;
      const col = quoteIdent(column.name);
      sets.push(`${col} = ${built.expression}`);
      let using = built.expression;
      if (built.usesSubquery) {
        const fn = `pg_temp.pgb_col_${functionCount++}`;
        functions.push(
          `CREATE FUNCTION ${fn}(v ${column.type}) RETURNS ${column.type} LANGUAGE sql STABLE PARALLEL RESTRICTED AS $pgb$ SELECT ${columnSql(colRule, column, 'v').expression} $pgb$`,
        );
        using = `${fn}(${col})`;
      }
      const attr = attributes.get(column.name);
      alters.push(`ALTER COLUMN ${col} TYPE ${column.type}${attr?.collation ? ` COLLATE ${attr.collation}` : ''} USING ${using}`);
      if (attr && attr.storage !== attr.typeStorage && STORAGE[attr.storage]) restores.push(`ALTER COLUMN ${col} SET STORAGE ${STORAGE[attr.storage]}`);
      if (attr && COMPRESSION[attr.compression]) restores.push(`ALTER COLUMN ${col} SET COMPRESSION ${COMPRESSION[attr.compression]}`);
      masked.push(column.name);
    }
    if (sets.length === 0) continue;
    planned.push({ rule, table, qualified, oid: info.oid, partitioned: info.partitioned, hasChildren: info.children > 0 && !info.partitioned, sets, alters, functions, restores, maskedColumns: masked });
  }
  return planned;
}

/**
 * Foreign keys with a masked column on either side. They are dropped before the updates and
 * re-added after them in the same transaction: re-adding validates every row in one pass, so a
 * rule set that masks the two sides differently fails loudly instead of leaving dangling keys,
 * and the updates do not queue one trigger event per row as deferred constraints would.
 */
async function touchedForeignKeys(client: pg.Client, tables: readonly PlannedTable[]): Promise<ForeignKey[]> {
  const masked = tables.map((t) => ({ oid: t.oid, columns: t.maskedColumns }));
  await run(client, 'reading foreign keys', 'BEGIN');
  try {
    // Unqualified names print schema-qualified with an empty search_path.
    await run(client, 'reading foreign keys', `SELECT set_config('search_path', '', true)`);
    const rows = (
      await run<{ name: string; table: string; definition: string }>(
        client,
        'reading foreign keys',
        `WITH masked AS (SELECT (m->>'oid')::oid AS oid, ARRAY(SELECT jsonb_array_elements_text(m->'columns')) AS columns
                           FROM jsonb_array_elements($1::jsonb) AS m)
         SELECT co.conname AS name, co.conrelid::regclass::text AS table, pg_get_constraintdef(co.oid) AS definition
           FROM pg_constraint co
          WHERE co.contype = 'f' AND co.conparentid = 0 AND EXISTS (
                  SELECT 1 FROM masked m
                   WHERE (m.oid = co.conrelid AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = co.conrelid AND a.attnum = ANY(co.conkey) AND a.attname = ANY(m.columns)))
                      OR (m.oid = co.confrelid AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = co.confrelid AND a.attnum = ANY(co.confkey) AND a.attname = ANY(m.columns))))
          ORDER BY co.oid`,
        [JSON.stringify(masked)],
      )
    ).rows;
    return rows;
  } finally {
    await run(client, 'reading foreign keys', 'COMMIT');
  }
}

async function relationBytes(client: pg.Client, oid: number): Promise<number> {
  const rows = (
    await run<{ bytes: string }>(client, 'measuring sizes', `SELECT coalesce(sum(pg_total_relation_size(r)), 0)::int8 AS bytes FROM (SELECT relid AS r FROM pg_partition_tree($1::oid::regclass) UNION SELECT $1::oid::regclass) AS t`, [oid])
  ).rows;
  return Number(rows[0]!.bytes);
}

/** Populated materialized views, each after the ones it reads from. */
async function matviewsInOrder(client: pg.Client): Promise<{ oid: number; name: string }[]> {
  const views = (
    await run<{ oid: number; name: string }>(
      client,
      'listing materialized views',
      `SELECT c.oid::int AS oid, c.oid::regclass::text AS name FROM pg_class c WHERE c.relkind = 'm' AND c.relispopulated ORDER BY c.oid`,
    )
  ).rows;
  const edges = (
    await run<{ view: number; reads: number }>(
      client,
      'listing materialized views',
      `SELECT DISTINCT r.ev_class::int AS view, d.refobjid::int AS reads
         FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refclassid = 'pg_class'::regclass
         JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'm'
         JOIN pg_class t ON t.oid = d.refobjid AND t.relkind = 'm' AND t.oid <> r.ev_class`,
    )
  ).rows;
  const ordered: { oid: number; name: string }[] = [];
  const done = new Set<number>();
  const visiting = new Set<number>();
  const byOid = new Map(views.map((v) => [v.oid, v]));
  const visit = (oid: number): void => {
    if (done.has(oid) || visiting.has(oid) || !byOid.has(oid)) return;
    visiting.add(oid);
    for (const e of edges) if (e.view === oid) visit(e.reads);
    visiting.delete(oid);
    done.add(oid);
    ordered.push(byOid.get(oid)!);
  };
  for (const v of views) visit(v.oid);
  return ordered;
}

/**
 * Masks the connected database in place, following `rules`, so that no original value of a
 * masked column survives in its table files:
 *
 * 1. creates the masking functions in pg_temp; the key reaches them as session settings only;
 * 2. in one transaction, with user triggers off (session_replication_role = replica): drops the
 *    foreign keys that touch masked columns, masks every table, re-adds the foreign keys (which
 *    re-validates them). Each table is masked in one pass by ALTER TABLE … ALTER COLUMN … TYPE
 *    <same type> USING <mask>: PostgreSQL writes heap, TOAST and all indexes into new files (the
 *    old files, which hold the originals, are unlinked) and rebuilds unique indexes, so a collision
 *    aborts everything with MASK_COLLISION. Where PostgreSQL refuses that (a view, rule, policy or
 *    generated column uses a masked column; inheritance children; a sub-select in user SQL) the
 *    table gets an UPDATE instead (TOASTed values are rewritten with their rows);
 * 3. VACUUM FULL of every UPDATEd table, after the commit: its dead original tuples go with the old
 *    files;
 * 4. statistics: pg_statistic/pg_statistic_ext_data rows of the masked tables (sampled original
 *    values) are deleted, the tables ANALYZEd, and both catalogs rewritten (VACUUM FULL) so the
 *    deleted rows leave their files too;
 * 5. every populated materialized view is refreshed (dependencies first) from the masked data.
 *
 * The WAL still holds the originals afterwards: see sealWal and wipeResidue. The session must be a
 * superuser's; it is left quiet (no value reaches the server log) and without the key.
 */
export async function maskDatabase(client: pg.Client, rules: MaskingRules, options: MaskOptions): Promise<MaskReport> {
  const started = performance.now();
  const pads = hmacPads(options.key);
  const progress = options.onProgress ?? (() => undefined);
  const database = (await run<{ db: string }>(client, 'reading the database name', 'SELECT current_database() AS db')).rows[0]!.db;
  await quietSession(client, { maintenance_work_mem: '256MB', work_mem: '64MB' });
  await run(client, 'setting the masking key', `SELECT set_config($1, $2, false), set_config($3, $4, false)`, [IPAD_SETTING, pads.ipad, OPAD_SETTING, pads.opad]);
  try {
    progress({ phase: 'prepare', done: 0, total: rules.tables.length });
    const tables = await plan(client, rules);
    const names = new Set<string>(tables.flatMap((t) => [t.rule.table, t.rule.schema, ...t.maskedColumns]));
    await run(client, 'creating the masking functions', DROP_FUNCTIONS_SQL);
    for (const sql of maskingFunctionsSql()) await run(client, 'creating the masking functions', sql);

    const bytesBefore = new Map<number, number>();
    for (const t of tables) bytesBefore.set(t.oid, await relationBytes(client, t.oid));
    const fks = await touchedForeignKeys(client, tables);
    for (const fk of fks) names.add(fk.name);

    const rows = new Map<number, number>();
    const updateMs = new Map<number, number>();
    const rewriteMs = new Map<number, number>();
    const method = new Map<number, 'rewrite' | 'update'>();
    const collision = (t: PlannedTable, cause: unknown): PgbranchError =>
      maskingError(
        `masking ${t.rule.schema}.${t.rule.table}: two rows now share a value of unique constraint "${(cause as { constraint?: string }).constraint ?? '?'}" ` +
          `(a collision of the masked values, or a masked value equal to a row not yet masked); give that column an injective strategy (hash, fake: email|phone|username|iban|url) or a longer hash —`,
        cause,
        names,
        'MASK_COLLISION',
      );
    await run(client, 'starting the masking transaction', 'BEGIN');
    try {
      await run(client, 'disabling user triggers', `SET LOCAL session_replication_role = replica`);
      for (const fk of fks) await run(client, `dropping foreign key ${fk.name}`, `ALTER TABLE ${fk.table} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
      let done = 0;
      for (const t of tables) {
        progress({ phase: 'mask', table: `${t.rule.schema}.${t.rule.table}`, done: done++, total: tables.length });
        const t0 = performance.now();
        // One pass: ALTER COLUMN … TYPE (its own type) USING <mask> rewrites heap, TOAST and every
        // index into new files, leaving no dead tuple behind. It refuses columns that views,
        // rules, policies or generated columns use, and user SQL with sub-selects: those tables
        // take an UPDATE, and a VACUUM FULL after the commit.
        let rewritten = false;
        if (!t.hasChildren) {
          await run(client, 'savepoint', 'SAVEPOINT pgb_mask');
          try {
            for (const fn of t.functions) await client.query(fn);
            await client.query(`ALTER TABLE ${t.qualified} ${t.alters.join(', ')}`);
            if (t.restores.length > 0) await client.query(`ALTER TABLE ${t.qualified} ${t.restores.join(', ')}`);
            await client.query('RELEASE SAVEPOINT pgb_mask');
            rewritten = true;
          } catch (cause) {
            if ((cause as { code?: string }).code === '23505') throw collision(t, cause);
            await run(client, 'rolling back to the savepoint', 'ROLLBACK TO SAVEPOINT pgb_mask');
          }
        }
        if (rewritten) {
          const n = (await run<{ n: string }>(client, `counting ${t.rule.schema}.${t.rule.table}`, `SELECT count(*) AS n FROM ${t.qualified}`)).rows[0]!.n;
          rows.set(t.oid, Number(n));
          rewriteMs.set(t.oid, performance.now() - t0);
          method.set(t.oid, 'rewrite');
          continue;
        }
        let result: pg.QueryResult;
        try {
          result = await client.query(`UPDATE ${t.partitioned ? '' : 'ONLY '}${t.qualified} SET ${t.sets.join(', ')}`);
        } catch (cause) {
          if ((cause as { code?: string }).code === '23505') throw collision(t, cause);
          throw maskingError(`masking ${t.rule.schema}.${t.rule.table}`, cause, names);
        }
        rows.set(t.oid, result.rowCount ?? 0);
        updateMs.set(t.oid, performance.now() - t0);
        method.set(t.oid, 'update');
      }
      progress({ phase: 'constraints', done: 0, total: fks.length });
      for (const fk of fks) {
        try {
          await client.query(`ALTER TABLE ${fk.table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}`);
        } catch (cause) {
          const code = (cause as { code?: string }).code;
          throw maskingError(
            code === '23503'
              ? `re-adding foreign key "${fk.name}" after masking: referencing and referenced columns must be masked with the same strategy —`
              : `re-adding foreign key "${fk.name}"`,
            cause,
            names,
            code === '23503' ? 'MASK_COLLISION' : 'MASK_FAILED',
          );
        }
      }
      await run(client, 'committing the masking transaction', 'COMMIT', undefined, names);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }

    // Updated tables still hold the original tuples (dead) in their files: rewrite them.
    let done = 0;
    const updated = tables.filter((t) => method.get(t.oid) === 'update');
    for (const t of updated) {
      progress({ phase: 'rewrite', table: `${t.rule.schema}.${t.rule.table}`, done: done++, total: updated.length });
      const t0 = performance.now();
      await run(client, `rewriting ${t.rule.schema}.${t.rule.table}`, `VACUUM (FULL) ${t.qualified}`, undefined, names);
      rewriteMs.set(t.oid, performance.now() - t0);
    }

    const matviews = await matviewsInOrder(client);
    done = 0;
    for (const mv of matviews) {
      progress({ phase: 'matviews', table: mv.name, done: done++, total: matviews.length });
      await run(client, `refreshing ${mv.name}`, `REFRESH MATERIALIZED VIEW ${mv.name}`, undefined, names);
    }

    // Statistics hold sampled values: forget every row of the masked relations (partitions and
    // indexes included) and of the refreshed views, recompute, then rewrite the catalogs.
    const statOids = [...tables.map((t) => t.oid), ...matviews.map((m) => m.oid)];
    await run(
      client,
      'forgetting statistics',
      `WITH tables AS (SELECT o.oid::regclass AS relid FROM unnest($1::oid[]) AS o(oid)
                       UNION SELECT p.relid FROM unnest($1::oid[]) AS o(oid), pg_partition_tree(o.oid::regclass) AS p),
            rels AS (SELECT relid FROM tables UNION SELECT i.indexrelid::regclass FROM pg_index i WHERE i.indrelid IN (SELECT relid FROM tables))
       DELETE FROM pg_statistic WHERE starelid IN (SELECT relid FROM rels)`,
      [statOids],
    );
    await run(
      client,
      'forgetting extended statistics',
      `WITH tables AS (SELECT o.oid::regclass AS relid FROM unnest($1::oid[]) AS o(oid)
                       UNION SELECT p.relid FROM unnest($1::oid[]) AS o(oid), pg_partition_tree(o.oid::regclass) AS p)
       DELETE FROM pg_statistic_ext_data WHERE stxoid IN (SELECT s.oid FROM pg_statistic_ext s WHERE s.stxrelid IN (SELECT relid FROM tables))`,
      [statOids],
    );
    const analyzeMs = new Map<number, number>();
    done = 0;
    for (const t of tables) {
      progress({ phase: 'statistics', table: `${t.rule.schema}.${t.rule.table}`, done: done++, total: tables.length });
      const t0 = performance.now();
      await run(client, `analyzing ${t.rule.schema}.${t.rule.table}`, `ANALYZE ${t.qualified}`, undefined, names);
      analyzeMs.set(t.oid, performance.now() - t0);
    }
    for (const mv of matviews) await run(client, `analyzing ${mv.name}`, `ANALYZE ${mv.name}`);
    await run(client, 'rewriting pg_statistic', 'VACUUM (FULL) pg_catalog.pg_statistic');
    await run(client, 'rewriting pg_statistic_ext_data', 'VACUUM (FULL) pg_catalog.pg_statistic_ext_data');

    const results: TableMaskResult[] = [];
    for (const t of tables) {
      results.push({
        schema: t.rule.schema,
        table: t.rule.table,
        maskedColumns: t.maskedColumns,
        method: method.get(t.oid) ?? 'update',
        rows: rows.get(t.oid) ?? 0,
        bytesBefore: bytesBefore.get(t.oid) ?? 0,
        bytesAfter: await relationBytes(client, t.oid),
        updateMs: updateMs.get(t.oid) ?? 0,
        rewriteMs: rewriteMs.get(t.oid) ?? 0,
        analyzeMs: analyzeMs.get(t.oid) ?? 0,
      });
    }
    progress({ phase: 'done', done: tables.length, total: tables.length });
    return {
      database,
      tables: results,
      foreignKeysRevalidated: fks.map((f) => f.name),
      matviewsRefreshed: matviews.map((m) => m.name),
      totalMs: performance.now() - started,
    };
  } finally {
    // The key leaves the session; the functions go (they would with the session anyway).
    await client.query(`SELECT set_config($1, '', false), set_config($2, '', false)`, [IPAD_SETTING, OPAD_SETTING]).catch(() => undefined);
    await client.query(DROP_FUNCTIONS_SQL).catch(() => undefined);
  }
}
