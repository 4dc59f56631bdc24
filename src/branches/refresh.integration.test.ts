import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveBinaries, withClient } from '../postgres/index.js';
import { createTestCluster, type TestCluster } from '../postgres/test-support/instance-fixture.js';
import { assertHostConsistent, readStoredState, sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { CRASH_POINTS } from './index.js';

/**
 * Acceptance of the logical refresh: a root made from a live server (one pg_dump can read, here
 * Debian's PostgreSQL 15) is imported again into a new generation and switched in atomically;
 * branches made before keep their data and keep working, branches made after have the new data;
 * after-refresh hooks run on the new generation first; SIGKILL at every step of a refresh leaves
 * either generation whole and nothing orphaned.
 */

const skip = (await testPoolSkipReason('btrfs')) ?? (await resolveBinaries({ major: 15 }).then(() => undefined, (e: Error) => `no PostgreSQL 15 server for the source: ${e.message}`));
if (skip) console.warn(`refresh tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)('a root refreshed from its source', () => {
  let t: TestHost;
  let source: TestCluster;
  let url: string;

  const setGeneration = (label: string) =>
    withClient(source.target('shop'), async (c) => {
      await c.query('DELETE FROM items');
      await c.query("INSERT INTO items SELECT g, $1 || '-' || g FROM generate_series(1, 500) g", [label]);
    });
  const labelOf = async (branchUrl: string) => (await sql<{ label: string }>(branchUrl, "SELECT split_part(label, '-', 1) AS label FROM items WHERE id = 1"))[0]?.label;
  const cliOk = async (...args: string[]) => {
    const r = await t.cli(...args);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    source = await createTestCluster({ major: 15, database: 'shop', password: 'Src-s3cret-refresh' });
    await source.start();
    await withClient(source.target('shop'), (c) => c.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)'));
    await setGeneration('g1');
    url = `postgresql://postgres:${source.password}@127.0.0.1:${source.port}/shop`;
    // Every refresh writes a new generation (~50 MiB) and deletes the one before, whose space the
    // btrfs cleaner gives back only after a commit (at the latest 30 s on): the crash loop's two
    // dozen generations need room for that lag on a busy machine.
    t = await createTestHost('btrfs', {}, 2048);
  });
  afterAll(async () => {
    await t?.cleanup();
    await source?.destroy();
  });

  it('switches the root to the new data; branches made before keep theirs, branches made after get the new', async () => {
    await cliOk('branch', 'create', 'shop', '--from-url', url);
    const rootUrl = (await t.host.connectionInfo('shop')).url;
    expect(await labelOf(rootUrl)).toBe('g1');
    await cliOk('branch', 'create', 'before', '--from', 'shop');
    const beforeUrl = (await t.host.connectionInfo('before')).url;
    await setGeneration('g2');

    const out = JSON.parse(await cliOk('source', 'refresh', 'shop', '-o', 'json')) as { name: string; port: number };
    expect(out.name).toBe('shop');
    // Same URL (name, port, password), new data.
    expect((await t.host.connectionInfo('shop')).url).toBe(rootUrl);
    expect(await labelOf(rootUrl)).toBe('g2');
    expect(await labelOf(beforeUrl)).toBe('g1');
    await sql(beforeUrl, "INSERT INTO items VALUES (9999, 'still-writable')");
    await cliOk('branch', 'create', 'after', '--from', 'shop');
    expect(await labelOf((await t.host.connectionInfo('after')).url)).toBe('g2');

    const status = JSON.parse(await cliOk('source', 'status', 'shop', '-o', 'json')) as { mode: string; url: string; refresh: { generation: number; last_refresh_at: string } };
    expect(status).toMatchObject({ mode: 'refresh', refresh: { generation: 2 } });
    expect(status.url).not.toContain(source.password);
    expect(status.refresh.last_refresh_at).toMatch(/^\d{4}-/);
    await assertHostConsistent(t.home, t.pool.poolPath);
  });

  it('runs after-refresh hooks on the new generation before the switch; a failing hook keeps the old one', async () => {
    await cliOk('source', 'set', 'shop', '--after-refresh', `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc "CREATE TABLE migrated AS SELECT 1 AS done"`);
    await setGeneration('g3');
    await cliOk('source', 'refresh', 'shop');
    const rootUrl = (await t.host.connectionInfo('shop')).url;
    expect(await labelOf(rootUrl)).toBe('g3');
    expect(await sql(rootUrl, 'SELECT done FROM migrated')).toEqual([{ done: 1 }]);

    await cliOk('source', 'set', 'shop', '--after-refresh', 'echo migrating >&2; exit 3');
    await setGeneration('g4');
    const failed = await t.cli('source', 'refresh', 'shop');
    expect(failed.code).toBe(13);
    expect(failed.stderr).toContain('[HOOK_FAILED]');
    expect(failed.stderr).toContain('migrating');
    expect(await labelOf(rootUrl)).toBe('g3');
    expect((await t.host.sourceStatus('shop')).refresh!.generation).toBe(3);
    await cliOk('source', 'set', 'shop', '--no-after-refresh');
    await assertHostConsistent(t.home, t.pool.poolPath);
  });

  it('refreshes on its cron schedule (serve runs the upkeep)', async () => {
    await cliOk('source', 'set', 'shop', '--refresh-cron', '*/5 * * * *');
    const status = await t.host.sourceStatus('shop');
    expect(status.refresh!.nextRefreshAt).not.toBeNull();
    await setGeneration('g5');
    // Not due yet: nothing happens; once due, it refreshes.
    expect(await t.host.maintainSources(Date.now())).toEqual([]);
    expect(await t.host.maintainSources(Date.now() + 10 * 60_000)).toEqual(['shop: refreshed']);
    expect(await labelOf((await t.host.connectionInfo('shop')).url)).toBe('g5');
    await cliOk('source', 'set', 'shop', '--refresh-cron', 'none');
    const bad = await t.cli('source', 'set', 'shop', '--refresh-cron', 'every day');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('[INVALID_ARGUMENT]');
  });

  it.each(CRASH_POINTS.refresh.map((point, index) => ({ point, index })))('a refresh killed at $point leaves one whole generation and no orphans', async ({ point, index }) => {
    const old = `k${index}old`;
    await setGeneration(old);
    await cliOk('source', 'refresh', 'shop');
    const next = `k${index}new`;
    await setGeneration(next);
    const r = await t.cliProcess(['source', 'refresh', 'shop'], { PGBRANCH_FAILPOINT: point });
    expect(r.signal, `source refresh should have died at ${point}: ${r.stderr}`).toBe('SIGKILL');
    // The next command reconciles the host.
    const list = await t.cliProcess(['branch', 'list', '-o', 'json', '--no-size']);
    expect(list.code, list.stderr).toBe(0);
    const state = await assertHostConsistent(t.home, t.pool.poolPath);
    expect(state.operations).toEqual([]);
    const swapped = CRASH_POINTS.refresh.indexOf(point) >= CRASH_POINTS.refresh.indexOf('refresh:swapped');
    expect(await labelOf((await t.host.connectionInfo('shop')).url)).toBe(swapped ? next : old);
    expect(readStoredState(t.home).branches.find((b) => b.name === 'shop')).toBeDefined();
  });

  it('re-masks its masked branches after each refresh (on request and on schedule); one the check refuses keeps its old masked data', async () => {
    const people = (sqlText: string) => withClient(source.target('shop'), (c) => c.query(sqlText));
    await people(`CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL UNIQUE);
                  INSERT INTO people SELECT g, 'first.' || g || '.' || md5(g::text) || '@people.test' FROM generate_series(1, 200) g`);
    await setGeneration('m0');
    await cliOk('source', 'refresh', 'shop');
    const rulesFile = join(t.home, 'masking.yaml');
    writeFileSync(rulesFile, 'version: 1\ntables:\n  people:\n    email: { hash: { length: 32 } }\n');
    await cliOk('branch', 'create', 'shop-masked', '--from', 'shop', '--mask', rulesFile);
    const maskedUrl = (await t.host.connectionInfo('shop-masked')).url;
    const counts = async () => (await sql<{ n: number; raw: number }>(maskedUrl, `SELECT count(*)::int AS n, count(*) FILTER (WHERE email LIKE '%@people.test')::int AS raw FROM people`))[0];
    expect(await counts()).toEqual({ n: 200, raw: 0 });

    // On request: new rows upstream reach the masked branch, masked, at the same URL.
    await people(`INSERT INTO people SELECT g, 'second.' || g || '@people.test' FROM generate_series(201, 300) g`);
    await setGeneration('m1');
    const out = JSON.parse(await cliOk('source', 'refresh', 'shop', '-o', 'json')) as { remasked: unknown };
    expect(out.remasked).toEqual([{ branch: 'shop-masked', remasked: true, rules_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect((await t.host.connectionInfo('shop-masked')).url).toBe(maskedUrl);
    expect(await labelOf(maskedUrl)).toBe('m1');
    expect(await counts()).toEqual({ n: 300, raw: 0 });
    expect((await t.host.getBranch('shop-masked')).protected).toBe(true);

    // On schedule: the upkeep reports the re-mask.
    await cliOk('source', 'set', 'shop', '--refresh-cron', '*/5 * * * *');
    await setGeneration('m2');
    expect(await t.host.maintainSources(Date.now() + 10 * 60_000)).toEqual(['shop: refreshed', 'shop-masked: re-masked']);
    expect(await labelOf(maskedUrl)).toBe('m2');
    await cliOk('source', 'set', 'shop', '--refresh-cron', 'none');

    // A column of emails added upstream without a rule: the root is refreshed, the masked branch
    // keeps its old masked data, and the command fails with the check's code (16).
    await people(`ALTER TABLE people ADD COLUMN backup_email text; UPDATE people SET backup_email = 'backup.' || id || '.' || md5(id::text) || '@people.test'`);
    await setGeneration('m3');
    const refused = await t.cli('source', 'refresh', 'shop', '-o', 'json');
    expect(refused.code, refused.stderr).toBe(16);
    expect(refused.stderr).toMatch(/MASK_UNCOVERED_COLUMNS/);
    expect(refused.stderr).toMatch(/backup_email/);
    expect((JSON.parse(refused.stdout) as { remasked: unknown }).remasked).toEqual([expect.objectContaining({ branch: 'shop-masked', remasked: false, code: 'MASK_UNCOVERED_COLUMNS' })]);
    expect(await labelOf((await t.host.connectionInfo('shop')).url)).toBe('m3');
    expect(await labelOf(maskedUrl)).toBe('m2');
    expect(await counts()).toEqual({ n: 300, raw: 0 });
    const state = await assertHostConsistent(t.home, t.pool.poolPath);
    expect(state.operations).toEqual([]);

    await people('DROP TABLE people');
    await t.host.updateBranch('shop-masked', { protected: false });
    await t.host.deleteBranch('shop-masked');
  }, 300_000);

  it('a refresh on a pool below its free-space floor is refused (POOL_FULL) before it writes anything; the root keeps its data', async () => {
    await setGeneration('floorold');
    await cliOk('source', 'refresh', 'shop');
    await setGeneration('floornew');
    const configFile = join(t.home, 'config.json');
    const config = readFileSync(configFile, 'utf8');
    // A floor above the pool's size: no room, whatever the cleaner gives back.
    const parsed = JSON.parse(config) as { quotas?: Record<string, unknown> };
    writeFileSync(configFile, JSON.stringify({ ...parsed, quotas: { ...parsed.quotas, minPoolFreeBytes: 1024 ** 4 } }));
    try {
      const r = await t.cli('source', 'refresh', 'shop');
      expect(r.code, r.stderr).toBe(14);
      expect(r.stderr).toContain('[POOL_FULL]');
      expect(r.stderr).toMatch(/cannot refresh "shop"/);
    } finally {
      writeFileSync(configFile, config);
    }
    const state = await assertHostConsistent(t.home, t.pool.poolPath);
    expect(state.operations).toEqual([]);
    expect(await labelOf((await t.host.connectionInfo('shop')).url)).toBe('floorold');
  });
});
