import type pg from 'pg';
import { quoteIdent } from '../quote.js';
import { run } from './session.js';

/**
 * A SELECT of `expressions` over a sample of about `rows` rows of a table: whole pages picked by
 * TABLESAMPLE SYSTEM (repeatable, so a check gives the same verdict twice) when the table is much
 * larger than the sample, else its first rows. Partitioned tables are sampled through their parent.
 */
export async function sampleRows<R extends pg.QueryResultRow>(
  client: pg.Client,
  schema: string,
  table: string,
  expressions: readonly string[],
  rows: number,
  filter = 'true',
): Promise<R[]> {
  const qualified = `${quoteIdent(schema)}.${quoteIdent(table)}`;
  const info = (
    await run<{ tuples: number; partitioned: boolean }>(
      client,
      `sizing ${schema}.${table}`,
      `SELECT greatest(c.reltuples, (pg_relation_size(c.oid) / 8192) * 50)::float8 AS tuples, c.relkind = 'p' AS partitioned
         FROM pg_class c WHERE c.oid = $1::regclass`,
      [qualified],
    )
  ).rows[0]!;
  let from = info.partitioned ? qualified : `ONLY ${qualified}`;
  if (!info.partitioned && info.tuples > rows * 4) {
    const percent = Math.min(100, Math.max(0.001, (100 * rows * 4) / info.tuples));
    from += ` TABLESAMPLE SYSTEM (${percent.toFixed(4)}) REPEATABLE (7)`;
  }
  return (await run<R>(client, `sampling ${schema}.${table}`, `SELECT ${expressions.join(', ')} FROM ${from} WHERE ${filter} LIMIT ${Math.floor(rows)}`)).rows;
}
