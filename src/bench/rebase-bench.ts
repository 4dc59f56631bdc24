/**
 * Rebase benchmark (`npm run bench:rebase`), through the domain (`Host.rebaseBranch`, the path
 * the CLI and the API take): on a parent of `--size` GiB, a branch with a migration (a new table)
 * and a seed that changes 1,000 and then 100,000 rows falls behind its parent (another PR's
 * migration and 1,000 changed rows of its own); it is rebased, against what users do today:
 * reset the branch, then run its migration and seed again. Both end in the same data (checked:
 * row counts and sums); the figures are medians of this one run on a shared machine.
 *
 *   npm run bench:rebase -- [--size 0.25] [--changes 1000,100000] [--json]
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import type { ConnectionInfo, Host, RebaseReport } from '../branches/index.js';
import { createBenchHost, parseArgs, progress, type BenchHost } from './bench-support.js';

const GIB = 1024 ** 3;
/** pgbench_accounts-like rows: ~160 bytes each with the primary key index. */
const ACCOUNT_BYTES = 160;
const USAGE = `usage: node dist/bench/rebase-bench.js [options]
  --size GIB        parent size in GiB (default 0.25; the issue's figure is 4)
  --changes LIST    rows the branch's seed changes, per run (default 1000,100000)
  --json            print the results as JSON
`;

interface Options {
  readonly sizeGiB: number;
  readonly changes: readonly number[];
  readonly json: boolean;
}

function options(argv: readonly string[]): Options {
  const args = parseArgs(argv, { size: 'value', changes: 'value', json: 'flag' }, USAGE);
  const sizeGiB = Number(args.get('size') ?? '0.25');
  const changes = (args.get('changes') ?? '1000,100000').split(',').map(Number);
  if (!(sizeGiB > 0) || changes.some((c) => !Number.isInteger(c) || c < 10)) throw new Error(USAGE);
  return { sizeGiB, changes, json: args.has('json') };
}

async function withDb<T>(info: ConnectionInfo, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: info.database });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function load(info: ConnectionInfo, sizeGiB: number): Promise<number> {
  const accounts = Math.round((sizeGiB * GIB) / ACCOUNT_BYTES);
  return withDb(info, async (c) => {
    await c.query("CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84) NOT NULL DEFAULT '')");
    for (let from = 1; from <= accounts; from += 2_000_000) {
      const to = Math.min(accounts, from + 2_000_000 - 1);
      await c.query(`INSERT INTO accounts (aid, bid, abalance) SELECT g, g / 100000, 0 FROM generate_series(${from}, ${to}) g`);
      progress(`  accounts ${to.toLocaleString('en')} / ${accounts.toLocaleString('en')}`);
    }
    progress('  VACUUM (FREEZE, ANALYZE), CHECKPOINT');
    await c.query('VACUUM (FREEZE, ANALYZE)');
    await c.query('CHECKPOINT');
    return accounts;
  });
}

/** The branch's migration: a new table, recorded in a migration history table. */
const BRANCH_MIGRATION = `
  CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY);
  CREATE TABLE audit_log (id bigserial PRIMARY KEY, aid int NOT NULL, note text NOT NULL);
  INSERT INTO schema_migrations VALUES ('20260101_audit_log');`;

/**
 * The branch's seed: `n` changed rows — 60 % updates of existing accounts (the lower half of the
 * key range, which the parent does not touch), 20 % new accounts, 20 % rows of the new table.
 */
function branchSeed(n: number, accounts: number): string {
  const updates = Math.round(n * 0.6);
  const inserts = Math.round(n * 0.2);
  const logs = n - updates - inserts;
  const stride = Math.max(1, Math.floor(accounts / 2 / updates));
  return `
    UPDATE accounts SET abalance = abalance + 7 WHERE aid <= ${accounts / 2} AND aid % ${stride} = 0 AND aid / ${stride} <= ${updates};
    INSERT INTO accounts (aid, bid, abalance) SELECT ${accounts} + g, 0, g FROM generate_series(1, ${inserts}) g;
    INSERT INTO audit_log (aid, note) SELECT g, 'seeded ' || g FROM generate_series(1, ${logs}) g;`;
}

/** Meanwhile on the parent: another PR's migration and 1,000 changed rows in the upper half. */
function parentChanges(accounts: number, round: number): string {
  return `
    CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY);
    ALTER TABLE accounts ADD COLUMN IF NOT EXISTS flagged boolean;
    INSERT INTO schema_migrations VALUES ('20260102_flagged_${round}') ON CONFLICT DO NOTHING;
    UPDATE accounts SET abalance = abalance - 1 WHERE aid > ${accounts / 2} AND aid <= ${accounts / 2 + 1000};`;
}

/** A cheap fingerprint of the data both ways must agree on. */
async function fingerprint(info: ConnectionInfo): Promise<string> {
  return withDb(info, async (c) => {
    const { rows } = await c.query<{ f: string }>(
      `SELECT concat_ws('/', (SELECT count(*) FROM accounts), (SELECT sum(abalance) FROM accounts), (SELECT count(*) FROM audit_log),
                            (SELECT sum(length(note)) FROM audit_log), (SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations),
                            (SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts')) AS f`,
    );
    return rows[0]!.f;
  });
}

interface Result {
  readonly changes: number;
  readonly rebase: { readonly totalMs: number; readonly captureMs: number; readonly replayMs: number; readonly swapMs: number; readonly rowsWritten: number };
  readonly resetAndRerun: { readonly totalMs: number; readonly resetMs: number; readonly migrateMs: number; readonly seedMs: number };
  readonly sameData: boolean;
}

async function benchOne(host: Host, parent: string, accounts: number, changes: number, round: number): Promise<Result> {
  const pr = `pr-${changes}`;
  await host.createBranch(pr, { origin: { kind: 'parent', parent } });
  const prInfo = await host.connectionInfo(pr);
  progress(`${pr}: migration and a seed of ${changes.toLocaleString('en')} changed rows`);
  await withDb(prInfo, (c) => c.query(BRANCH_MIGRATION));
  await withDb(prInfo, (c) => c.query(branchSeed(changes, accounts)));
  await withDb(await host.connectionInfo(parent), (c) => c.query(parentChanges(accounts, round)));

  progress(`${pr}: rebase`);
  const report: RebaseReport = await host.rebaseBranch(pr);
  if (!report.applied || report.conflictCount > 0) throw new Error(`rebase of ${pr} did not apply: ${JSON.stringify(report.conflicts.slice(0, 3))}`);
  const rebased = await fingerprint(prInfo);
  progress(`  ${(report.timings.totalMs / 1000).toFixed(2)} s (capture ${ms(report.timings.captureMs)}, replay ${ms(report.timings.replayMs)}, swap ${ms(report.timings.swapMs)})`);

  progress(`${pr}: what users do today — reset, migration, seed`);
  const t0 = performance.now();
  await host.resetBranch(pr);
  const t1 = performance.now();
  await withDb(prInfo, (c) => c.query(BRANCH_MIGRATION));
  const t2 = performance.now();
  await withDb(prInfo, (c) => c.query(branchSeed(changes, accounts)));
  const t3 = performance.now();
  const rerun = await fingerprint(prInfo);
  progress(`  ${((t3 - t0) / 1000).toFixed(2)} s (reset ${ms(t1 - t0)}, migration ${ms(t2 - t1)}, seed ${ms(t3 - t2)})`);
  if (rebased !== rerun) progress(`  DATA DIFFERS: rebased ${rebased}, reset + re-run ${rerun}`);
  await host.deleteBranch(pr);
  const t = report.timings;
  return {
    changes,
    rebase: { totalMs: t.totalMs, captureMs: t.captureMs, replayMs: t.replayMs, swapMs: t.swapMs, rowsWritten: report.data.totals.inserted + report.data.totals.updated + report.data.totals.deleted },
    resetAndRerun: { totalMs: t3 - t0, resetMs: t1 - t0, migrateMs: t2 - t1, seedMs: t3 - t2 },
    sameData: rebased === rerun,
  };
}

const ms = (v: number): string => (v < 10_000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(1)} s`);
const load3 = (): string => loadavg().map((l) => l.toFixed(2)).join(', ');

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const loadBefore = load3();
  progress(`load average (1, 5, 15 min) before: ${loadBefore}`);
  let bench: BenchHost | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: Math.ceil(opts.sizeGiB * 3 + 6), init: { rootName: 'main' } });
    const { host } = bench;
    progress(`loading ~${opts.sizeGiB} GiB into main`);
    const accounts = await load(await host.connectionInfo('main'), opts.sizeGiB);
    const results: Result[] = [];
    let round = 0;
    for (const changes of opts.changes) results.push(await benchOne(host, 'main', accounts, changes, round++));
    const loadAfter = load3();
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ sizeGiB: opts.sizeGiB, accounts, loadBefore, loadAfter, results }, null, 2)}\n`);
      return;
    }
    const out = [`load average (1, 5, 15 min): before ${loadBefore}, after ${loadAfter}`, `parent: ~${opts.sizeGiB} GiB (${accounts.toLocaleString('en')} accounts)`, ''];
    out.push('changed rows  rebase (capture + replay + swap)             reset + migration + seed (reset + migration + seed)   rebase / reset+rerun  same data');
    for (const r of results) {
      out.push(
        `${r.changes.toLocaleString('en').padEnd(14)}${`${ms(r.rebase.totalMs)} (${ms(r.rebase.captureMs)} + ${ms(r.rebase.replayMs)} + ${ms(r.rebase.swapMs)})`.padEnd(45)}` +
          `${`${ms(r.resetAndRerun.totalMs)} (${ms(r.resetAndRerun.resetMs)} + ${ms(r.resetAndRerun.migrateMs)} + ${ms(r.resetAndRerun.seedMs)})`.padEnd(54)}` +
          `${(r.rebase.totalMs / r.resetAndRerun.totalMs).toFixed(2)}×`.padEnd(22) +
          `${r.sameData ? 'yes' : 'NO'}`,
      );
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await bench?.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`rebase-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
