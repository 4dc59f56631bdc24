/**
 * Branch benchmark: how long a CoW branch takes to answer its first query, against the two ways
 * of copying a database inside PostgreSQL itself (CREATE DATABASE … TEMPLATE … STRATEGY
 * FILE_COPY, and pg_dump | pg_restore), on parents of ~1 GiB and ~4 GiB (pgbench scale).
 *
 * Everything runs on a throwaway host: a sparse loop-mounted btrfs pool and a home directory in
 * a temp dir, removed at the end (also on failure, SIGINT and SIGTERM). By default the host runs
 * Debian's PostgreSQL 15, because Debian's pg_dump (15) refuses newer servers and all three
 * methods should hit the same server version; `--pg-major 18` uses the bundled 18 and skips
 * pg_dump | pg_restore.
 *
 * Progress goes to stderr; the result table (or JSON with --json) to stdout.
 *
 *   npm run bench:branch -- [--sizes 1,4] [--runs 5] [--template-runs N] [--dump-runs N]
 *                           [--cli-runs 3] [--pg-major 15|18] [--no-breakdown] [--json]
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { ConnectionInfo, Host } from '../branches/index.js';
import {
  checkpoint,
  clientTools,
  ensureOsUser,
  findFreePort,
  instanceStatus,
  killInstance,
  prepareDirectory,
  reloadConfig,
  resolveBinaries,
  setRolePassword,
  startInstance,
  stopInstance,
  waitForLogin,
  withClient,
  writeHba,
  type ConnectionTarget,
  type OsUser,
  type PgBinaries,
} from '../postgres/index.js';
import { StateStore } from '../state/index.js';
import { createStorageDriver, type StorageDriver } from '../storage/index.js';
import { run } from '../util/exec.js';
import { createBenchHost, libpqEnv, median, progress, runChild, type BenchHost as Bench } from './bench-support.js';

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly sizesGiB: readonly number[];
  /** Branch create runs per size (domain API). */
  readonly runs: number;
  /** Branch create runs through the CLI (one process per create). */
  readonly cliRuns: number;
  /** undefined: 3 per size. */
  readonly templateRuns: number | undefined;
  /** undefined: 3 for sizes ≤ 1.5 GiB, 2 above (a 4 GiB dump | restore takes minutes). */
  readonly dumpRuns: number | undefined;
  readonly pgMajor: number;
  readonly breakdown: boolean;
  readonly json: boolean;
  /** Cap every measured branch (switches btrfs quotas on: what qgroup accounting costs). */
  readonly maxOwnBytes: number | undefined;
}

const USAGE = `usage: node dist/bench/branch-bench.js [options]
  --sizes LIST          parent sizes in GiB, comma separated (default 1,4)
  --runs N              branch create → first query runs per size (default 5)
  --cli-runs N          the same through one CLI process per create (default 3; 0 skips)
  --template-runs N     CREATE DATABASE … STRATEGY FILE_COPY runs per size (default 3)
  --dump-runs N         pg_dump | pg_restore runs per size (default 3 up to 1.5 GiB, 2 above; 0 skips)
  --pg-major N          server major for the benchmark host (default 15: Debian's, so that
                        pg_dump 15 can dump it; 18 = bundled, skips pg_dump | pg_restore)
  --breakdown / --no-breakdown
                        time the steps of a branch create by replaying them with the mechanisms
                        directly (default on)
  --json                print the results as JSON instead of tables
  --max-own-bytes MIB   create the measured branches with this size cap in MiB, which switches
                        btrfs quotas (qgroups) on: compare with a run without it
`;

function parseOptions(argv: readonly string[]): Options {
  let sizes = [1, 4];
  let runs = 5;
  let cliRuns = 3;
  let templateRuns: number | undefined;
  let dumpRuns: number | undefined;
  let pgMajor = 15;
  let breakdown = true;
  let json = false;
  let maxOwnBytes: number | undefined;
  const count = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer ≥ ${min}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--sizes': {
        const v = value();
        sizes = (v ?? '').split(',').map((s) => Number(s.trim()));
        if (sizes.length === 0 || sizes.some((s) => !Number.isFinite(s) || s <= 0 || s > 64)) {
          throw new UsageError('--sizes needs a comma-separated list of sizes in GiB (0 < size ≤ 64), e.g. 1,4');
        }
        break;
      }
      case '--runs':
        runs = count(flag, value(), 1);
        break;
      case '--cli-runs':
        cliRuns = count(flag, value(), 0);
        break;
      case '--template-runs':
        templateRuns = count(flag, value(), 0);
        break;
      case '--dump-runs':
        dumpRuns = count(flag, value(), 0);
        break;
      case '--pg-major':
        pgMajor = count(flag, value(), 14);
        break;
      case '--breakdown':
        breakdown = true;
        break;
      case '--no-breakdown':
        breakdown = false;
        break;
      case '--json':
        json = true;
        break;
      case '--max-own-bytes':
        maxOwnBytes = count(flag, value(), 64) * 1024 * 1024;
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return { sizesGiB: [...new Set(sizes)].sort((a, b) => a - b), runs, cliRuns, templateRuns, dumpRuns, pgMajor, breakdown, json, maxOwnBytes };
}

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------
// Small utilities

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const REPO = resolve(import.meta.dirname, '../..');
const CLI_BIN = join(REPO, 'bin', 'pgbranch.js');
/** The parents' database, pgbench tables and all. */
const FIRST_QUERY = 'SELECT count(*) FROM pgbench_branches';

const startedAt = performance.now();
const loadAvg = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);
const loadStart = loadAvg();

interface Stats {
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly runs: number;
  readonly samplesMs: readonly number[];
}


function stats(samples: readonly number[]): Stats {
  return {
    medianMs: round1(median(samples)),
    minMs: round1(Math.min(...samples)),
    maxMs: round1(Math.max(...samples)),
    runs: samples.length,
    samplesMs: samples.map(round1),
  };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const round2 = (n: number): number => Math.round(n * 100) / 100;

function fmtMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 100_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${(ms / 1000).toFixed(0)} s`;
}

function fmtBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < GIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

function fmtRatio(r: number): string {
  return r >= 100 ? `${Math.round(r)}×` : `${r.toFixed(r >= 10 ? 1 : 2)}×`;
}

const sizeLabel = (gib: number): string => `${gib} GiB`;
const branchSafe = (gib: number): string => `${gib}g`.replace(/[^a-z0-9.]/g, '');

/** Environment for libpq tools: nothing of the caller's PG* variables, credentials of `info`. */
function branchEnv(info: ConnectionInfo): NodeJS.ProcessEnv {
  return libpqEnv({ PGHOST: info.host, PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password, PGAPPNAME: 'pgbranch-bench' });
}

function tcpClient(info: ConnectionInfo, database = info.database): pg.Client {
  const client = new pg.Client({
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database,
    connectionTimeoutMillis: 10_000,
    application_name: 'pgbranch-bench',
  });
  client.on('error', () => undefined);
  return client;
}

async function withTcp<T>(info: ConnectionInfo, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = tcpClient(info, database);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A new TCP connection (password login) answering FIRST_QUERY, retried until it does; returns the
 * number of failed attempts (expected 0: pgbranch only reports a branch once a login works).
 */
async function firstQuery(url: string, deadlineMs = 30_000): Promise<number> {
  const deadline = Date.now() + deadlineMs;
  let failures = 0;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'pgbranch-bench' });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(FIRST_QUERY);
      return failures;
    } catch (err) {
      failures++;
      if (Date.now() > deadline) throw new Error(`no answer to "${FIRST_QUERY}" on the new database: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 2));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

function urlFor(info: ConnectionInfo, database: string): string {
  return `postgresql://${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}@${info.host}:${info.port}/${encodeURIComponent(database)}`;
}

// ---------------------------------------------------------------------------------------------
// The throwaway host

/** Waits until btrfs has really removed deleted subvolumes, so one run's delete does not slow the next create. */
async function settlePool(bench: Bench): Promise<void> {
  // The cleaner only runs after a transaction commit (every 30 s by default): commit now.
  await run('btrfs', ['filesystem', 'sync', bench.mountPoint], { timeoutMs: 120_000 }).catch(() => undefined);
  await run('btrfs', ['subvolume', 'sync', bench.mountPoint], { timeoutMs: 120_000 }).catch(() => undefined);
}

// ---------------------------------------------------------------------------------------------
// Parents

/** pgbench's tables and indexes per unit of scale, and a new database's own catalog. */
const BYTES_PER_SCALE = 15.05 * MIB;
const EMPTY_DB_BYTES = 7.6 * MIB;

interface Parent {
  readonly name: string;
  readonly scale: number;
  readonly databaseBytes: number;
  readonly buildMs: number;
  readonly info: ConnectionInfo;
}

async function buildParent(host: Host, sizeGiB: number, pgbench: string, first: boolean): Promise<Parent> {
  const name = `main-${branchSafe(sizeGiB)}`;
  const scale = Math.max(1, Math.round((sizeGiB * GIB - EMPTY_DB_BYTES) / BYTES_PER_SCALE));
  const t0 = performance.now();
  if (!first) {
    progress(`creating root branch ${name}`);
    await host.createBranch(name, { source: { kind: 'empty' } });
  }
  const info = await host.connectionInfo(name);
  progress(`${name}: pgbench -i -s ${scale} -I dtGvp (server-side generation) …`);
  await runChild(pgbench, ['-i', '-s', String(scale), '-I', 'dtGvp', info.database], branchEnv(info));
    progress(`${name}: VACUUM ANALYZE, CHECKPOINT`);
  const databaseBytes = await withTcp(info, info.database, async (c) => {
    await c.query('VACUUM ANALYZE');
    await c.query('CHECKPOINT');
    const { rows } = await c.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
    return Number(rows[0]!.bytes);
  });
  const buildMs = performance.now() - t0;
  progress(`${name}: pg_database_size ${fmtBytes(databaseBytes)} (${databaseBytes} bytes), built in ${fmtMs(buildMs)}`);
  return { name, scale, databaseBytes, buildMs, info };
}

// ---------------------------------------------------------------------------------------------
// Branch create → first query

/** Phases of the real host.createBranch(), from timing hooks on its storage driver and instance start. */
const IN_SITU = [
  ['beforeClone', 'lock, port, intent log, parent CHECKPOINT'],
  ['snapshot', 'btrfs snapshot (storage.cloneVolume)'],
  ['betweenCloneAndStart', 'intent log step, pg_hba, postmaster.pid removal'],
  ['start', 'postgres start → ready (crash recovery)'],
  ['afterStart', 'new password, pg_hba reload + TCP login, SQLite commit'],
] as const;
type InSituPhase = (typeof IN_SITU)[number][0];

interface Marks {
  cloneStart?: number;
  cloneEnd?: number;
  startStart?: number;
  startEnd?: number;
}

/**
 * Wraps the host runtime's storage.cloneVolume and start with timestamps (no behaviour change).
 * Reaches into a private field, so it is best effort: undefined when the shape is not there.
 */
function instrumentHost(host: Host): Marks | undefined {
  type StartFn = (branchId: string, volume: string, port: number) => Promise<void>;
  const rt = (host as unknown as { rt?: { storage?: StorageDriver; start?: StartFn } }).rt;
  if (!rt?.storage || typeof rt.start !== 'function' || typeof rt.storage.cloneVolume !== 'function') return undefined;
  const marks: Marks = {};
  const storage = rt.storage as { cloneVolume: StorageDriver['cloneVolume'] };
  const clone = storage.cloneVolume.bind(rt.storage);
  storage.cloneVolume = async (...args) => {
    marks.cloneStart = performance.now();
    try {
      return await clone(...args);
    } finally {
      marks.cloneEnd = performance.now();
    }
  };
  const start = rt.start.bind(rt);
  rt.start = async (...args) => {
    marks.startStart = performance.now();
    try {
      return await start(...args);
    } finally {
      marks.startEnd = performance.now();
    }
  };
  return marks;
}

interface BranchResult {
  readonly total: Stats;
  /** host.createBranch() alone (returns once pgbranch's own TCP login worked). */
  readonly create: Stats;
  /** connectionInfo + new connection + first query after createBranch returned. */
  readonly query: Stats;
  readonly warmupMs: number;
  readonly ownBytes: { readonly median: number; readonly max: number; readonly samples: readonly number[] };
  readonly queryRetries: number;
  readonly inSitu?: Record<InSituPhase, Stats>;
  /** The branch's own server log during those starts. */
  readonly inSituLog?: Partial<Record<LogPhase, Stats>>;
}

async function measureBranch(bench: Bench, host: Host, parent: Parent, runs: number, maxOwnBytes?: number): Promise<BranchResult> {
  const totals: number[] = [];
  const creates: number[] = [];
  const queries: number[] = [];
  const own: number[] = [];
  let warmupMs = 0;
  let retries = 0;
  const marks = instrumentHost(host);
  const inSitu = Object.fromEntries(IN_SITU.map(([k]) => [k, [] as number[]])) as Record<InSituPhase, number[]>;
  const inSituLog: Partial<Record<LogPhase, number[]>> = {};
  for (let i = 0; i <= runs; i++) {
        const name = `${parent.name}-b${i}`;
    if (marks) for (const k of Object.keys(marks) as (keyof Marks)[]) delete marks[k];
    const t0 = performance.now();
    await host.createBranch(name, { from: parent.name, ...(maxOwnBytes !== undefined ? { maxOwnBytes } : {}) });
    const t1 = performance.now();
    const info = await host.connectionInfo(name);
    retries += await firstQuery(info.url);
    const t2 = performance.now();
    // Before any user write: what the branch holds of its own (exclusive btrfs extents).
    const view = await host.getBranch(name);
    if (i === 0) {
      warmupMs = t2 - t0;
      progress(`  branch warm-up: ${fmtMs(warmupMs)} (not counted)`);
    } else {
      totals.push(t2 - t0);
      creates.push(t1 - t0);
      queries.push(t2 - t1);
      own.push(view.ownBytes ?? Number.NaN);
      if (marks?.cloneStart !== undefined && marks.cloneEnd !== undefined && marks.startStart !== undefined && marks.startEnd !== undefined) {
        inSitu.beforeClone.push(marks.cloneStart - t0);
        inSitu.snapshot.push(marks.cloneEnd - marks.cloneStart);
        inSitu.betweenCloneAndStart.push(marks.startStart - marks.cloneEnd);
        inSitu.start.push(marks.startEnd - marks.startStart);
        inSitu.afterStart.push(t1 - marks.startEnd);
        const phases = logPhases(parseServerLog(await readFile(join(bench.home, 'logs', `${view.id}.log`), 'utf8').catch(() => '')));
        if (phases.outsideLog !== undefined) phases.outsideLog = Math.max(0, marks.startEnd - marks.startStart + phases.outsideLog);
        for (const [k, v] of Object.entries(phases) as [LogPhase, number][]) (inSituLog[k] ??= []).push(v);
      }
      progress(`  branch run ${i}/${runs}: ${fmtMs(t2 - t0)} (createBranch ${fmtMs(t1 - t0)}), own data ${fmtBytes(view.ownBytes ?? 0)}`);
    }
    await host.deleteBranch(name);
    await settlePool(bench);
  }
  return {
    total: stats(totals),
    create: stats(creates),
    query: stats(queries),
    warmupMs: round1(warmupMs),
    ownBytes: { median: median(own), max: Math.max(...own), samples: own },
    queryRetries: retries,
    ...(inSitu.start.length === runs
      ? { inSitu: Object.fromEntries(IN_SITU.map(([k]) => [k, stats(inSitu[k])])) as Record<InSituPhase, Stats> }
      : {}),
    inSituLog: Object.fromEntries(Object.entries(inSituLog).map(([k, v]) => [k, stats(v)])) as Partial<Record<LogPhase, Stats>>,
  };
}

interface CliResult {
  readonly total: Stats;
  readonly process: Stats;
}

/** One `pgbranch branch create` process per run (Node start-up, host open and reconcile included). */
async function measureCli(bench: Bench, host: Host, parent: Parent, runs: number): Promise<CliResult> {
  const totals: number[] = [];
  const procs: number[] = [];
  for (let i = 1; i <= runs; i++) {
        const name = `${parent.name}-c${i}`;
    const t0 = performance.now();
    const { stdout } = await runChild(process.execPath, [CLI_BIN, '--home', bench.home, 'branch', 'create', name, '--from', parent.name, '-o', 'json'], process.env);
    const t1 = performance.now();
    const created = JSON.parse(stdout) as { created?: boolean; name?: string };
    if (created.created !== true || created.name !== name) throw new Error(`unexpected CLI output: ${stdout}`);
    const info = await host.connectionInfo(name);
    await firstQuery(info.url);
    const t2 = performance.now();
    totals.push(t2 - t0);
    procs.push(t1 - t0);
    progress(`  CLI run ${i}/${runs}: ${fmtMs(t2 - t0)} (process ${fmtMs(t1 - t0)})`);
    await host.deleteBranch(name);
    await settlePool(bench);
  }
  return { total: stats(totals), process: stats(procs) };
}

// ---------------------------------------------------------------------------------------------
// Breakdown: the steps of createChild/bringUpClone/openTcp replayed with the mechanisms

interface BreakdownContext {
  readonly storage: StorageDriver;
  readonly binaries: PgBinaries;
  readonly osUser: OsUser;
  readonly parentVolume: string;
  readonly parentAdmin: ConnectionTarget;
  readonly dbUser: string;
  readonly dbName: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly workDir: string;
}

/** Steps in the order pgbranch runs them (src/branches/create.ts, clone.ts, runtime.ts). */
const STEPS = [
  ['port', 'allocate a port (listen on 0)'],
  ['checkpoint', 'CHECKPOINT on the parent (unix-socket connect + statement)'],
  ['snapshot', 'btrfs snapshot of the parent volume (+ rename into place)'],
  ['prepare', 'drop postmaster.pid, pg_hba (no TCP), socket dir'],
  ['start', 'postgres start → postmaster.pid "ready" (crash recovery)'],
  ['password', 'new password: connect + ALTER ROLE (SCRAM verifier) + branch LSN'],
  ['openTcp', 'pg_hba with TCP + SIGHUP + waitForLogin (25 ms poll)'],
  ['firstQuery', 'client: new TCP connection (SCRAM) + first query'],
] as const;
type StepName = (typeof STEPS)[number][0];

/** Intervals read from the clone's server log (its own timestamps). */
const LOG_PHASES = [
  ['boot', 'postmaster start → "not properly shut down"'],
  ['syncDataDir', 'fsync of the data directory before redo'],
  ['redo', 'WAL redo'],
  ['eorCheckpoint', 'end-of-recovery checkpoint'],
  ['toReady', '→ "ready to accept connections"'],
  ['outsideLog', 'exec before the first log line + seeing "ready" in postmaster.pid'],
] as const;
type LogPhase = (typeof LOG_PHASES)[number][0];

interface BreakdownResult {
  readonly steps: Record<StepName, Stats>;
  readonly stepsSumMs: number;
  readonly log: Partial<Record<LogPhase, Stats>>;
  readonly loginMs: Stats;
  readonly runs: number;
  readonly whatIfs: readonly WhatIf[];
}

async function breakdownContext(bench: Bench, parentName: string): Promise<BreakdownContext> {
  const config = JSON.parse(await readFile(join(bench.home, 'config.json'), 'utf8')) as {
    storage: { driver: 'btrfs'; poolPath: string };
    postgres: { major: number; binDir?: string; osUser: string; settings?: Record<string, string> };
  };
  const store = StateStore.open(join(bench.home, 'state.db'));
  let record;
  try {
    record = store.getBranchByName(parentName);
  } finally {
    store.close();
  }
  if (!record) throw new Error(`no branch ${parentName} in the state database`);
  const workDir = join(bench.dir, 'breakdown');
  await mkdir(workDir, { recursive: true, mode: 0o755 });
  await chmod(workDir, 0o755);
  return {
    storage: createStorageDriver({ driver: config.storage.driver, poolPath: config.storage.poolPath }),
    binaries: await resolveBinaries({ major: config.postgres.major, binDir: config.postgres.binDir }),
    osUser: await ensureOsUser(config.postgres.osUser),
    parentVolume: record.volume,
    parentAdmin: { socketDir: join(bench.home, 'run', record.id), port: record.port, user: record.dbUser, database: 'postgres' },
    dbUser: record.dbUser,
    dbName: record.dbName,
    settings: config.postgres.settings ?? {},
    workDir,
  };
}

interface LogLine {
  readonly ms: number;
  readonly text: string;
}

function parseServerLog(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    // log_line_prefix = '%m [%p] ': "2025-01-02 03:04:05.678 UTC [123] LOG:  …"; only differences
    // between lines are used, so the zone does not matter.
    const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3}) \S+ \[\d+\] (.*)$/.exec(line);
    if (!m) continue;
    const [, y, mo, d, h, mi, s, ms, rest] = m;
    out.push({ ms: Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!, +ms!), text: rest! });
  }
  return out;
}

function logPhases(lines: readonly LogLine[]): Partial<Record<LogPhase, number>> {
  const at = (re: RegExp): number | undefined => lines.find((l) => re.test(l.text))?.ms;
  const start = at(/starting PostgreSQL/);
  const crashed = at(/not properly shut down|was interrupted/);
  const redoStart = at(/redo starts at/);
  const redoDone = at(/redo done at|redo is not required/);
  const ckptDone = at(/checkpoint complete/);
  const ready = at(/ready to accept connections/);
  const out: Partial<Record<LogPhase, number>> = {};
  const put = (k: LogPhase, a: number | undefined, b: number | undefined): void => {
    if (a !== undefined && b !== undefined && b >= a) out[k] = b - a;
  };
  put('boot', start, crashed);
  put('syncDataDir', crashed, redoStart);
  put('redo', redoStart, redoDone);
  put('eorCheckpoint', redoDone, ckptDone);
  put('toReady', ckptDone ?? redoDone, ready);
  if (start !== undefined && ready !== undefined) out.outsideLog = -(ready - start); // completed by the caller
  return out;
}

interface Replay {
  readonly steps: Record<StepName, number>;
  readonly phases: Partial<Record<LogPhase, number>>;
  readonly loginMs: number;
}

/** One branch create replayed step by step (src/branches/create.ts createChild → clone.ts). */
async function replayOnce(bench: Bench, ctx: BreakdownContext, tag: string, extraSettings: Readonly<Record<string, string>> = {}): Promise<Replay> {
  const volume = `bench-breakdown-${tag}`;
  const socketDir = join(ctx.workDir, `sock-${tag}`);
  const logFile = join(ctx.workDir, `server-${tag}.log`);
  const dataDir = join(ctx.storage.volumePath(volume), 'pgdata');
  const password = `bench-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const t: Partial<Record<StepName, number>> = {};
  const time = async <T>(step: StepName, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const value = await fn();
    t[step] = performance.now() - t0;
    return value;
  };
  try {
    const port = await time('port', () => findFreePort());
    await time('checkpoint', () => withClient(ctx.parentAdmin, (c) => checkpoint(c)));
    await time('snapshot', () => ctx.storage.cloneVolume(ctx.parentVolume, volume));
    await time('prepare', async () => {
      await rm(join(dataDir, 'postmaster.pid'), { force: true });
      await rm(join(dataDir, 'postmaster.opts'), { force: true });
      await writeHba(dataDir, { allowTcp: false });
      await prepareDirectory(socketDir, ctx.osUser, 0o700);
      await instanceStatus(dataDir);
    });
    const settings = { ...ctx.settings, ...extraSettings };
    await time('start', () => startInstance({ binaries: ctx.binaries, dataDir, osUser: ctx.osUser, port, socketDir, logFile, settings }));
    const admin: ConnectionTarget = { socketDir, port, user: ctx.dbUser, database: 'postgres' };
    await time('password', () =>
      withClient(admin, async (c) => {
        await setRolePassword(c, ctx.dbUser, password);
        await c.query('SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()');
      }),
    );
    const login = { host: '127.0.0.1', port, user: ctx.dbUser, database: ctx.dbName, password };
    await time('openTcp', async () => {
      await writeHba(dataDir, { allowTcp: true });
      await reloadConfig(dataDir);
      await waitForLogin(login, { timeoutMs: 10_000 });
    });
    const url = `postgresql://${encodeURIComponent(ctx.dbUser)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(ctx.dbName)}`;
    await time('firstQuery', () => firstQuery(url));
    // One more plain login, to tell the reload wait apart from the login itself in openTcp.
    const l0 = performance.now();
    await waitForLogin(login, { timeoutMs: 10_000 });
    const loginMs = performance.now() - l0;
    const phases = logPhases(parseServerLog(await readFile(logFile, 'utf8').catch(() => '')));
    // startInstance's time minus the span the server log covers.
    if (phases.outsideLog !== undefined) phases.outsideLog = Math.max(0, t.start! + phases.outsideLog);
    return { steps: t as Record<StepName, number>, phases, loginMs };
  } finally {
    await stopInstance(dataDir, { mode: 'immediate', timeoutMs: 10_000 }).catch(() => killInstance(dataDir).catch(() => undefined));
    await ctx.storage.deleteVolume(volume).catch(() => undefined);
    await rm(socketDir, { recursive: true, force: true });
    await rm(logFile, { force: true });
    await settlePool(bench);
  }
}

interface WhatIf {
  readonly label: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly start: Stats;
  readonly log: Partial<Record<LogPhase, Stats>>;
}

async function measureBreakdown(bench: Bench, parent: Parent, runs: number, major: number): Promise<BreakdownResult> {
  const ctx = await breakdownContext(bench, parent.name);
  const samples = Object.fromEntries(STEPS.map(([k]) => [k, [] as number[]])) as Record<StepName, number[]>;
  const logSamples: Partial<Record<LogPhase, number[]>> = {};
  const logins: number[] = [];
  for (let i = 0; i <= runs; i++) {
        const r = await replayOnce(bench, ctx, String(i));
    const line = STEPS.map(([k]) => `${k} ${fmtMs(r.steps[k])}`).join(', ');
    if (i === 0) {
      progress(`  breakdown warm-up (not counted): ${line}`);
      continue;
    }
    for (const [k] of STEPS) samples[k].push(r.steps[k]);
    for (const [k, v] of Object.entries(r.phases) as [LogPhase, number][]) (logSamples[k] ??= []).push(v);
    logins.push(r.loginMs);
    progress(`  breakdown run ${i}/${runs}: ${line}`);
  }
  // What-if: the same start with settings pgbranch does not use today.
  const whatIfs: WhatIf[] = [];
  const candidates: { label: string; settings: Record<string, string> }[] =
    major >= 14 ? [{ label: 'recovery_init_sync_method = syncfs', settings: { recovery_init_sync_method: 'syncfs' } }] : [];
  for (const candidate of candidates) {
    const starts: number[] = [];
    const phases: Partial<Record<LogPhase, number[]>> = {};
    for (let i = 1; i <= runs; i++) {
            const r = await replayOnce(bench, ctx, `w${i}`, candidate.settings);
      starts.push(r.steps.start);
      for (const [k, v] of Object.entries(r.phases) as [LogPhase, number][]) (phases[k] ??= []).push(v);
      progress(`  what-if ${candidate.label} run ${i}/${runs}: start ${fmtMs(r.steps.start)}`);
    }
    const log: Partial<Record<LogPhase, Stats>> = {};
    for (const [k, v] of Object.entries(phases) as [LogPhase, number[]][]) if (v.length > 0) log[k] = stats(v);
    whatIfs.push({ label: candidate.label, settings: candidate.settings, start: stats(starts), log });
  }
  const steps = Object.fromEntries(STEPS.map(([k]) => [k, stats(samples[k])])) as Record<StepName, Stats>;
  const log: Partial<Record<LogPhase, Stats>> = {};
  for (const [k, v] of Object.entries(logSamples) as [LogPhase, number[]][]) if (v.length > 0) log[k] = stats(v);
  return {
    steps,
    stepsSumMs: round1(STEPS.reduce((acc, [k]) => acc + steps[k].medianMs, 0)),
    log,
    loginMs: stats(logins),
    runs,
    whatIfs,
  };
}

// ---------------------------------------------------------------------------------------------
// Baselines inside the parent's own instance

async function dropDatabase(info: ConnectionInfo, db: string): Promise<void> {
  await withTcp(info, 'postgres', async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await c.query('CHECKPOINT');
  });
}

/** CREATE DATABASE … TEMPLATE <parent db> STRATEGY FILE_COPY, then a first query on the copy. */
async function measureTemplate(bench: Bench, parent: Parent, runs: number, fileCopyMethod?: 'clone'): Promise<Stats> {
  const { info } = parent;
  const samples: number[] = [];
  await dropDatabase(info, 'bench_copy');
  for (let i = 1; i <= runs; i++) {
        // The template must have no other sessions: this client talks to "postgres", and nothing of
    // ours is connected to the parent's database any more.
    const t0 = performance.now();
    await withTcp(info, 'postgres', async (c) => {
      if (fileCopyMethod) await c.query(`SET file_copy_method = ${fileCopyMethod}`);
      await c.query(`CREATE DATABASE bench_copy TEMPLATE ${info.database} STRATEGY FILE_COPY`);
    });
    await firstQuery(urlFor(info, 'bench_copy'));
    const ms = performance.now() - t0;
    samples.push(ms);
    progress(`  template${fileCopyMethod ? ` (file_copy_method=${fileCopyMethod})` : ''} run ${i}/${runs}: ${fmtMs(ms)}`);
    await dropDatabase(info, 'bench_copy');
    await settlePool(bench);
  }
  return stats(samples);
}

/** pg_dump -Fc -Z0 of the parent's database streamed into pg_restore on a new empty database. */
async function measureDump(bench: Bench, parent: Parent, runs: number, tools: { pgDump: string; pgRestore: string }): Promise<Stats> {
  const { info } = parent;
  const samples: number[] = [];
  const env = branchEnv(info);
  await dropDatabase(info, 'bench_restore');
  for (let i = 1; i <= runs; i++) {
        await withTcp(info, 'postgres', (c) => c.query('CREATE DATABASE bench_restore'));
    const t0 = performance.now();
    // One shell pipeline: the dump flows through a kernel pipe, no temp file, no copy through Node.
    await runChild(
      'bash',
      ['-c', 'set -o pipefail; "$1" -Fc -Z0 -d "$3" | "$2" --exit-on-error -d "$4"', 'bench-dump', tools.pgDump, tools.pgRestore, info.database, 'bench_restore'],
      env,
    );
    await firstQuery(urlFor(info, 'bench_restore'));
    const ms = performance.now() - t0;
    samples.push(ms);
    progress(`  dump | restore run ${i}/${runs}: ${fmtMs(ms)}`);
    await dropDatabase(info, 'bench_restore');
    await settlePool(bench);
  }
  return stats(samples);
}

// ---------------------------------------------------------------------------------------------
// Report

interface SizeResult {
  readonly sizeGiB: number;
  readonly parent: { readonly name: string; readonly scale: number; readonly databaseBytes: number; readonly buildMs: number };
  readonly branch: BranchResult;
  readonly cli: CliResult | { readonly skipped: string };
  readonly template: Stats | { readonly skipped: string };
  readonly templateClone?: Stats | { readonly skipped: string };
  readonly dump: Stats | { readonly skipped: string };
  readonly breakdown?: BreakdownResult;
}

interface Goal {
  readonly goal: string;
  readonly actual: string;
  readonly pass: boolean | null;
}

interface Report {
  readonly server: { readonly version: string; readonly major: number; readonly binDir: string; readonly source: string };
  readonly clientTools: { readonly major: number; readonly pgDump: string };
  readonly machine: { readonly cpus: number; readonly memoryGiB: number; readonly node: string; readonly loadStart: readonly number[]; readonly loadEnd: readonly number[] };
  readonly pool: { readonly driver: 'btrfs'; readonly sizeGiB: number; readonly kind: string };
  readonly sizes: readonly SizeResult[];
  readonly ratios: readonly { readonly name: string; readonly value: number | null }[];
  readonly goals: readonly Goal[];
  readonly totalMs: number;
}

const isStats = (x: Stats | { skipped: string } | undefined): x is Stats => x !== undefined && 'medianMs' in x;

const BRANCH_READY_GOAL_MS = 150;
const SCALING_GOAL = 1.3;
const TEMPLATE_GOAL = 40;
const OWN_BYTES_GOAL = MIB;

function evaluate(sizes: readonly SizeResult[]): { ratios: Report['ratios']; goals: Goal[] } {
  const ratios: { name: string; value: number | null }[] = [];
  for (const s of sizes) {
    const b = s.branch.total.medianMs;
    ratios.push({ name: `template / branch @ ${sizeLabel(s.sizeGiB)}`, value: isStats(s.template) ? round2(s.template.medianMs / b) : null });
    if (s.templateClone !== undefined) {
      ratios.push({ name: `template (clone) / branch @ ${sizeLabel(s.sizeGiB)}`, value: isStats(s.templateClone) ? round2(s.templateClone.medianMs / b) : null });
    }
    ratios.push({ name: `dump|restore / branch @ ${sizeLabel(s.sizeGiB)}`, value: isStats(s.dump) ? round2(s.dump.medianMs / b) : null });
  }
  const small = sizes[0]!;
  const large = sizes[sizes.length - 1]!;
  const scaling = sizes.length > 1 ? large.branch.total.medianMs / small.branch.total.medianMs : null;
  if (sizes.length > 1) ratios.push({ name: `branch @ ${sizeLabel(large.sizeGiB)} / branch @ ${sizeLabel(small.sizeGiB)}`, value: round2(scaling!) });

  const goals: Goal[] = [];
  const worstP50 = Math.max(...sizes.map((s) => s.branch.total.medianMs));
  goals.push({
    goal: `branch-ready p50 ≤ ${BRANCH_READY_GOAL_MS} ms (every size)`,
    actual: sizes.map((s) => `${sizeLabel(s.sizeGiB)}: ${fmtMs(s.branch.total.medianMs)}`).join(', '),
    pass: worstP50 <= BRANCH_READY_GOAL_MS,
  });
  goals.push({
    goal: `branch-ready ${sizeLabel(large.sizeGiB)} ≤ ${SCALING_GOAL}× ${sizeLabel(small.sizeGiB)}`,
    actual: scaling === null ? 'needs two sizes' : fmtRatio(scaling),
    pass: scaling === null ? null : scaling <= SCALING_GOAL,
  });
  const tRatio = isStats(large.template) ? large.template.medianMs / large.branch.total.medianMs : null;
  goals.push({
    goal: `template copy ≥ ${TEMPLATE_GOAL}× branch-ready @ ${sizeLabel(large.sizeGiB)}`,
    actual: tRatio === null ? 'not measured' : fmtRatio(tRatio),
    pass: tRatio === null ? null : tRatio >= TEMPLATE_GOAL,
  });
  const maxOwn = Math.max(...sizes.map((s) => s.branch.ownBytes.max));
  goals.push({
    goal: `branch own storage after create ≤ ${fmtBytes(OWN_BYTES_GOAL)} (every run)`,
    actual: `max ${fmtBytes(maxOwn)}`,
    pass: maxOwn <= OWN_BYTES_GOAL,
  });
  return { ratios, goals };
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

function renderText(report: Report): string {
  const out: string[] = [];
  out.push(`pgbranch branch benchmark — ${report.server.version}`);
  out.push(`server binaries: ${report.server.source}, ${report.server.binDir}; pg_dump/pg_restore ${report.clientTools.major}; pool: ${report.pool.kind}`);
  out.push(
    `machine: ${report.machine.cpus} CPUs, ${report.machine.memoryGiB} GiB RAM, node ${report.machine.node}; ` +
      `load average at start ${report.machine.loadStart.join(' ')}, at end ${report.machine.loadEnd.join(' ')}`,
  );
  out.push(`branch-ready = host.createBranch(name, { from }) → new TCP connection to the branch URL → "${FIRST_QUERY}" answered`);
  out.push(`baselines run inside the parent's own instance; each also ends with a new connection answering the same query`);
  for (const s of report.sizes) {
    out.push('');
    out.push(
      `== ~${sizeLabel(s.sizeGiB)} parent "${s.parent.name}": pgbench scale ${s.parent.scale}, pg_database_size ${fmtBytes(s.parent.databaseBytes)} ` +
        `(${s.parent.databaseBytes.toLocaleString('en-US')} bytes), built in ${fmtMs(s.parent.buildMs)} ==`,
    );
    const rows: string[][] = [['method', 'median', 'min', 'max', 'runs']];
    const notes: string[] = [];
    const row = (label: string, st: Stats | { skipped: string } | undefined): void => {
      if (st === undefined) return;
      if (isStats(st)) {
        rows.push([label, fmtMs(st.medianMs), fmtMs(st.minMs), fmtMs(st.maxMs), String(st.runs)]);
      } else {
        rows.push([label, 'skipped', '-', '-', '0']);
        notes.push(`${label.trim()}: skipped: ${st.skipped}`);
      }
    };
    row('branch create → first query (domain API)', s.branch.total);
    row('  of which host.createBranch()', s.branch.create);
    if (s.branch.inSitu) {
      for (const [k, label] of IN_SITU) {
        row(`    ${label}`, s.branch.inSitu[k]);
        if (k === 'start') for (const [lk, llabel] of LOG_PHASES) row(`      server log: ${llabel}`, s.branch.inSituLog?.[lk]);
      }
    }
    row('  of which connectionInfo + new connection + query', s.branch.query);
    if ('skipped' in s.cli) {
      row('branch create → first query (CLI process)', s.cli);
    } else {
      row('branch create → first query (CLI process)', s.cli.total);
      row('  of which `pgbranch branch create` process', s.cli.process);
    }
    row('CREATE DATABASE … TEMPLATE … STRATEGY FILE_COPY', s.template);
    row('  same with file_copy_method = clone (PG 18)', s.templateClone);
    row('pg_dump -Fc -Z0 | pg_restore (one pipe)', s.dump);
    out.push(table(rows));
    out.push(...notes);
    out.push(
      `branch own storage right after create (btrfs exclusive bytes): median ${fmtBytes(s.branch.ownBytes.median)}, ` +
        `max ${fmtBytes(s.branch.ownBytes.max)} over ${s.branch.ownBytes.samples.length} branches; ` +
        `first (warm-up) create not counted: ${fmtMs(s.branch.warmupMs)}` +
        (s.branch.queryRetries > 0 ? `; ${s.branch.queryRetries} first-query attempts failed and were retried` : ''),
    );
    if (s.breakdown) {
      const bd = s.breakdown;
      out.push('');
      out.push(`where a branch create goes (the same steps replayed with the mechanisms, median of ${bd.runs}):`);
      const brows: string[][] = [['step', 'median', 'min', 'max']];
      for (const [k, label] of STEPS) {
        const st = bd.steps[k];
        brows.push([`${k.padEnd(10)} ${label}`, fmtMs(st.medianMs), fmtMs(st.minMs), fmtMs(st.maxMs)]);
        if (k === 'start') {
          for (const [lk, llabel] of LOG_PHASES) {
            const ls = bd.log[lk];
            if (ls) brows.push([`  server log: ${llabel}`, fmtMs(ls.medianMs), fmtMs(ls.minMs), fmtMs(ls.maxMs)]);
          }
        }
        if (k === 'openTcp') brows.push(['  of which one SCRAM login + SELECT 1 (measured apart)', fmtMs(bd.loginMs.medianMs), fmtMs(bd.loginMs.minMs), fmtMs(bd.loginMs.maxMs)]);
      }
      brows.push(['sum of step medians (compare: domain API median above)', fmtMs(bd.stepsSumMs), '', '']);
      for (const w of bd.whatIfs) {
        brows.push([`what-if: start with ${w.label}`, fmtMs(w.start.medianMs), fmtMs(w.start.minMs), fmtMs(w.start.maxMs)]);
        for (const [lk, llabel] of LOG_PHASES) {
          const ls = w.log[lk];
          if (ls) brows.push([`  server log: ${llabel}`, fmtMs(ls.medianMs), fmtMs(ls.minMs), fmtMs(ls.maxMs)]);
        }
      }
      out.push(table(brows));
    }
  }
  out.push('');
  out.push('ratios (medians):');
  out.push(table(report.ratios.map((r) => [`  ${r.name}`, r.value === null ? 'n/a' : fmtRatio(r.value)])));
  out.push('');
  out.push('goals:');
  for (const g of report.goals) out.push(`  ${g.pass === null ? 'N/A ' : g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${g.actual}`);
  out.push('');
  out.push(`whole benchmark: ${fmtMs(report.totalMs)}`);
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Main

function defaultTemplateRuns(opts: Options): number {
  return opts.templateRuns ?? 3;
}

function defaultDumpRuns(sizeGiB: number, opts: Options): number {
  return opts.dumpRuns ?? (sizeGiB <= 1.5 ? 3 : 2);
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the branch benchmark needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }

  let bench: Bench | undefined;
  try {
    const tools = await clientTools();
    const pgbench = join(dirname(tools.psql), 'pgbench');
    if (!existsSync(pgbench)) throw new Error(`pgbench not found next to ${tools.psql} (install postgresql-contrib / postgresql-15)`);
    const binaries = await resolveBinaries({ major: opts.pgMajor });
    const dumpSkip =
      tools.major < binaries.major
        ? `pg_dump ${tools.major} refuses a PostgreSQL ${binaries.major} server; run with --pg-major ${tools.major} to measure it`
        : undefined;
    progress(`server: PostgreSQL ${binaries.version} (${binaries.source}, ${binaries.binDir}); sizes ${opts.sizesGiB.map(sizeLabel).join(', ')}`);

    const first = opts.sizesGiB[0]!;
    // Parent + a template copy or a restored copy at a time (dropped between runs) + WAL and
    // btrfs metadata (DUP); sparse, so only what is written costs disk.
    bench = await createBenchHost({
      poolSizeGiB: Math.max(8, Math.ceil(Math.max(...opts.sizesGiB) * 6 + 4)),
      init: { pgMajor: opts.pgMajor, rootName: `main-${branchSafe(first)}` },
    });
    const { host } = bench;
    const version = await withTcp(await host.connectionInfo(`main-${branchSafe(first)}`), 'postgres', async (c) => {
      const { rows } = await c.query<{ v: string }>('SELECT version() AS v');
      return rows[0]!.v;
    });
    progress(`server says: ${version}`);

    const sizes: SizeResult[] = [];
    for (const [index, sizeGiB] of opts.sizesGiB.entries()) {
            const parent = await buildParent(host, sizeGiB, pgbench, index === 0);
      await settlePool(bench);

      progress(`${parent.name}: branch create → first query, ${opts.runs} runs + 1 warm-up`);
      const branch = await measureBranch(bench, host, parent, opts.runs, opts.maxOwnBytes);

      let cli: SizeResult['cli'] = { skipped: '--cli-runs 0' };
      if (opts.cliRuns > 0) {
        progress(`${parent.name}: branch create through the CLI, ${opts.cliRuns} runs`);
        cli = await measureCli(bench, host, parent, opts.cliRuns);
      }

      let breakdown: BreakdownResult | undefined;
      if (opts.breakdown) {
        progress(`${parent.name}: breakdown of a branch create, ${opts.runs} runs + 1 warm-up`);
        breakdown = await measureBreakdown(bench, parent, opts.runs, binaries.major);
      }

      const templateRuns = defaultTemplateRuns(opts);
      let template: SizeResult['template'] = { skipped: '--template-runs 0' };
      let templateClone: SizeResult['templateClone'];
      if (templateRuns > 0) {
        progress(`${parent.name}: CREATE DATABASE … STRATEGY FILE_COPY, ${templateRuns} runs`);
        template = await measureTemplate(bench, parent, templateRuns);
        if (binaries.major >= 18) {
          progress(`${parent.name}: the same with file_copy_method = clone, ${templateRuns} runs`);
          templateClone = await measureTemplate(bench, parent, templateRuns, 'clone').catch((err: unknown) => ({
            skipped: (err as Error).message,
          }));
        }
      }

      const dumpRuns = defaultDumpRuns(sizeGiB, opts);
      let dump: SizeResult['dump'] = { skipped: dumpSkip ?? '--dump-runs 0' };
      if (dumpSkip) {
        progress(`${parent.name}: pg_dump | pg_restore skipped: ${dumpSkip}`);
      } else if (dumpRuns > 0) {
        progress(`${parent.name}: pg_dump -Fc -Z0 | pg_restore, ${dumpRuns} runs`);
        dump = await measureDump(bench, parent, dumpRuns, tools);
      }

      sizes.push({
        sizeGiB,
        parent: { name: parent.name, scale: parent.scale, databaseBytes: parent.databaseBytes, buildMs: round1(parent.buildMs) },
        branch,
        cli,
        template,
        ...(templateClone !== undefined ? { templateClone } : {}),
        dump,
        ...(breakdown ? { breakdown } : {}),
      });
      // The parent has been measured: free its disk and memory before the next (bigger) one.
      progress(`${parent.name}: deleting`);
      // init protects its root; the benchmark's parents are throwaway.
      await host.updateBranch(parent.name, { protected: false });
      await host.deleteBranch(parent.name);
      await settlePool(bench);
    }

    const { ratios, goals } = evaluate(sizes);
    const report: Report = {
      server: { version, major: binaries.major, binDir: binaries.binDir, source: binaries.source },
      clientTools: { major: tools.major, pgDump: tools.pgDump },
      machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / GIB), node: process.version, loadStart, loadEnd: loadAvg() },
      pool: { driver: 'btrfs', sizeGiB: bench.poolSizeBytes / GIB, kind: `btrfs on a ${bench.poolSizeBytes / GIB} GiB sparse loop image (noatime)` },
      sizes,
      ratios,
      goals,
      totalMs: round1(performance.now() - startedAt),
    };
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderText(report));
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    await bench?.cleanup();
  }
}

process.exitCode = await main();
