import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { run } from '../util/index.js';
import {
  clientTools,
  copyFromUrl,
  detectDumpFormat,
  restoreDump,
  setRolePassword,
  withClient,
  type ConnectionTarget,
  type ImportProgress,
} from './index.js';
import { createTestCluster, type TestCluster } from './test-support/instance-fixture.js';

const SEED_SQL = `
  CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE);
  CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), total numeric(10,2), placed_at timestamptz DEFAULT now());
  CREATE INDEX orders_customer_idx ON orders (customer_id);
  INSERT INTO customers (name, email) SELECT 'customer ' || i, 'c' || i || '@example.com' FROM generate_series(1, 500) i;
  INSERT INTO orders (customer_id, total) SELECT 1 + i % 500, i * 1.5 FROM generate_series(1, 3000) i;
  CREATE VIEW big_spenders AS SELECT customer_id, sum(total) AS spent FROM orders GROUP BY customer_id HAVING sum(total) > 10000;
  CREATE FUNCTION order_count(c int) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM orders WHERE customer_id = c $$;
  CREATE ROLE reporting;
  CREATE ROLE app_owner;
  ALTER TABLE customers OWNER TO app_owner;
  ALTER FUNCTION order_count(int) OWNER TO app_owner;
  GRANT SELECT ON orders TO reporting;
  COMMENT ON TABLE orders IS 'ünïcode comment';
`;

async function summary(target: ConnectionTarget) {
  return withClient(target, async (client) => {
    const { rows } = await client.query<{ customers: number; orders: number; spenders: number; fn: number; comment: string }>(
      `SELECT (SELECT count(*)::int FROM customers) AS customers, (SELECT count(*)::int FROM orders) AS orders,
              (SELECT count(*)::int FROM big_spenders) AS spenders, order_count(7)::int AS fn,
              obj_description('orders'::regclass, 'pg_class') AS comment`,
    );
    return rows[0];
  });
}

describe('imports into PostgreSQL 18 from PostgreSQL 15', () => {
  let pg15: TestCluster;
  let pg18: TestCluster;
  let expected: Awaited<ReturnType<typeof summary>>;
  let customDump: string;
  let plainDump: string;

  beforeAll(async () => {
    [pg15, pg18] = await Promise.all([createTestCluster({ major: 15, database: 'shop' }), createTestCluster({ major: 18 })]);
    await Promise.all([pg15.start(), pg18.start()]);
    await withClient(pg15.target('shop'), async (client) => {
      await client.query(SEED_SQL);
    });
    await withClient(pg18.target('postgres'), async (client) => {
      for (const db of ['from_custom', 'from_plain', 'from_gzip', 'from_url', 'broken']) await client.query(`CREATE DATABASE ${db}`);
    });
    expected = await summary(pg15.target('shop'));
    const tools = await clientTools();
    const conn = ['-h', pg15.socketDir, '-p', String(pg15.port), '-U', 'postgres', '-d', 'shop'];
    customDump = join(pg15.root, 'shop.dump');
    plainDump = join(pg15.root, 'shop.sql');
    await run(tools.pgDump, ['-Fc', '-f', customDump, ...conn]);
    await run(tools.pgDump, ['-f', plainDump, ...conn]);
  });

  afterAll(async () => {
    await Promise.all([pg15?.destroy(), pg18?.destroy()]);
  });

  it('uses the Debian 15 client tools', async () => {
    expect((await clientTools()).major).toBe(15);
    expect(pg15.binaries).toMatchObject({ major: 15, source: 'system' });
    expect(expected).toEqual({ customers: 500, orders: 3000, spenders: expect.any(Number), fn: 6, comment: 'ünïcode comment' });
  });

  it('restores a custom-format dump with item progress', async () => {
    const events: ImportProgress[] = [];
    const result = await restoreDump({ file: customDump, target: pg18.target('from_custom'), onProgress: (p) => events.push(p) });
    expect(result.format).toBe('custom');
    expect(await summary(pg18.target('from_custom'))).toEqual(expected);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ phase: 'restore', unit: 'items' });
    expect(last.total).toBeGreaterThan(10);
    expect(last.done).toBe(last.total);
    expect(events.filter((e) => e.done > 0 && e.done < last.total!).length).toBeGreaterThan(5);
  });

  it('restores a plain SQL dump, and a gzipped one, with byte progress', async () => {
    const events: ImportProgress[] = [];
    expect((await restoreDump({ file: plainDump, target: pg18.target('from_plain'), onProgress: (p) => events.push(p) })).format).toBe('plain');
    expect(await summary(pg18.target('from_plain'))).toEqual(expected);
    const size = (await stat(plainDump)).size;
    expect(events.at(-1)).toEqual({ phase: 'restore', done: size, total: size, unit: 'bytes' });

    const gz = join(pg15.root, 'shop.sql.gz');
    await writeFile(gz, gzipSync(await readFile(plainDump)));
    expect(await detectDumpFormat(gz)).toBe('plain-gzip');
    await restoreDump({ file: gz, target: pg18.target('from_gzip') });
    expect(await summary(pg18.target('from_gzip'))).toEqual(expected);
  });

  it('fails with IMPORT_FAILED and the server error when the SQL is bad', async () => {
    const bad = join(pg15.root, 'bad.sql');
    await writeFile(bad, 'CREATE TABLE ok (id int);\nINSERT INTO missing_table VALUES (1);\nCREATE TABLE never (id int);\n');
    const err = await restoreDump({ file: bad, target: pg18.target('broken') }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'IMPORT_FAILED')).toBe(true);
    expect((err as Error).message).toContain('relation "missing_table" does not exist');
    const truncated = join(pg15.root, 'truncated.dump');
    await writeFile(truncated, (await readFile(customDump)).subarray(0, 2000));
    await expect(restoreDump({ file: truncated, target: pg18.target('broken') })).rejects.toSatisfy((e: unknown) => isPgbranchError(e, 'IMPORT_FAILED'));
  });

  it('copies a live PostgreSQL 15 database over TCP with a password', async () => {
    const password = 'c0py/me:@now';
    await withClient(pg15.target('shop'), (client) => setRolePassword(client, 'postgres', password));
    const url = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${pg15.port}/shop`;
    const events: ImportProgress[] = [];
    await copyFromUrl({ sourceUrl: url, target: pg18.target('from_url'), onProgress: (p) => events.push(p) });
    expect(await summary(pg18.target('from_url'))).toEqual(expected);
    expect(events.some((e) => e.phase === 'copy' && e.unit === 'bytes' && e.done > 100_000)).toBe(true);
    expect(events.some((e) => e.phase === 'restore' && e.unit === 'items')).toBe(true);

    const wrong = `postgresql://postgres:${encodeURIComponent('Wr0ng-Secret')}@127.0.0.1:${pg15.port}/shop`;
    const err = await copyFromUrl({ sourceUrl: wrong, target: pg18.target('broken') }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'IMPORT_FAILED')).toBe(true);
    expect((err as Error).message).toContain('****');
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain('Wr0ng-Secret');
  });

  it('refuses a source newer than pg_dump with CLIENT_TOOL_UNSUITABLE', async () => {
    const url = `postgres://postgres:${encodeURIComponent(pg18.password)}@127.0.0.1:${pg18.port}/postgres`;
    const err = await copyFromUrl({ sourceUrl: url, target: pg18.target('broken') }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'CLIENT_TOOL_UNSUITABLE')).toBe(true);
    expect((err as Error).message).toMatch(/PostgreSQL 18.*pg_dump 18/);
    expect((err as Error).message).not.toContain(pg18.password);
  });
});
