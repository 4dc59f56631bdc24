import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import { connect } from '../client.js';
import type { ConnectionTarget } from '../types.js';

/** A row as the text output of each column (NULL → null), whatever the column types. */
export type TextRow = ReadonlyArray<string | null>;

/**
 * One side of a diff: a connection holding a REPEATABLE READ, READ ONLY transaction, so every
 * table is read at the same instant. The session settings below fix every type's text output
 * (time zone, date and interval styles, float digits, bytea format), so the same value prints the
 * same on both sides and text can be compared.
 */
export interface Snapshot {
  readonly side: 'base' | 'head';
  textRows(sql: string, params?: readonly unknown[]): Promise<TextRow[]>;
  rows<R extends pg.QueryResultRow>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Streams `sql`'s rows in batches through a server-side cursor (bounded memory). */
  cursor(sql: string, params?: readonly unknown[], batchRows?: number): AsyncGenerator<TextRow[]>;
  close(): Promise<void>;
}

const OUTPUT_SETTINGS = [
  "SET LOCAL TimeZone = 'UTC'",
  "SET LOCAL DateStyle = 'ISO, YMD'",
  "SET LOCAL IntervalStyle = 'postgres'",
  'SET LOCAL extra_float_digits = 1',
  "SET LOCAL bytea_output = 'hex'",
  "SET LOCAL lc_monetary = 'C'",
  // The full diff sorts whole tables; a bigger sort memory keeps that mostly off disk.
  "SET LOCAL work_mem = '64MB'",
];

const RAW_TEXT: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };
const DEFAULT_CURSOR_BATCH_ROWS = 5000;

export async function openSnapshot(target: ConnectionTarget, side: 'base' | 'head'): Promise<Snapshot> {
  const client = await connect(target);
  const fail = (what: string, cause: unknown): PgbranchError =>
    new PgbranchError('POSTGRES_ERROR', `data diff: ${what} on the ${side} side failed: ${(cause as Error).message}`, { cause, details: { side } });
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(OUTPUT_SETTINGS.join('; '));
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw fail('opening the snapshot', cause);
  }
  let cursors = 0;
  const textRows = async (sql: string, params: readonly unknown[] = []): Promise<TextRow[]> => {
    try {
      const result = await client.query<Array<string | null>>({ text: sql, values: [...params], rowMode: 'array', types: RAW_TEXT });
      return result.rows;
    } catch (cause) {
      throw fail('a query', cause);
    }
  };
  return {
    side,
    textRows,
    async rows<R extends pg.QueryResultRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
      try {
        return (await client.query<R>(sql, [...params])).rows;
      } catch (cause) {
        throw fail('a catalog query', cause);
      }
    },
    async *cursor(sql: string, params: readonly unknown[] = [], batchRows = DEFAULT_CURSOR_BATCH_ROWS) {
      const name = `pgbranch_diff_${++cursors}`;
      await textRows(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`, params);
      try {
        for (;;) {
          const batch = await textRows(`FETCH FORWARD ${batchRows} FROM ${name}`);
          if (batch.length === 0) return;
          yield batch;
        }
      } finally {
        await client.query(`CLOSE ${name}`).catch(() => undefined);
      }
    },
    async close() {
      // Read-only: nothing to keep, and ending the session ends the transaction too.
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/**
 * Whether a transaction prepared (two-phase) on the base side is no longer prepared on the head:
 * its commit or rollback there changed the visibility of rows in blocks it never rewrote, so no
 * list of changed blocks can be trusted. Prepared transactions survive the crash recovery every
 * copy goes through, unlike plain in-progress ones, which both sides roll back alike.
 */
export async function preparedTransactionsResolved(snapshots: { base: Snapshot; head: Snapshot }): Promise<boolean> {
  const sql = 'SELECT transaction::text AS xid FROM pg_prepared_xacts';
  const [base, head] = await Promise.all([snapshots.base.rows<{ xid: string }>(sql), snapshots.head.rows<{ xid: string }>(sql)]);
  const stillPrepared = new Set(head.map((row) => row.xid));
  return base.some((row) => !stillPrepared.has(row.xid));
}

/** Opens both sides (closing the first if the second fails). */
export async function openSnapshots(base: ConnectionTarget, head: ConnectionTarget): Promise<{ base: Snapshot; head: Snapshot }> {
  const [b, h] = await Promise.allSettled([openSnapshot(base, 'base'), openSnapshot(head, 'head')]);
  if (b.status === 'fulfilled' && h.status === 'fulfilled') return { base: b.value, head: h.value };
  if (b.status === 'fulfilled') await b.value.close();
  if (h.status === 'fulfilled') await h.value.close();
  throw (b.status === 'rejected' ? b.reason : (h as PromiseRejectedResult).reason) as Error;
}
