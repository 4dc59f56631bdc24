/**
 * Diff benchmark (`npm run bench:diff`), through the domain (`Host.diff`, the path the CLI and
 * the API take): on ~1 GiB and ~4 GiB parents, a branch that changed 1,000 rows —
 *   - block-level data diff (against its kept branch point: the storage's changed extents, only
 *     those heap blocks read) against a full-table comparison of the same two sides;
 *   - the schema diff (and its proof) of a schema of ~500 objects with a tenth of them changed.
 * Prints the ratios measured in this one run and the machine's load before and after (the machine
 * is shared: figures move with it).
 *
 *   npm run bench:diff -- [--sizes 1,4] [--runs 3] [--full-runs 1] [--no-full] [--json]
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import type { ConnectionInfo, DiffView, Host } from '../branches/index.js';
import { benchSchemaSql } from '../postgres/index.js';
import { createBenchHost, median, parseArgs, positiveInt, progress, type BenchHost } from './bench-support.js';

const GIB = 1024 ** 3;
/** pgbench_accounts-like rows: ~160 bytes each with the primary key index. */
const ACCOUNT_BYTES = 160;
const USAGE = `usage: node dist/bench/diff-bench.js [options]
  --sizes LIST      parent sizes in GiB (default 1,4)
  --runs N          block-level diffs per size (default 3)
  --full-runs N     full comparisons per size (default 1)
  --no-full         skip the full comparisons
  --json            print the results as JSON
`;

interface Options {
  readonly sizesGiB: readonly number[];
  readonly runs: number;
  readonly fullRuns: number;
  readonly full: boolean;
  readonly json: boolean;
}

function options(argv: readonly string[]): Options {
  const args = parseArgs(argv, { sizes: 'value', runs: 'value', 'full-runs': 'value', 'no-full': 'flag', json: 'flag' }, USAGE);
  const sizesGiB = (args.get('sizes') ?? '1,4').split(',').map(Number);
  if (sizesGiB.some((s) => !(s > 0))) throw new Error(USAGE);
  return { sizesGiB, runs: positiveInt(args, 'runs', 3), fullRuns: positiveInt(args, 'full-runs', 1), full: !args.has('no-full'), json: args.has('json') };
}

async function withDb<T>(info: ConnectionInfo, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: info.host, port: info.port, user: info.user, password: info.password, database: info.database });
  // A connection cut by an interrupted run (SIGINT stops the instances) must not crash the cleanup.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** ~sizeGiB of relations: accounts (heap + primary key) plus a keyless history of ~5 %. */
async function load(info: ConnectionInfo, sizeGiB: number): Promise<{ accounts: number; relationBytes: number }> {
  const accounts = Math.round((sizeGiB * GIB * 0.95) / ACCOUNT_BYTES);
  const history = Math.round((sizeGiB * GIB * 0.05) / 60);
  return withDb(info, async (c) => {
    await c.query("CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84) NOT NULL DEFAULT '')");
    await c.query('CREATE TABLE history (aid int, delta int, mtime timestamptz)');
    for (let from = 1; from <= accounts; from += 2_000_000) {
      const to = Math.min(accounts, from + 2_000_000 - 1);
      await c.query(`INSERT INTO accounts (aid, bid, abalance) SELECT g, g / 100000, 0 FROM generate_series(${from}, ${to}) g`);
      progress(`  accounts ${to.toLocaleString('en')} / ${accounts.toLocaleString('en')}`);
    }
    await c.query(`INSERT INTO history SELECT g % ${accounts} + 1, g % 1000, timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series(1, ${history}) g`);
    progress('  VACUUM (FREEZE, ANALYZE), CHECKPOINT');
    await c.query('VACUUM (FREEZE, ANALYZE)');
    await c.query('CHECKPOINT');
    const { rows } = await c.query<{ n: string }>("SELECT sum(pg_total_relation_size(oid))::int8 AS n FROM pg_class WHERE relname IN ('accounts', 'history')");
    return { accounts, relationBytes: Number(rows[0]!.n) };
  });
}

/** 1,000 changed rows: 600 updates, 150 inserts, 150 deletes of accounts; 50 + 50 on history. Seeded: the same rows every run. */
async function changeRows(info: ConnectionInfo, accounts: number): Promise<void> {
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = (n: number): number[] => Array.from({ length: n }, () => 1 + Math.floor(next() * accounts));
  const updated = [...new Set(pick(700))].slice(0, 600);
  const deleted = [...new Set(pick(400))].filter((a) => !updated.includes(a)).slice(0, 150);
  await withDb(info, async (c) => {
    await c.query('BEGIN');
    await c.query('UPDATE accounts SET abalance = abalance + 1 WHERE aid = ANY($1::int[])', [updated]);
    await c.query(`INSERT INTO accounts (aid, bid, abalance) SELECT g, 0, 1 FROM generate_series(${accounts + 1}, ${accounts + 150}) g`);
    await c.query('DELETE FROM accounts WHERE aid = ANY($1::int[])', [deleted]);
    await c.query('INSERT INTO history SELECT g, 1, now() FROM generate_series(1, 50) g');
    await c.query('DELETE FROM history WHERE ctid = ANY (ARRAY(SELECT ctid FROM history LIMIT 50))');
    await c.query('COMMIT');
  });
}

interface DataResult {
  readonly sizeGiB: number;
  readonly relationBytes: number;
  /** Host.diff() --data, block-level: medians of the whole call and of its parts. */
  readonly blocks: { readonly totalMs: number; readonly prepareMs: number; readonly dataMs: number; readonly rangesMs: number; readonly samplesMs: readonly number[] };
  readonly changedBytes: number;
  readonly heapBlocksRead: number;
  readonly full?: { readonly totalMs: number; readonly dataMs: number; readonly samplesMs: readonly number[] };
  readonly totals: DiffView['data'] extends infer D ? (D extends { totals: infer T } ? T : never) : never;
  readonly countsAgree?: boolean;
}

const heapBlocks = (d: DiffView): number => d.data!.tables.reduce((n, t) => n + (t.status === 'compared' ? (t.scanned.blocks ?? 0) : 0), 0);
const substance = (d: DiffView) => JSON.stringify(d.data!.tables.map((t) => (t.status === 'compared' ? [t.name, t.counts] : [t.name, t.status])));

async function benchData(host: Host, sizeGiB: number, opts: Options, first: boolean): Promise<DataResult> {
  const parent = `main-${sizeGiB}g`;
  if (!first) await host.createBranch(parent, { origin: { kind: 'source', source: { kind: 'empty' } } });
  progress(`${sizeGiB} GiB: loading ${parent}`);
  const { accounts, relationBytes } = await load(await host.connectionInfo(parent), sizeGiB);
  const pr = `pr-${sizeGiB}g`;
  await host.createBranch(pr, { origin: { kind: 'parent', parent } });
  progress(`${sizeGiB} GiB: 1,000 changed rows on ${pr}`);
  await changeRows(await host.connectionInfo(pr), accounts);

  const request = { to: { kind: 'branch', name: pr }, data: true } as const;
  const runs: DiffView[] = [];
  // One warm-up (not counted): the first reads of a fresh instance fill its caches.
  await host.diff(request);
  for (let i = 0; i < opts.runs; i++) {
    const d = await host.diff(request);
    progress(
      `  block-level diff ${i + 1}/${opts.runs}: ${d.timings.totalMs.toFixed(0)} ms (prepare ${d.timings.prepareMs.toFixed(0)} ms, data ${d.timings.dataMs!.toFixed(0)} ms, of which CHECKPOINT + changed ranges ${(d.timings.rangesMs ?? 0).toFixed(0)} ms), ${heapBlocks(d)} heap blocks read`,
    );
    if (d.data!.method !== 'blocks') throw new Error(`expected a block-level diff, got ${d.data!.method} (${d.data!.fullReason})`);
    runs.push(d);
  }
  let full: DataResult['full'];
  let countsAgree: boolean | undefined;
  if (opts.full) {
    const fulls: DiffView[] = [];
    for (let i = 0; i < opts.fullRuns; i++) {
      progress(`  full comparison ${i + 1}/${opts.fullRuns} (both sides read whole) …`);
      const d = await host.diff({ ...request, full: true });
      progress(`  full comparison ${i + 1}/${opts.fullRuns}: ${(d.timings.totalMs / 1000).toFixed(1)} s`);
      fulls.push(d);
    }
    full = { totalMs: median(fulls.map((d) => d.timings.totalMs)), dataMs: median(fulls.map((d) => d.timings.dataMs!)), samplesMs: fulls.map((d) => Math.round(d.timings.totalMs)) };
    countsAgree = substance(fulls[0]!) === substance(runs[0]!);
  }
  await host.deleteBranch(pr);
  return {
    sizeGiB,
    relationBytes,
    blocks: {
      totalMs: median(runs.map((d) => d.timings.totalMs)),
      prepareMs: median(runs.map((d) => d.timings.prepareMs)),
      dataMs: median(runs.map((d) => d.timings.dataMs!)),
      rangesMs: median(runs.map((d) => d.timings.rangesMs ?? 0)),
      samplesMs: runs.map((d) => Math.round(d.timings.totalMs)),
    },
    changedBytes: runs[0]!.data!.changedBytes ?? 0,
    heapBlocksRead: heapBlocks(runs[0]!),
    ...(full ? { full } : {}),
    totals: runs[0]!.data!.totals,
    ...(countsAgree !== undefined ? { countsAgree } : {}),
  };
}

interface SchemaResult {
  readonly objects: number;
  readonly statements: number;
  /** Host.diff() --schema: medians of the whole call and of read + diff. */
  readonly totalMs: number;
  readonly schemaMs: number;
  readonly verify: { readonly totalMs: number; readonly verifyMs: number; readonly proven: boolean };
}

async function benchSchema(host: Host, runs: number): Promise<SchemaResult> {
  progress('schema: ~500 objects (125 × table, index, view, function) on schema-main, a tenth changed on schema-pr');
  await host.createBranch('schema-main', { origin: { kind: 'source', source: { kind: 'empty' } } });
  const { base, changes } = benchSchemaSql();
  await withDb(await host.connectionInfo('schema-main'), (c) => c.query(base));
  await host.createBranch('schema-pr', { origin: { kind: 'parent', parent: 'schema-main' } });
  await withDb(await host.connectionInfo('schema-pr'), (c) => c.query(changes));
  const request = { to: { kind: 'branch', name: 'schema-pr' }, schema: true } as const;
  await host.diff(request);
  const views: DiffView[] = [];
  for (let i = 0; i < runs; i++) views.push(await host.diff(request));
  const verified = await host.diff({ ...request, verify: true });
  const objects = await withDb(await host.connectionInfo('schema-main'), async (c) =>
    Number((await c.query<{ n: string }>("SELECT count(*)::int8 AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'bench' AND c.relkind IN ('r', 'i', 'v') UNION ALL SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'bench'")).rows.reduce((s, r) => s + Number(r.n), 0)),
  );
  return {
    objects,
    statements: views[0]!.schema!.statements.length,
    totalMs: median(views.map((v) => v.timings.totalMs)),
    schemaMs: median(views.map((v) => v.timings.schemaMs!)),
    verify: { totalMs: verified.timings.totalMs, verifyMs: verified.timings.verifyMs!, proven: verified.schema!.verification!.proven },
  };
}

const ms = (v: number): string => (v < 10_000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(1)} s`);
const ratio = (r: number): string => (r >= 100 ? `${Math.round(r)}×` : `${r.toFixed(r >= 10 ? 1 : 2)}×`);
const load3 = (): string => loadavg().map((l) => l.toFixed(2)).join(', ');

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const loadBefore = load3();
  progress(`load average (1, 5, 15 min) before: ${loadBefore} on ${(await import('node:os')).cpus().length} cores`);
  const first = opts.sizesGiB[0]!;
  let bench: BenchHost | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: Math.ceil(opts.sizesGiB.reduce((a, b) => a + b, 0) * 2.5 + 6), init: { rootName: `main-${first}g` } });
    const { host } = bench;
    const data: DataResult[] = [];
    for (const size of opts.sizesGiB) data.push(await benchData(host, size, opts, size === first));
    const schema = await benchSchema(host, opts.runs);
    const loadAfter = load3();
    const bySize = new Map(data.map((d) => [d.sizeGiB, d]));
    const ratios = {
      fullOverBlocks: Object.fromEntries(data.filter((d) => d.full).map((d) => [`${d.sizeGiB}GiB`, d.full!.totalMs / d.blocks.totalMs])),
      ...(bySize.has(1) && bySize.has(4) ? { blocks4over1: bySize.get(4)!.blocks.totalMs / bySize.get(1)!.blocks.totalMs } : {}),
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ loadBefore, loadAfter, data, schema, ratios }, null, 2)}\n`);
      return;
    }
    const out: string[] = [`load average (1, 5, 15 min): before ${loadBefore}, after ${loadAfter}`, ''];
    out.push('data diff of a branch that changed 1,000 rows, Host.diff --data (medians):');
    out.push('size    relations   block-level (prepare + data [CHECKPOINT + ranges])  changed on disk  heap blocks  full comparison  full / block-level  counts (ins/upd/del)');
    for (const d of data) {
      out.push(
        `${`${d.sizeGiB} GiB`.padEnd(8)}${`${(d.relationBytes / GIB).toFixed(2)} GiB`.padEnd(12)}` +
          `${`${ms(d.blocks.totalMs)} (${ms(d.blocks.prepareMs)} + ${ms(d.blocks.dataMs)} [${ms(d.blocks.rangesMs)}])`.padEnd(52)}` +
          `${`${(d.changedBytes / 1024 ** 2).toFixed(1)} MiB`.padEnd(17)}${String(d.heapBlocksRead).padEnd(13)}` +
          `${(d.full ? ms(d.full.totalMs) : '-').padEnd(17)}${(d.full ? ratio(d.full.totalMs / d.blocks.totalMs) : '-').padEnd(20)}` +
          `${d.totals.inserted}/${d.totals.updated}/${d.totals.deleted}${d.countsAgree === false ? ' (full comparison DISAGREES)' : ''}`,
      );
    }
    out.push('', `schema diff of ~${schema.objects} objects (${schema.statements} statements): Host.diff --schema ${ms(schema.totalMs)} (read both + diff ${ms(schema.schemaMs)}); with --verify ${ms(schema.verify.totalMs)} (proof ${ms(schema.verify.verifyMs)}, ${schema.verify.proven ? 'proven' : 'NOT proven'})`);
    out.push('', 'ratios and goals (this run):');
    for (const d of data.filter((x) => x.full)) out.push(`  full / block-level @ ${d.sizeGiB} GiB: ${ratio(d.full!.totalMs / d.blocks.totalMs)}${d.sizeGiB === 4 ? ` (goal ≥ 50×: ${d.full!.totalMs / d.blocks.totalMs >= 50 ? 'PASS' : 'MISS'})` : ''}`);
    if (ratios.blocks4over1 !== undefined) out.push(`  block-level 4 GiB / 1 GiB: ${ratio(ratios.blocks4over1)} (goal ≤ 2×: ${ratios.blocks4over1 <= 2 ? 'PASS' : 'MISS'})`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await bench?.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`diff-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
