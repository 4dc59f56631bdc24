/**
 * Masking benchmark: throughput of maskDatabase (UPDATE + VACUUM FULL + statistics) on about
 * 1 GiB of tables (1M users, 2M orders) with a dozen rules, then the WAL seal, a clean stop and
 * the wipe. Runs on a throwaway PostgreSQL cluster in a temp dir (removed at the end, also on
 * failure and SIGINT/SIGTERM). Progress goes to stderr, the result to stdout.
 *
 *   npm run build && node dist/bench/mask-bench.js [--users 1000000] [--json]
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connect,
  ensureOsUser,
  findFreePort,
  initCluster,
  instanceStatus,
  killInstance,
  maskDatabase,
  resolveBinaries,
  sealWal,
  startInstance,
  stopInstance,
  wipeResidue,
  type MaskingRules,
} from '../postgres/index.js';
import pg from 'pg';
import { parseMaskingRules } from '../branches/index.js';
import { createBenchHost, parseArgs, positiveInt, progress } from './bench-support.js';

const USAGE = `usage: node dist/bench/mask-bench.js [options]
  --users N       users rows (default 1000000; orders get 2 per user; ~1 GiB at the default)
  --wal-minimal   run the instance with wal_level=minimal while masking (rewrites then skip the WAL)
  --no-branch     skip phase 2 (a masked branch made by a host on a btrfs pool, and a branch of it)
  --json          print the results as JSON
`;

const MIB = 1024 * 1024;

const SCHEMA = `
CREATE TABLE users (
  id bigint PRIMARY KEY,
  email text NOT NULL UNIQUE,
  full_name text,
  phone text UNIQUE,
  birth_date date,
  ssn text,
  card_number text,
  iban text,
  address text,
  profile jsonb,
  created_at timestamptz NOT NULL
);
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users(id),
  customer_email text NOT NULL REFERENCES users(email),
  shipping_address text,
  amount numeric(10,2),
  placed_at timestamptz NOT NULL
);
CREATE INDEX orders_customer_email ON orders (customer_email);`;

const LOAD = (from: number, to: number): string => `
INSERT INTO users
SELECT g,
       'user' || g || '.' || substr(md5(g::text), 1, 10) || '@mail' || (g % 97) || '.test',
       initcap(substr(md5('f' || g), 1, 7)) || ' ' || initcap(substr(md5('l' || g), 1, 9)),
       '+33 6 ' || lpad(g::text, 9, '0'),
       date '1950-01-01' + (g % 20000),
       lpad((g % 899 + 1)::text, 3, '0') || '-' || lpad((g % 99 + 1)::text, 2, '0') || '-' || lpad((g % 9999 + 1)::text, 4, '0'),
       '4' || lpad(g::text, 15, '0'),
       'FR76' || lpad(g::text, 23, '0'),
       (g % 999 + 1) || ' ' || substr(md5('s' || g), 1, 12) || ' Street, ' || (10000 + g % 89999) || ' Town',
       jsonb_build_object('contact', jsonb_build_object('email', 'c' || g || '.' || substr(md5('c' || g), 1, 8) || '@inbox.test', 'lang', 'fr'),
                          'prefs', jsonb_build_object('theme', 'dark', 'tags', jsonb_build_array(substr(md5('t' || g), 1, 6)))),
       timestamptz '2020-01-01' + make_interval(mins => g)
  FROM generate_series(${from}, ${to}) g;
INSERT INTO orders
SELECT u.id * 2 + k, u.id, u.email, u.address, (u.id % 1000) + k / 10.0, u.created_at + make_interval(days => k)
  FROM users u, generate_series(0, 1) k WHERE u.id BETWEEN ${from} AND ${to};`;

/** The rules file a user would keep (docs/masking.md): the same text drives both phases. */
const RULES_YAML = `version: 1
tables:
  users:
    email: { fake: email }
    full_name: { fake: name }
    phone: { hash: { length: 24 } }
    birth_date: { noise: { date: 30d } }
    ssn: null
    card_number: { partial: { keep_last: 4 } }
    iban: { fake: iban }
    address: { fake: address }
    profile:
      json:
        contact.email: { fake: email }
  orders:
    customer_email: { fake: email }
    shipping_address: { fake: address }
`;

const RULES: MaskingRules = parseMaskingRules(RULES_YAML, { file: 'bench masking.yaml' });

/** Phase 1: the masking engine alone on a throwaway cluster (no branch, no pool). */
async function enginePhase(args: Map<string, string>, users: number) {
  const binaries = await resolveBinaries();
  const osUser = await ensureOsUser();
  const root = await mkdtemp(join(tmpdir(), 'pgbranch-maskbench-'));
  await chmod(root, 0o755);
  const dataDir = join(root, 'pgdata');
  const socketDir = join(root, 'sock');
  const logFile = join(root, 'postgres.log');
  const cleanup = async (): Promise<void> => {
    if ((await instanceStatus(dataDir)).running) await stopInstance(dataDir, { mode: 'immediate', timeoutMs: 10_000 }).catch(() => killInstance(dataDir));
    await rm(root, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress(`PostgreSQL ${binaries.version}: initialising a cluster in ${root}`);
    await initCluster({ binaries, dataDir, osUser, superuserPassword: randomBytes(12).toString('hex'), database: 'app', noSync: true });
    const port = await findFreePort();
    // Bigger than pgbranch's per-branch defaults: masking is a one-off bulk job.
    const settings: Record<string, string> = { shared_buffers: '256MB', max_wal_size: '2GB' };
    if (args.has('wal-minimal')) Object.assign(settings, { wal_level: 'minimal', max_wal_senders: '0', archive_mode: 'off' });
    await startInstance({ binaries, dataDir, osUser, logFile, socketDir, port, listenTcp: false, settings });
    const target = { socketDir, port, user: 'postgres', database: 'app' };
    const client = await connect(target);
    progress(`loading ${users} users and ${2 * users} orders`);
    await client.query(SCHEMA);
    const step = 200_000;
    for (let from = 1; from <= users; from += step) {
      await client.query(LOAD(from, Math.min(users, from + step - 1)));
      progress(`  ${Math.min(users, from + step - 1)} users`);
    }
    await client.query('VACUUM ANALYZE');
    await client.query('CHECKPOINT');
    const size = Number((await client.query(`SELECT pg_database_size('app')::int8 AS b`)).rows[0].b);
    progress(`database is ${(size / MIB).toFixed(0)} MiB; masking with ${RULES.tables.reduce((n, t) => n + t.columns.length, 0)} rules`);

    const report = await maskDatabase(client, RULES, {
      key: randomBytes(32),
      onProgress: (p) => p.table && progress(`  ${p.phase} ${p.table}`),
    });
    const t0 = performance.now();
    const seal = await sealWal(client);
    await client.end();
    await stopInstance(dataDir, { mode: 'fast', timeoutMs: 120_000 });
    const stopMs = performance.now() - t0;
    const t1 = performance.now();
    const wipe = await wipeResidue(dataDir, seal);
    const wipeMs = performance.now() - t1;

    const bytes = report.tables.reduce((n, t) => n + t.bytesBefore, 0);
    const rows = report.tables.reduce((n, t) => n + t.rows, 0);
    const result = {
      postgres: binaries.version,
      cpus: cpus().length,
      loadavg: loadavg()[0] ?? 0,
      databaseMiB: Math.round(size / MIB),
      rules: RULES.tables.reduce((n, t) => n + t.columns.length, 0),
      walLevel: args.has('wal-minimal') ? 'minimal' : 'replica',
      tables: report.tables.map((t) => ({
        table: t.table,
        method: t.method,
        rows: t.rows,
        mib: +(t.bytesBefore / MIB).toFixed(1),
        mibAfter: +(t.bytesAfter / MIB).toFixed(1),
        updateS: +(t.updateMs / 1000).toFixed(1),
        rewriteS: +(t.rewriteMs / 1000).toFixed(1),
        analyzeS: +(t.analyzeMs / 1000).toFixed(1),
        mibPerS: +(t.bytesBefore / MIB / ((t.updateMs + t.rewriteMs + t.analyzeMs) / 1000)).toFixed(1),
        rowsPerS: Math.round(t.rows / ((t.updateMs + t.rewriteMs + t.analyzeMs) / 1000)),
      })),
      maskS: +(report.totalMs / 1000).toFixed(1),
      mibPerS: +(bytes / MIB / (report.totalMs / 1000)).toFixed(1),
      rowsPerS: Math.round(rows / (report.totalMs / 1000)),
      sealAndStopS: +(stopMs / 1000).toFixed(1),
      wipeS: +(wipeMs / 1000).toFixed(2),
      walSegmentsRemoved: wipe.removedWalSegments,
    };
    return result;
  } finally {
    await cleanup();
  }
}


/**
 * Phase 2: the real path on a btrfs pool — a masked branch of `main` made by the host (clone,
 * fail-closed check, mask, seal, wipe, start), then a branch of it: what that branch owns right
 * after its create, against a branch of the unmasked `main` (both should be a few hundred KiB:
 * every CI branch shares the masked blocks).
 */
async function branchPhase(users: number) {
  const bench = await createBenchHost({ poolSizeGiB: 16 });
  try {
    const { host } = bench;
    const client = new pg.Client({ connectionString: (await host.connectionInfo('main')).url });
    await client.connect();
    try {
      progress(`branch phase: loading ${users} users and ${2 * users} orders into main`);
      await client.query(SCHEMA);
      for (let from = 1; from <= users; from += 200_000) await client.query(LOAD(from, Math.min(users, from + 200_000 - 1)));
      await client.query('VACUUM ANALYZE');
      await client.query('CHECKPOINT');
    } finally {
      await client.end();
    }
    progress('branch phase: branch create main-masked --from main --mask masking.yaml');
    const t0 = performance.now();
    await host.createBranch('main-masked', { origin: { kind: 'parent', parent: 'main' }, mask: { rules: RULES_YAML, file: 'masking.yaml' } });
    const maskedCreateS = (performance.now() - t0) / 1000;
    const child = async (name: string, parent: string) => {
      const t = performance.now();
      await host.createBranch(name, { origin: { kind: 'parent', parent } });
      const ms = performance.now() - t;
      const view = (await host.listBranches({ withUsage: true, measureMissing: 100 })).find((b) => b.name === name)!;
      return { ms, ownKiB: view.ownBytes === null ? null : Math.round(view.ownBytes / 1024) };
    };
    progress('branch phase: branch create pr-1 --from main-masked, pr-0 --from main');
    const masked = await child('pr-1', 'main-masked');
    const plain = await child('pr-0', 'main');
    const mib = async (name: string) => {
      const c = new pg.Client({ connectionString: (await host.connectionInfo(name)).url });
      await c.connect();
      try {
        return Math.round(Number((await c.query('SELECT pg_database_size(current_database())::int8 AS b')).rows[0].b) / MIB);
      } finally {
        await c.end();
      }
    };
    return {
      mainMiB: await mib('main'),
      maskedMiB: await mib('main-masked'),
      maskedCreateS: +maskedCreateS.toFixed(1),
      childOfMasked: { createMs: Math.round(masked.ms), ownKiB: masked.ownKiB },
      childOfMain: { createMs: Math.round(plain.ms), ownKiB: plain.ownKiB },
    };
  } finally {
    await bench.cleanup();
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), { users: 'value', json: 'flag', 'wal-minimal': 'flag', 'no-branch': 'flag' }, USAGE);
  const users = positiveInt(args, 'users', 1_000_000);
  const result = await enginePhase(args, users);
  const branch = args.has('no-branch') ? null : await branchPhase(users);
  if (args.has('json')) {
    process.stdout.write(`${JSON.stringify({ ...result, branch }, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `masking ${result.databaseMiB} MiB (PostgreSQL ${result.postgres}, ${result.cpus} CPUs, load ${result.loadavg.toFixed(1)}), ${result.rules} rules, wal_level ${result.walLevel}`,
    ...result.tables.map(
      (t) =>
        `  ${t.table.padEnd(8)} ${t.method.padEnd(7)} ${String(t.rows).padStart(9)} rows ${String(t.mib).padStart(7)} MiB → ${String(t.mibAfter).padStart(7)} MiB   update ${t.updateS} s, rewrite ${t.rewriteS} s, analyze ${t.analyzeS} s   ${t.mibPerS} MiB/s, ${t.rowsPerS} rows/s`,
    ),
    `  total    ${result.maskS} s: ${result.mibPerS} MiB/s, ${result.rowsPerS} rows/s`,
    `  seal WAL + clean stop ${result.sealAndStopS} s, wipe ${result.wipeS} s (${result.walSegmentsRemoved} WAL segments removed)`,
  ];
  if (branch) {
    const kib = (n: number | null) => (n === null ? 'not measured' : `${n} KiB`);
    lines.push(
      `on a btrfs pool: database ${branch.mainMiB} MiB in main → ${branch.maskedMiB} MiB in main-masked, masked create (clone, check, mask, seal, wipe, start) ${branch.maskedCreateS} s`,
      `  branch of main-masked: created in ${branch.childOfMasked.createMs} ms, owns ${kib(branch.childOfMasked.ownKiB)} right after create`,
      `  branch of main (baseline): created in ${branch.childOfMain.createMs} ms, owns ${kib(branch.childOfMain.ownKiB)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`mask-bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
