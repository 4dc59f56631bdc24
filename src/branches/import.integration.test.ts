import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientTools,
  ensureOsUser,
  findFreePort,
  initCluster,
  prepareDirectory,
  resolveBinaries,
  startInstance,
  stopInstance,
  type PgBinaries,
} from '../postgres/index.js';
import { run } from '../util/index.js';
import { readStoredState, sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';


/** A fingerprint of the source data that any faithful copy must reproduce. */
const FINGERPRINT = `
  SELECT (SELECT count(*) FROM customers)::int AS customers,
         (SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM customers c) AS customers_md5,
         (SELECT sum(total)::text FROM orders) AS order_total,
         (SELECT last_value FROM orders_id_seq)::int AS seq,
         (SELECT count(*) FROM big_view)::int AS view_rows,
         (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public') AS indexes`;

const SEED = `
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE, meta jsonb);
  CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers(id), total numeric(12,2), placed_at timestamptz DEFAULT '2026-01-01');
  CREATE INDEX orders_customer ON orders(customer_id);
  INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com', jsonb_build_object('tier', g % 3) FROM generate_series(1, 20000) g;
  INSERT INTO orders (customer_id, total) SELECT 1 + g % 20000, (g % 977) / 3.0 FROM generate_series(1, 60000) g;
  CREATE VIEW big_view AS SELECT c.id, count(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id;
  CREATE ROLE reporting NOLOGIN;
  GRANT SELECT ON customers TO reporting;`;

const skip = (await testPoolSkipReason('btrfs')) ?? (await resolveBinaries({ major: 15 }).then(() => undefined, (e: Error) => `no PostgreSQL 15 server for the import source: ${e.message}`));
if (skip) console.warn(`import tests skipped: ${skip}`);

/** Acceptance 5: a root branch made from a dump file and from a live URL holds the source's data. */
describe.skipIf(skip !== undefined)('root branches from a dump file and from a live server', () => {
  let t: TestHost;
  let work: string;
  let source: { binaries: PgBinaries; dataDir: string; url: string };
  let expected: Record<string, unknown>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pgbranch-import-'));
    chmodSync(work, 0o755);
    // The live source: a separate PostgreSQL 15 server (Debian's), reached over TCP with a password.
    const binaries = await resolveBinaries({ major: 15 });
    const osUser = await ensureOsUser();
    const dataDir = join(work, 'source');
    await prepareDirectory(dataDir, osUser);
    const password = 'src-Secret-123';
    await initCluster({ binaries, dataDir, osUser, superuser: 'postgres', superuserPassword: password, database: 'shop' });
    const port = await findFreePort();
    const socketDir = join(work, 'sock');
    await prepareDirectory(socketDir, osUser);
    await startInstance({ binaries, dataDir, osUser, port, socketDir, logFile: join(work, 'source.log') });
    const url = `postgresql://postgres:${password}@127.0.0.1:${port}/shop`;
    source = { binaries, dataDir, url };
    await sql(url, SEED);
    expected = (await sql(url, FINGERPRINT))[0]!;
    t = await createTestHost('btrfs');
  });

  afterAll(async () => {
    await t?.cleanup();
    if (source) await stopInstance(source.dataDir, { mode: 'immediate', timeoutMs: 10_000 });
    rmSync(work, { recursive: true, force: true });
  });

  const dump = async (format: 'c' | 'p', file: string): Promise<void> => {
    const tools = await clientTools();
    const u = new URL(source.url);
    await run(tools.pgDump, [`-F${format}`, '-f', file, '-h', u.hostname, '-p', u.port, '-U', 'postgres', 'shop'], {
      env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) },
    });
    chmodSync(file, 0o644);
  };

  const url = async (name: string): Promise<string> => {
    const r = await t.cli('branch', 'url', name);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it.each([
    ['custom', 'c'],
    ['plain', 'p'],
  ] as const)('from a %s-format pg_dump file, with progress on stderr', async (format, flag) => {
    const file = join(work, `shop.${format}.dump`);
    await dump(flag, file);
    const name = `from-${format}`;
    const r = await t.cli('branch', 'create', name, '--from-dump', file, '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name, parent: null, source: { kind: 'dump', format } });
    expect(r.stderr).toMatch(/restore|import/i);
    expect((await sql(await url(name), FINGERPRINT))[0]).toEqual(expected);
  });

  it('from a live PostgreSQL URL, without the source password in output or metadata', async () => {
    const r = await t.cli('branch', 'create', 'from-live', '--from-url', source.url, '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source.kind).toBe('url');
    expect(r.stdout + r.stderr).not.toContain('src-Secret-123');
    expect((await sql(await url('from-live'), FINGERPRINT))[0]).toEqual(expected);
    const db = new Database(join(t.home, 'state.db'), { readonly: true });
    const sources = (db.prepare('SELECT source FROM branches').all() as { source: string }[]).map((row) => row.source).join('\n');
    db.close();
    expect(sources).toContain('"kind":"url"');
    expect(sources).not.toContain('src-Secret-123');
  });

  it('an imported root branches like any other: the child holds the imported data, writes stay apart', async () => {
    expect((await t.cli('branch', 'create', 'from-live/pr-1', '--from', 'from-live')).code).toBe(0);
    const child = await url('from-live/pr-1');
    expect((await sql(child, FINGERPRINT))[0]).toEqual(expected);
    await sql(child, 'DELETE FROM orders');
    expect((await sql(await url('from-live'), FINGERPRINT))[0]).toEqual(expected);
  });

  it('a broken dump fails with IMPORT_FAILED and leaves no branch behind', async () => {
    const file = join(work, 'broken.sql');
    rmSync(file, { force: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'CREATE TABLE ok (x int);\nTHIS IS NOT SQL;\n', { mode: 0o644 });
    const r = await t.cli('branch', 'create', 'broken', '--from-dump', file, '-o', 'json');
    expect(r.code).toBe(12);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!).error.code).toBe('IMPORT_FAILED');
    // Undone by the failing command itself, not left for the next one to reconcile.
    const db = new Database(join(t.home, 'state.db'), { readonly: true });
    const volumes = (db.prepare('SELECT volume FROM branches').all() as { volume: string }[]).map((row) => row.volume).sort();
    const operations = db.prepare('SELECT count(*) AS n FROM operations').get() as { n: number };
    db.close();
    expect(operations.n).toBe(0);
    // Branch points of the branches made by cloning are theirs too.
    expect(readdirSync(t.pool.poolPath).sort()).toEqual([...volumes, ...readStoredState(t.home).branchPointVolumes].sort());
    expect((await t.cli('branch', 'get', 'broken')).code).toBe(3);
  });

  it('a source newer than the available pg_dump is refused with CLIENT_TOOL_UNSUITABLE', async () => {
    const main = await url('main');
    const r = await t.cli('branch', 'create', 'from-18', '--from-url', main, '-o', 'json');
    expect(r.code).toBe(12);
    expect(JSON.parse(r.stderr.trim().split('\n').pop()!).error.code).toBe('CLIENT_TOOL_UNSUITABLE');
    expect(r.stderr).not.toContain(new URL(main).password);
  });
});
