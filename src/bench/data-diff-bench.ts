/**
 * Data-diff benchmark: the cost of `diff --data` for 1,000 changed rows on a ~1 GiB (and ~4 GiB)
 * table set, block-level (storage says which extents differ, PostgreSQL reads only those heap
 * blocks) against the full comparison (both sides read whole).
 *
 * It plays the domain's part by hand with the two mechanisms only (storage + postgres, through
 * their index.ts): a sparse btrfs loop pool in a temp dir; volume `main` loaded with a
 * pgbench-like `accounts` table (primary key) and a keyless `history`; stopped; `head` a snapshot
 * of it and `bp` (the branch point) a snapshot of `head` before it ever starts; 1,000 rows changed
 * on `head`, CHECKPOINT; then, timed:
 *   1. changedRanges(bp, head) over the database directory (FIEMAP via filefrag),
 *   2. a temporary instance on a clone of `bp` (clone + start),
 *   3. relationFiles on both sides and byte ranges → block numbers,
 *   4. diffData with those blocks, and diffData without (full).
 * Everything is removed at the end, also on failure, SIGINT and SIGTERM.
 *
 *   npm run build && node dist/bench/data-diff-bench.js [--sizes 1,4] [--runs 3] [--no-full] [--json]
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import {
  blocksInByteRanges,
  diffData,
  ensureOsUser,
  findFreePort,
  initCluster,
  instanceStatus,
  killInstance,
  parseRelationFileName,
  prepareDirectory,
  relationFiles,
  resolveBinaries,
  startInstance,
  stopInstance,
  withClient,
  type ChangedBlocks,
  type ConnectionTarget,
  type DataDiff,
  type OsUser,
  type PgBinaries,
  type RelationFiles,
} from '../postgres/index.js';
import { createLoopPool, createStorageDriver, unmountLoopPool, type ChangedRanges, type StorageDriver } from '../storage/index.js';

const GIB = 1024 ** 3;
const DATABASE = 'app';
/** pgbench_accounts-like rows: ~150 bytes each with the primary key index. */
const ACCOUNT_BYTES = 160;
const startedAt = performance.now();

function progress(message: string): void {
  process.stderr.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(7)}s] ${message}\n`);
}

interface Options {
  readonly sizesGiB: readonly number[];
  readonly runs: number;
  readonly full: boolean;
  readonly json: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const usage = 'usage: data-diff-bench [--sizes 1,4] [--runs 3] [--no-full] [--json]\n';
  let sizesGiB = [1];
  let runs = 3;
  let full = true;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--sizes') sizesGiB = (argv[++i] ?? '').split(',').map(Number);
    else if (arg === '--runs') runs = Number(argv[++i]);
    else if (arg === '--no-full') full = false;
    else if (arg === '--json') json = true;
    else throw new Error(`unknown argument ${arg}\n${usage}`);
  }
  if (sizesGiB.some((s) => !(s > 0)) || !Number.isInteger(runs) || runs < 1) throw new Error(usage);
  return { sizesGiB, runs, full, json };
}

interface Instance {
  readonly dataDir: string;
  readonly target: ConnectionTarget;
  stop(): Promise<void>;
}

interface Env {
  readonly dir: string;
  readonly driver: StorageDriver;
  readonly binaries: PgBinaries;
  readonly osUser: OsUser;
  start(volume: string): Promise<Instance>;
}

const instances = new Set<string>();

async function startOn(env: Omit<Env, 'start'>, volume: string): Promise<Instance> {
  const dataDir = join(env.driver.volumePath(volume), 'pgdata');
  const socketDir = join(env.dir, `sock-${volume}`);
  await prepareDirectory(socketDir, env.osUser, 0o700);
  const port = await findFreePort();
  instances.add(dataDir);
  await startInstance({
    binaries: env.binaries,
    dataDir,
    osUser: env.osUser,
    logFile: join(env.dir, `${volume}.log`),
    socketDir,
    port,
    listenTcp: false,
    // No background rewrites of pages between the snapshot and the measurement.
    settings: { autovacuum: 'off', max_wal_size: '8GB', checkpoint_timeout: '1h', shared_buffers: '256MB' },
  });
  return {
    dataDir,
    target: { socketDir, port, user: 'postgres', database: DATABASE },
    async stop() {
      await stopInstance(dataDir, { mode: 'fast', timeoutMs: 60_000 });
      instances.delete(dataDir);
    },
  };
}

async function sql(target: ConnectionTarget, text: string): Promise<void> {
  await withClient(target, async (client) => {
    await client.query(text);
  });
}

/** ~sizeGiB of relations: accounts (heap + pkey) plus a keyless history of ~5 %. */
async function load(target: ConnectionTarget, sizeGiB: number): Promise<{ accounts: number; history: number }> {
  const accounts = Math.round((sizeGiB * GIB * 0.95) / ACCOUNT_BYTES);
  const history = Math.round((sizeGiB * GIB * 0.05) / 60);
  await sql(target, "CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84) NOT NULL DEFAULT '')");
  await sql(target, 'CREATE TABLE history (aid int, delta int, mtime timestamptz)');
  const chunk = 1_000_000;
  for (let from = 1; from <= accounts; from += chunk) {
    const to = Math.min(accounts, from + chunk - 1);
    await sql(target, `INSERT INTO accounts (aid, bid, abalance) SELECT g, g / 100000, 0 FROM generate_series(${from}, ${to}) g`);
    progress(`  accounts ${to.toLocaleString('en')} / ${accounts.toLocaleString('en')}`);
  }
  await sql(target, `INSERT INTO history SELECT g % ${accounts} + 1, g % 1000, timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series(1, ${history}) g`);
  progress('  VACUUM (FREEZE, ANALYZE), CHECKPOINT');
  await sql(target, 'VACUUM (FREEZE, ANALYZE)');
  await sql(target, 'CHECKPOINT');
  return { accounts, history };
}

/** 1,000 changed rows: 600 updates, 150 inserts, 150 deletes of accounts; 50 + 50 on history. */
async function changeRows(target: ConnectionTarget, accounts: number): Promise<void> {
  const pick = (n: number): number[] => Array.from({ length: n }, () => 1 + (randomBytes(4).readUInt32BE() % accounts));
  const updated = [...new Set(pick(700))].slice(0, 600);
  const deleted = [...new Set(pick(400))].filter((a) => !updated.includes(a)).slice(0, 150);
  await withClient(target, async (client) => {
    await client.query('BEGIN');
    await client.query('UPDATE accounts SET abalance = abalance + 1 WHERE aid = ANY($1::int[])', [updated]);
    await client.query(`INSERT INTO accounts (aid, bid, abalance) SELECT g, 0, 1 FROM generate_series(${accounts + 1}, ${accounts + 150}) g`);
    await client.query('DELETE FROM accounts WHERE aid = ANY($1::int[])', [deleted]);
    await client.query("INSERT INTO history SELECT g, 1, now() FROM generate_series(1, 50) g");
    await client.query('DELETE FROM history WHERE ctid = ANY (ARRAY(SELECT ctid FROM history TABLESAMPLE SYSTEM (1) LIMIT 50))');
    await client.query('COMMIT');
    await client.query('CHECKPOINT');
  });
}

/**
 * The domain's part: byte ranges of `base/<db>/<relfilenode>[.<segment>]` (main fork) become the
 * block numbers of that relation, keyed by its path relative to the data directory.
 */
function blocksByRelation(ranges: ChangedRanges, files: RelationFiles): Map<string, number[]> | undefined {
  if (ranges.kind === 'unknown') return undefined;
  const out = new Map<string, Set<number>>();
  const where = { blockSize: files.blockSize, segmentBlocks: files.segmentBlocks };
  const all = (segment: number, bytes: number): number[] =>
    blocksInByteRanges([{ offsetBytes: 0, lengthBytes: bytes }], { ...where, segment });
  for (const file of ranges.files) {
    const name = parseRelationFileName(basename(file.path));
    if (!name || name.fork !== 'main') continue;
    const relation = posix.join(dirname(file.path), String(name.relfilenode));
    const blocks = out.get(relation) ?? new Set<number>();
    out.set(relation, blocks);
    const add = (list: number[]): void => list.forEach((b) => blocks.add(b));
    if (file.change === 'added') add(all(name.segment, file.sizeBytes));
    else if (file.change === 'removed') add(all(name.segment, file.baseSizeBytes));
    else if (file.change === 'unknown') add(all(name.segment, Math.max(file.sizeBytes, file.baseSizeBytes)));
    else {
      add(blocksInByteRanges(file.ranges, { ...where, segment: name.segment }));
      // Blocks the head no longer has (the file shrank) exist only in the base.
      if (file.baseSizeBytes > file.sizeBytes) {
        add(blocksInByteRanges([{ offsetBytes: file.sizeBytes, lengthBytes: file.baseSizeBytes - file.sizeBytes }], { ...where, segment: name.segment }));
      }
    }
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort((a, b) => a - b)]));
}

const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface SizeResult {
  readonly sizeGiB: number;
  readonly relationBytes: number;
  readonly changedRangesMs: number;
  readonly changedBytes: number;
  readonly filesCompared: number;
  readonly blocks: number;
  readonly tempInstanceMs: number;
  readonly mapMs: number;
  readonly blockDiffMs: number;
  readonly totalBlockMs: number;
  readonly fullDiffMs?: number;
  readonly counts: DataDiff['totals'];
  readonly countsAgree?: boolean;
}

async function benchSize(env: Env, sizeGiB: number, options: Options): Promise<SizeResult> {
  const { driver } = env;
  progress(`${sizeGiB} GiB: initdb + load`);
  await driver.createVolume('main');
  await initCluster({ binaries: env.binaries, dataDir: join(driver.volumePath('main'), 'pgdata'), osUser: env.osUser, superuserPassword: randomBytes(12).toString('hex'), database: DATABASE, noSync: true });
  const main = await env.start('main');
  const { accounts } = await load(main.target, sizeGiB);
  const relationBytes = await withClient(main.target, async (c) => Number((await c.query('SELECT sum(pg_total_relation_size(oid))::int8 AS n FROM pg_class WHERE relname IN (\'accounts\', \'history\')')).rows[0].n));
  await main.stop();
  await driver.cloneVolume('main', 'head');
  await driver.cloneVolume('head', 'bp');

  progress(`${sizeGiB} GiB: 1,000 changed rows on head`);
  const head = await env.start('head');
  await changeRows(head.target, accounts);
  const headFiles = await withClient(head.target, (c) => relationFiles(c));
  const dbDir = dirname(headFiles.tables.find((t) => t.name === 'accounts')!.path);

  const rangesMs: number[] = [];
  let ranges: ChangedRanges | undefined;
  for (let run = 0; run < options.runs; run++) {
    const t0 = performance.now();
    ranges = await driver.changedRanges!('bp', 'head', { directory: 'pgdata', relativePaths: [dbDir] });
    rangesMs.push(performance.now() - t0);
  }
  if (!ranges || ranges.kind !== 'ranges') throw new Error('expected extent ranges on btrfs');

  const blockMs: number[] = [];
  const tempMs: number[] = [];
  const mapMs: number[] = [];
  let fast: DataDiff | undefined;
  let blockCount = 0;
  for (let run = 0; run < options.runs; run++) {
    const t0 = performance.now();
    await driver.cloneVolume('bp', 'bp-tmp');
    const temp = await env.start('bp-tmp');
    const t1 = performance.now();
    // Unchanged relations keep their path on both sides; rewritten ones are compared whole.
    const byRelation = blocksByRelation(ranges, await withClient(head.target, (c) => relationFiles(c)))!;
    const t2 = performance.now();
    fast = await diffData({
      base: temp.target,
      head: head.target,
      changedBlocksFor: (relation): ChangedBlocks => {
        const blocks = byRelation.get(relation.head.path) ?? [];
        return { base: blocks, head: blocks };
      },
    });
    const t3 = performance.now();
    // Heap blocks actually range-scanned (the ranges also cover indexes, FSM and VM, not read).
    blockCount = fast.tables.reduce((n, t) => n + (t.status === 'compared' ? (t.scanned.blocks ?? 0) : 0), 0);
    tempMs.push(t1 - t0);
    mapMs.push(t2 - t1);
    blockMs.push(t3 - t2);
    await temp.stop();
    await driver.deleteVolume('bp-tmp');
  }

  let fullDiffMs: number | undefined;
  let countsAgree: boolean | undefined;
  if (options.full) {
    progress(`${sizeGiB} GiB: full diff`);
    await driver.cloneVolume('bp', 'bp-tmp');
    const temp = await env.start('bp-tmp');
    const t0 = performance.now();
    const full = await diffData({ base: temp.target, head: head.target });
    fullDiffMs = performance.now() - t0;
    countsAgree = JSON.stringify(full.totals) === JSON.stringify(fast!.totals);
    await temp.stop();
    await driver.deleteVolume('bp-tmp');
  }
  await head.stop();
  for (const volume of ['head', 'bp', 'main']) await driver.deleteVolume(volume);
  const result: SizeResult = {
    sizeGiB,
    relationBytes,
    changedRangesMs: median(rangesMs),
    changedBytes: ranges.changedBytes,
    filesCompared: ranges.comparedFiles,
    blocks: blockCount,
    tempInstanceMs: median(tempMs),
    mapMs: median(mapMs),
    blockDiffMs: median(blockMs),
    totalBlockMs: median(rangesMs) + median(tempMs) + median(mapMs) + median(blockMs),
    fullDiffMs,
    counts: fast!.totals,
    countsAgree,
  };
  progress(`${sizeGiB} GiB: ${JSON.stringify(result)}`);
  return result;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'pgbranch-datadiff-bench-'));
  await chmod(dir, 0o755);
  const mountPoint = join(dir, 'mnt');
  const poolPath = join(mountPoint, 'volumes');
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      for (const dataDir of instances) {
        if ((await instanceStatus(dataDir).catch(() => ({ running: false }))).running) {
          await stopInstance(dataDir, { mode: 'immediate', timeoutMs: 10_000 }).catch(() => killInstance(dataDir).catch(() => undefined));
        }
      }
      await unmountLoopPool(mountPoint).catch((err: unknown) => progress(`cleanup: cannot unmount ${mountPoint}: ${(err as Error).message}`));
      await rm(dir, { recursive: true, force: true });
      progress('cleaned up');
    })());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143)));
  }
  try {
    const poolGiB = Math.ceil(Math.max(...options.sizesGiB) * 3 + 4);
    progress(`creating a ${poolGiB} GiB sparse btrfs loop pool in ${dir}`);
    await createLoopPool({ imagePath: join(dir, 'pool.img'), mountPoint, sizeBytes: poolGiB * GIB, fsType: 'btrfs' });
    await chmod(mountPoint, 0o755);
    await mkdir(poolPath, { mode: 0o755 });
    await chmod(poolPath, 0o755);
    const base = {
      dir,
      driver: createStorageDriver({ driver: 'btrfs', poolPath }),
      binaries: await resolveBinaries({ major: 18 }),
      osUser: await ensureOsUser(),
    };
    const env: Env = { ...base, start: (volume) => startOn(base, volume) };
    const results: SizeResult[] = [];
    for (const size of options.sizesGiB) results.push(await benchSize(env, size, options));
    if (options.json) {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    } else {
      const ms = (v: number | undefined): string => (v === undefined ? '-' : v < 10_000 ? `${v.toFixed(0)} ms` : `${(v / 1000).toFixed(1)} s`);
      process.stdout.write('size  relations  changedRanges  changed  heap blocks read  temp instance  block diff  block total  full diff  counts (ins/upd/del)\n');
      for (const r of results) {
        process.stdout.write(
          `${`${r.sizeGiB} GiB`.padEnd(6)}${`${(r.relationBytes / GIB).toFixed(2)} GiB`.padEnd(11)}${ms(r.changedRangesMs).padEnd(15)}` +
            `${`${(r.changedBytes / 1024 ** 2).toFixed(1)} MiB`.padEnd(9)}${String(r.blocks).padEnd(18)}${ms(r.tempInstanceMs).padEnd(15)}` +
            `${ms(r.blockDiffMs).padEnd(12)}${ms(r.totalBlockMs).padEnd(13)}${ms(r.fullDiffMs).padEnd(11)}` +
            `${r.counts.inserted}/${r.counts.updated}/${r.counts.deleted}${r.countsAgree === false ? ' (full diff DISAGREES)' : ''}\n`,
        );
      }
    }
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`data-diff-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
