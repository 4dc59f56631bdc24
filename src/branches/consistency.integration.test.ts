import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../util/index.js';
import { hostPaths } from './config.js';
import { AMCHECK_INDEXES_SQL, PGBENCH_INVARIANTS_SQL, VERIFY_PGBENCH_HEAPS_SQL } from '../test-support/pgbench-checks.js';
import { createTestHost, POOL_KINDS, testPoolSkipReason, type PoolKind, type TestHost } from '../test-support/test-host.js';

/**
 * Acceptance: branches taken while pgbench writes to the parent start cleanly, pass amcheck on
 * every index, and hold exactly the parent's committed data at the branch point.
 *
 * The pgbench tpcb-like invariants (every balance equals the sum of its history deltas) hold in
 * every committed state and break in any torn or half-recovered copy. Exact equality is checked
 * against a parent paused with in-flight transactions whose updates are already in shared
 * buffers (and on disk after the clone's checkpoint) but not committed.
 */

const execFileAsync = promisify(execFile);

const SCALE = 5;
const CLIENTS = 4;
/**
 * An upper bound only: the load runs until the three creates are done and is then stopped, so a
 * slow machine cannot end it before the last create (a fixed duration did, under load).
 */
const LOAD_SECONDS = 900;
/** Time spent blocked by the lock counts, so pgbench ends soon after the lock is released. */
const PAUSED_LOAD_SECONDS = 4;
const APP = 'pgbench-load';
const PGBENCH = '/usr/bin/pgbench';

/** Client tools must not pick up a PGHOST/PGPASSWORD meant for another server. */
function toolEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, ...extra };
}

interface PgbenchResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

class PgbenchRun {
  readonly done: Promise<PgbenchResult>;
  private finished = false;
  private readonly child;

  constructor(url: string, seconds: number) {
    this.child = spawn(PGBENCH, ['-c', String(CLIENTS), '-j', '2', '-T', String(seconds), '--no-vacuum', url], {
      env: toolEnv({ PGAPPNAME: APP }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    this.child.stdout.on('data', (d) => (stdout += String(d)));
    this.child.stderr.on('data', (d) => (stderr += String(d)));
    this.done = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code, signal) => {
        this.finished = true;
        resolve({ code, signal, stdout, stderr });
      });
    });
  }

  get running(): boolean {
    return !this.finished;
  }

  /** Ends a run now (a run with a short -T also ends by itself). */
  async stop(): Promise<void> {
    if (this.finished) return;
    this.child.kill('SIGTERM');
    await this.done.catch(() => undefined);
  }
}

/** Stops a run that would go on (a long -T): it must have been writing without a client error until then. */
async function expectPgbenchWasHealthy(run: PgbenchRun): Promise<void> {
  expect(run.running, 'pgbench ended before it was stopped').toBe(true);
  await run.stop();
  const r = await run.done;
  expect(r.signal, `pgbench failed:\n${r.stderr}`).toBe('SIGTERM');
  expect(r.stderr, 'pgbench clients hit errors').not.toMatch(/abort|error/i);
}

async function expectPgbenchSucceeded(run: PgbenchRun): Promise<void> {
  const r = await run.done;
  expect(r.code, `pgbench failed:\n${r.stderr}`).toBe(0);
  const processed = /number of transactions actually processed: (\d+)/.exec(r.stdout);
  expect(Number(processed?.[1] ?? 0), r.stdout).toBeGreaterThan(0);
}

type Sql = postgres.Sql;

interface Invariants {
  accounts: number;
  historyRows: number;
  sumAccounts: string;
  sumTellers: string;
  sumBranches: string;
  sumHistory: string;
  accountMismatches: number;
  tellerMismatches: number;
  branchMismatches: number;
}

async function invariants(sql: Sql): Promise<Invariants> {
  const rows = await sql.unsafe<Invariants[]>(PGBENCH_INVARIANTS_SQL);
  return rows[0]!;
}

function expectInvariants(inv: Invariants, what: string): void {
  expect(inv.accounts, `${what}: pgbench_accounts rows`).toBe(100_000 * SCALE);
  expect(inv.sumAccounts, `${what}: sum(abalance) = sum(delta)`).toBe(inv.sumHistory);
  expect(inv.sumTellers, `${what}: sum(tbalance) = sum(delta)`).toBe(inv.sumHistory);
  expect(inv.sumBranches, `${what}: sum(bbalance) = sum(delta)`).toBe(inv.sumHistory);
  expect(inv.accountMismatches, `${what}: accounts whose balance is not the sum of their history`).toBe(0);
  expect(inv.tellerMismatches, `${what}: tellers whose balance is not the sum of their history`).toBe(0);
  expect(inv.branchMismatches, `${what}: branches whose balance is not the sum of their history`).toBe(0);
}

/** bt_index_check with heapallindexed on every btree index of the database, catalogs included. */
async function amcheckAllIndexes(sql: Sql): Promise<string[]> {
  await sql.unsafe('CREATE EXTENSION IF NOT EXISTS amcheck');
  const checked = await sql.unsafe<{ name: string }[]>(AMCHECK_INDEXES_SQL);
  const corruptHeap = await sql.unsafe<{ rel: string; n: number }[]>(VERIFY_PGBENCH_HEAPS_SQL);
  expect(corruptHeap.filter((r) => r.n > 0), 'verify_heapam findings').toEqual([]);
  return checked.map((r) => r.name);
}

interface Checksums {
  accounts: string;
  tellers: string;
  branches: string;
  history: string;
  historyRows: number;
}

const CHECKSUMS_SQL = `
SELECT
  (SELECT md5(string_agg(md5(t::text), '' ORDER BY aid)) FROM pgbench_accounts t) AS accounts,
  (SELECT md5(string_agg(t::text, ',' ORDER BY tid)) FROM pgbench_tellers t) AS tellers,
  (SELECT md5(string_agg(t::text, ',' ORDER BY bid)) FROM pgbench_branches t) AS branches,
  (SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY tid, bid, aid, delta, mtime), '')) FROM pgbench_history t) AS history,
  (SELECT count(*) FROM pgbench_history)::int AS "historyRows"`;

async function checksums(client: pg.Client): Promise<Checksums> {
  // UTC everywhere: mtime's text form depends on the session time zone.
  await client.query("SET TimeZone = 'UTC'");
  return (await client.query<Checksums>(CHECKSUMS_SQL)).rows[0]!;
}

async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

function consistencySuite(kind: PoolKind, skip: string | undefined): void {
  describe.skipIf(skip !== undefined)(`branches of a parent under pgbench load (${kind} pool)`, () => {
    let t: TestHost;
    let mainUrl: string;
    let main: pg.Client;
    const runs: PgbenchRun[] = [];
    const openClients: pg.Client[] = [];
    const openSql: Sql[] = [];

    const url = async (name: string): Promise<string> => {
      const r = await t.cli('branch', 'url', name);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const branchSql = async (name: string): Promise<Sql> => {
      const sql = postgres(await url(name), { max: 1, onnotice: () => undefined });
      openSql.push(sql);
      return sql;
    };
    const historyRows = async (): Promise<number> =>
      Number((await main.query<{ n: string }>('SELECT count(*) AS n FROM pgbench_history')).rows[0]!.n);
    const mainPoint = async (): Promise<{ lsn: string; historyRows: number }> => {
      const { rows } = await main.query<{ lsn: string; n: number }>(
        'SELECT pg_current_wal_lsn()::text AS lsn, (SELECT count(*) FROM pgbench_history)::int AS n',
      );
      return { lsn: rows[0]!.lsn, historyRows: rows[0]!.n };
    };
    /** pgbench is really committing: the history grows by `rows` from `from`. */
    const waitForCommits = async (from: number, rows: number): Promise<number> =>
      waitFor(async () => {
        const n = await historyRows();
        return n >= from + rows ? n : undefined;
      }, { timeoutMs: 20_000, intervalMs: 20, what: `pgbench to commit ${rows} more transactions` });

    /** Running, its log shows a clean recovery, and (for per-file clones) the backup label was used. */
    const expectStartedCleanly = async (name: string): Promise<{ lsn: string }> => {
      const r = await t.cli('branch', 'get', name, '-o', 'json');
      expect(r.code, r.stderr).toBe(0);
      const view = JSON.parse(r.stdout) as { id: string; parent: string; state: string; branch_point: { lsn: string | null } };
      expect(view).toMatchObject({ parent: 'main', state: 'running' });
      expect(view.branch_point.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      const log = await readFile(join(hostPaths(t.home).logDir, `${view.id}.log`), 'utf8');
      expect(log).not.toMatch(/PANIC|invalid page|page verification failed|could not (read|open)|corrupt/i);
      expect(log).toMatch(/database system is ready to accept connections/);
      if (kind === 'btrfs') {
        expect(log, 'an atomic snapshot of a running parent is crash-recovered').toMatch(/automatic recovery in progress/);
      } else {
        // Without its backup_label a per-file clone recovers from whatever checkpoint pg_control
        // named when it was copied, possibly later than files copied before it. The data checks
        // only see that when a checkpoint lands mid-copy (measured: they pass without the label
        // here); the server log always shows it.
        expect(log, 'recovery must start from the backup label').toMatch(/starting backup recovery with redo LSN/);
        expect(log).toMatch(/completed backup recovery/);
      }
      return { lsn: view.branch_point.lsn! };
    };

    beforeAll(async () => {
      // Sparse: only what is written costs disk. The copy driver writes every clone in full.
      t = await createTestHost(kind, {}, 4096);
      mainUrl = await url('main');
      await execFileAsync(PGBENCH, ['-i', '-s', String(SCALE), '-I', 'dtGvp', mainUrl], { env: toolEnv() });
      // A tiny buffer pool and an eager background writer keep data files changing on disk all
      // the time, as a large busy database does: a copy that is not point-in-time consistent then
      // shows up as heap/index corruption or broken invariants instead of passing by luck.
      // (Measured: treating the copy/reflink clone as atomic fails verify_heapam at once with
      // these settings and passes unnoticed with the default 32MB.)
      const setup = await connect(mainUrl);
      try {
        await setup.query("ALTER SYSTEM SET shared_buffers = '1MB'");
        await setup.query("ALTER SYSTEM SET bgwriter_delay = '10ms'");
        await setup.query('ALTER SYSTEM SET bgwriter_lru_maxpages = 1000');
      } finally {
        await setup.end();
      }
      await t.host.stopBranch('main');
      await t.host.startBranch('main');
      main = await connect(mainUrl);
      openClients.push(main);
      const { rows } = await main.query<{ sb: string }>("SELECT current_setting('shared_buffers') AS sb");
      expect(rows[0]!.sb).toBe('1MB');
      // Start from a short WAL so clones copy little besides the data.
      await main.query('CHECKPOINT');
    });

    afterAll(async () => {
      for (const c of openClients) await c.end().catch(() => undefined);
      for (const s of openSql) await s.end({ timeout: 1 }).catch(() => undefined);
      for (const r of runs) await r.stop();
      await t?.cleanup();
    });

    it('pgbench tables start consistent on main (the invariants are real)', async () => {
      const sql = await branchSql('main');
      const inv = await invariants(sql);
      expectInvariants(inv, 'main after pgbench -i');
      expect(inv.historyRows).toBe(0);
    });

    it('three branches taken one after another under load start cleanly, pass amcheck and hold a committed state between the LSNs around create', async () => {
      const run = new PgbenchRun(mainUrl, LOAD_SECONDS);
      runs.push(run);
      let seen = await waitForCommits(0, 50);
      const made: Array<{ name: string; before: { lsn: string; historyRows: number }; after: { lsn: string; historyRows: number } }> = [];
      for (const name of ['load-1', 'load-2', 'load-3']) {
        const before = await mainPoint();
        const { branch } = await t.host.createBranch(name, { origin: { kind: 'parent', parent: 'main' } });
        const after = await mainPoint();
        expect(branch.state).toBe('running');
        expect(run.running, `pgbench must still be writing when ${name} is created`).toBe(true);
        expect(after.historyRows, 'pgbench kept committing while the branch was made').toBeGreaterThan(before.historyRows);
        made.push({ name, before, after });
        seen = await waitForCommits(after.historyRows, 20);
      }
      expect(seen).toBeGreaterThan(0);

      for (const { name, before, after } of made) {
        const { lsn } = await expectStartedCleanly(name);
        const { rows } = await main.query<{ notBefore: boolean; notAfter: boolean }>(
          'SELECT $1::pg_lsn <= $2::pg_lsn AS "notBefore", $2::pg_lsn <= $3::pg_lsn AS "notAfter"',
          [before.lsn, lsn, after.lsn],
        );
        expect(rows[0], `${name}: branch point ${lsn} within [${before.lsn}, ${after.lsn}]`).toEqual({ notBefore: true, notAfter: true });

        const sql = await branchSql(name);
        expect((await sql`SELECT 1 AS one`)[0]).toEqual({ one: 1 });
        const checked = await amcheckAllIndexes(sql);
        expect(checked).toEqual(expect.arrayContaining(['pgbench_accounts_pkey', 'pgbench_tellers_pkey', 'pgbench_branches_pkey', 'pg_class_oid_index']));
        const inv = await invariants(sql);
        expectInvariants(inv, name);
        // History is append-only: the branch has every commit seen before create, none after.
        expect(inv.historyRows, `${name}: history rows`).toBeGreaterThanOrEqual(before.historyRows);
        expect(inv.historyRows, `${name}: history rows`).toBeLessThanOrEqual(after.historyRows);
        expect(inv.historyRows).toBeGreaterThan(0);
      }
      await expectPgbenchWasHealthy(run);
      expectInvariants(await invariants(await branchSql('main')), 'main after the load');
    });

    it('a branch of a parent paused with in-flight transactions holds exactly its committed data', async () => {
      // Only this test's clients may be writing (an earlier run is stopped, even after a failure).
      await Promise.all(runs.map((r) => r.stop()));
      const start = await historyRows();
      const run = new PgbenchRun(mainUrl, PAUSED_LOAD_SECONDS);
      runs.push(run);
      await waitForCommits(start, 20);

      // pgbench's INSERT INTO pgbench_history comes after its three UPDATEs: every client stops
      // there (or behind another client's row lock) with dirty, uncommitted updates.
      const locker = await connect(mainUrl);
      openClients.push(locker);
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE pgbench_history IN EXCLUSIVE MODE');
      await waitFor(
        async () => {
          const { rows } = await main.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            [APP],
          );
          return rows[0]!.n === CLIENTS ? true : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 20, what: `all ${CLIENTS} pgbench clients to wait on a lock` },
      );
      expect(run.running).toBe(true);

      // The committed versions of rows that in-flight transactions have already updated.
      const { rows: inFlight } = await main.query<{ aid: number; abalance: number }>(
        `SELECT aid, abalance FROM pgbench_accounts
          WHERE xmax IN (SELECT backend_xid FROM pg_stat_activity WHERE application_name = $1 AND backend_xid IS NOT NULL)
          ORDER BY aid`,
        [APP],
      );
      expect(inFlight.length, 'accounts updated by blocked, uncommitted transactions').toBeGreaterThan(0);

      const atPause = await checksums(main);
      await t.host.createBranch('paused', { origin: { kind: 'parent', parent: 'main' } });
      // The parent really did not move while the branch was made.
      expect(await checksums(main)).toEqual(atPause);

      await expectStartedCleanly('paused');
      const branch = await connect(await url('paused'));
      openClients.push(branch);
      expect(await checksums(branch)).toEqual(atPause);

      const sql = await branchSql('paused');
      const inv = await invariants(sql);
      expectInvariants(inv, 'paused');
      expect(inv.historyRows).toBe(atPause.historyRows);
      const aids = inFlight.map((r) => r.aid);
      const inBranch = await sql.unsafe<{ aid: number; abalance: number }[]>(
        'SELECT aid, abalance FROM pgbench_accounts WHERE aid = ANY($1::int[]) ORDER BY aid',
        [aids],
      );
      expect(inBranch, 'in-flight updates are rolled back in the branch').toEqual(inFlight);
      expect(await amcheckAllIndexes(sql)).toContain('pgbench_accounts_pkey');

      // Release: the blocked transactions commit on main, and only there.
      await locker.query('ROLLBACK');
      await expectPgbenchSucceeded(run);
      expect(await historyRows()).toBeGreaterThan(atPause.historyRows);
      const { rows: mainNow } = await main.query<{ aid: number; abalance: number }>(
        'SELECT aid, abalance FROM pgbench_accounts WHERE aid = ANY($1::int[]) ORDER BY aid',
        [aids],
      );
      expect(mainNow, 'the in-flight updates did commit on main').not.toEqual(inFlight);
      expect(await checksums(branch)).toEqual(atPause);
    });
  });
}

for (const kind of POOL_KINDS) {
  const skip = await testPoolSkipReason(kind);
  if (skip) console.warn(`consistency tests on the ${kind} pool skipped: ${skip}`);
  consistencySuite(kind, skip);
}
