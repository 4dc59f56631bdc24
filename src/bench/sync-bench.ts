/**
 * Sync benchmark: how fresh a following root is and what a fresh `main` costs.
 *
 * One run on a throwaway host (sparse btrfs loop pool) and a "production" PostgreSQL started on
 * loopback (Debian's 15 by default, so that pg_dump can read it for the logical baseline):
 * - a fresh `main` of a ~1 GiB source: physical follow (base backup + standby) against a logical
 *   copy (pg_dump | pg_restore, what `source refresh` does);
 * - replication lag under pgbench writes: marker rows committed on the source every 200 ms, the
 *   time until each is visible on the root (p50/p99), and the byte lag sampled meanwhile;
 * - branch-ready (create → first query) from the following root against the static root;
 * - a branch at a time T against the WAL to replay from the newest snapshot before T, after 1
 *   and 10 minutes of pgbench writes.
 *
 *   npm run bench:sync -- [--size-gib 1] [--pitr-minutes 1,10] [--runs 5] [--source-major 15] [--json]
 */
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import type { Host } from '../branches/index.js';
import { ensureOsUser, findFreePort, initCluster, lsnDiff, prepareDirectory, resolveBinaries, startInstance, stopInstance } from '../postgres/index.js';
import { createBenchHost, libpqEnv, median, parseArgs, percentile, positiveInt, progress, runChild, type BenchHost } from './bench-support.js';

const USAGE = `usage: node dist/bench/sync-bench.js [options]
  --size-gib N        source size (pgbench scale ≈ 68 per GiB; default 1)
  --pitr-minutes L    minutes of pgbench writes before each point-in-time branch (default 1,10)
  --runs N            branch creates per root (default 5)
  --lag-seconds N     seconds of pgbench load while measuring lag (default 30)
  --source-major N    source PostgreSQL major (default 15: pg_dump can read it; others skip the logical baseline)
  --json              print the results as JSON
`;

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';

const fmtMs = (ms: number): string => (ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`);
const fmtBytes = (b: number): string => (b < MIB ? `${(b / 1024).toFixed(0)} KiB` : b < GIB ? `${(b / MIB).toFixed(1)} MiB` : `${(b / GIB).toFixed(2)} GiB`);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(a / b >= 10 ? 1 : 2)}×`;

interface Source {
  readonly url: string;
  readonly replUrl: string;
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** A primary on loopback with a replication role, as a production server would be set up. */
async function startSource(bench: BenchHost, major: number): Promise<Source> {
  const binaries = await resolveBinaries({ major });
  const osUser = await ensureOsUser();
  const dataDir = join(bench.dir, 'source');
  const socketDir = join(bench.dir, 'source-sock');
  await prepareDirectory(dataDir, osUser, 0o700);
  await prepareDirectory(socketDir, osUser, 0o700);
  const password = `bench-${Math.random().toString(36).slice(2)}`;
  await initCluster({ binaries, dataDir, osUser, superuser: 'postgres', superuserPassword: password, database: 'app', noSync: true });
  const { appendFile } = await import('node:fs/promises');
  await appendFile(join(dataDir, 'pg_hba.conf'), 'host replication repl 127.0.0.1/32 scram-sha-256\n');
  const port = await findFreePort();
  const settings = { wal_level: 'replica', max_wal_senders: '10', max_replication_slots: '10', track_commit_timestamp: 'on', max_wal_size: '1GB', shared_buffers: '256MB' };
  await startInstance({ binaries, dataDir, osUser, port, socketDir, logFile: join(bench.dir, 'source.log'), settings });
  const url = `postgresql://postgres:${password}@127.0.0.1:${port}/app`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE ROLE repl LOGIN REPLICATION PASSWORD '${password}'`);
  await client.end();
  return {
    url,
    replUrl: `postgresql://repl:${password}@127.0.0.1:${port}/app?sslmode=disable`,
    env: libpqEnv({ PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: password, PGDATABASE: 'app' }),
    stop: () => stopInstance(dataDir, { mode: 'fast', timeoutMs: 30_000 }),
  };
}

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Root connection as the source's superuser (a following root serves the source's roles). */
function asSource(host: { port: number }, source: Source): string {
  const u = new URL(source.url);
  u.port = String(host.port);
  return u.toString();
}

async function branchReady(host: Host, parent: string, runs: number, label: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const name = `${label}-${i}`;
    const t0 = performance.now();
    await host.createBranch(name, { origin: { kind: 'parent', parent } });
    await query((await host.connectionInfo(name)).url, 'SELECT count(*) FROM pgbench_branches');
    const ms = performance.now() - t0;
    if (i > 0) samples.push(ms);
    progress(`  ${label} ${i === 0 ? 'warm-up' : `run ${i}/${runs}`}: ${fmtMs(ms)}`);
    await host.deleteBranch(name);
  }
  return samples;
}

/** Markers committed on the source every 200 ms under load; how long until the root shows each. */
async function measureLag(source: Source, rootUrl: string, seconds: number): Promise<{ visibleMs: number[]; lagBytes: number[] }> {
  await query(source.url, 'CREATE TABLE IF NOT EXISTS lag_marker (id int PRIMARY KEY)');
  const load = runChild(PGBENCH, ['-c', '4', '-j', '2', '-T', String(seconds), '-n'], source.env);
  // Awaited after the measurement; a failure meanwhile must not go unhandled.
  load.catch(() => undefined);
  const src = new pg.Client({ connectionString: source.url });
  const root = new pg.Client({ connectionString: rootUrl });
  await src.connect();
  await root.connect();
  const visibleMs: number[] = [];
  const lagBytes: number[] = [];
  try {
    const end = Date.now() + seconds * 1000;
    for (let id = 1; Date.now() < end; id++) {
      await src.query('INSERT INTO lag_marker VALUES ($1)', [id]);
      const committed = performance.now();
      const { rows } = await src.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      for (;;) {
        const seen = await root.query<{ n: number; replay: string }>('SELECT count(*)::int AS n, pg_last_wal_replay_lsn()::text AS replay FROM lag_marker WHERE id = $1', [id]);
        if (seen.rows[0]!.n === 1) {
          visibleMs.push(performance.now() - committed);
          break;
        }
        lagBytes.push(Math.max(0, lsnDiff(rows[0]!.lsn, seen.rows[0]!.replay)));
        await new Promise((r) => setTimeout(r, 1)); // polling interval of the measurement itself
      }
      await new Promise((r) => setTimeout(r, 200)); // paces the markers
    }
  } finally {
    await src.end();
    await root.end();
  }
  await load;
  return { visibleMs, lagBytes };
}

/** Polls the root until it has replayed `lsn`. */
async function waitReplayed(rootUrl: string, lsn: string): Promise<void> {
  for (;;) {
    const [{ caught }] = (await query<{ caught: boolean }>(rootUrl, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught', [lsn])) as [{ caught: boolean }];
    if (caught) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), { 'size-gib': 'value', 'pitr-minutes': 'value', runs: 'value', 'lag-seconds': 'value', 'source-major': 'value', json: 'flag' }, USAGE);
  const sizeGiB = Number(args.get('size-gib') ?? 1);
  const pitrMinutes = (args.get('pitr-minutes') ?? '1,10').split(',').map(Number);
  const runs = positiveInt(args, 'runs', 5);
  const lagSeconds = positiveInt(args, 'lag-seconds', 30);
  const sourceMajor = positiveInt(args, 'source-major', 15);
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the sync benchmark needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }
  const loadStart = loadavg().map((l) => l.toFixed(2));
  let bench: BenchHost | undefined;
  let source: Source | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: Math.max(16, Math.ceil(sizeGiB * 8 + 8)) });
    const { host } = bench;
    source = await startSource(bench, sourceMajor);
    const scale = Math.max(1, Math.round(sizeGiB * 68));
    progress(`source PostgreSQL ${sourceMajor}: pgbench -i -s ${scale}`);
    await runChild(PGBENCH, ['-i', '-s', String(scale), '-I', 'dtGvp', '-q'], source.env);
    await query(source.url, 'CHECKPOINT');
    const [{ bytes }] = (await query<{ bytes: string }>(source.url, 'SELECT pg_database_size(current_database())::text AS bytes')) as [{ bytes: string }];

    progress('fresh main by physical follow (base backup + standby start)');
    let t0 = performance.now();
    const { branch: prod } = await host.createBranch('prod', { origin: { kind: 'source', source: { kind: 'follow', url: source.replUrl } } });
    const followMs = performance.now() - t0;
    progress(`  ${fmtMs(followMs)}`);
    let logicalMs: number | null = null;
    let refreshMs: number | null = null;
    if (sourceMajor <= 15) {
      progress('fresh main by a logical copy (pg_dump | pg_restore)');
      t0 = performance.now();
      await host.createBranch('static', { origin: { kind: 'source', source: { kind: 'url', url: source.url } } });
      logicalMs = performance.now() - t0;
      progress(`  ${fmtMs(logicalMs)}; and a refresh of it (a new generation switched in)`);
      t0 = performance.now();
      await host.refreshSource('static');
      refreshMs = performance.now() - t0;
      progress(`  ${fmtMs(refreshMs)}`);
    }

    progress(`replication lag under pgbench -c 4 for ${lagSeconds} s`);
    const lag = await measureLag(source, asSource(prod, source), lagSeconds);

    progress(`branch-ready from the following root, ${runs} runs + warm-up`);
    const fromFollowing = await branchReady(host, 'prod', runs, 'follow');
    // A branch of a standby replays what it received since its last restartpoint, which follows
    // the source's checkpoints: right after one, little is left to replay.
    progress('branch-ready from the following root right after a checkpoint on the source');
    await query(source.url, 'CHECKPOINT');
    const checkpointLsn = (await query<{ lsn: string }>(source.url, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
    await waitReplayed(asSource(prod, source), checkpointLsn);
    const afterCheckpoint = await branchReady(host, 'prod', runs, 'follow-ckpt');
    const fromStatic = logicalMs !== null ? await branchReady(host, 'static', runs, 'static') : null;

    const pitr: { minutes: number; walBytes: number; ms: number }[] = [];
    for (const minutes of pitrMinutes) {
      // A fresh history snapshot, then `minutes` of writes, then a branch at their very end.
      await host.updateSource('prod', { snapshotIntervalMs: 1 });
      await host.maintainSources();
      await host.updateSource('prod', { snapshotIntervalMs: 24 * 3_600_000 });
      const startLsn = (await query<{ lsn: string }>(source.url, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn;
      progress(`point in time: ${minutes} min of pgbench writes`);
      await runChild(PGBENCH, ['-c', '4', '-j', '2', '-T', String(Math.max(1, Math.round(minutes * 60))), '-n'], source.env);
      const [{ lsn: endLsn, at }] = (await query<{ lsn: string; at: Date }>(source.url, 'SELECT pg_current_wal_lsn()::text AS lsn, now() AS at')) as [{ lsn: string; at: Date }];
      await waitReplayed(asSource(prod, source), endLsn);
      t0 = performance.now();
      await host.createBranch(`at-${minutes}m`, { origin: { kind: 'parent', parent: 'prod', at: { kind: 'time', time: new Date(at.getTime() - 1000).toISOString() } } });
      await query((await host.connectionInfo(`at-${minutes}m`)).url, 'SELECT count(*) FROM pgbench_branches');
      const ms = performance.now() - t0;
      pitr.push({ minutes, walBytes: lsnDiff(endLsn, startLsn), ms });
      progress(`  branch at T: ${fmtMs(ms)} for ${fmtBytes(lsnDiff(endLsn, startLsn))} of WAL`);
      await host.deleteBranch(`at-${minutes}m`);
    }
    const status = await host.sourceStatus('prod');

    const report = {
      machine: { cpus: cpus().length, loadStart, loadEnd: loadavg().map((l) => l.toFixed(2)) },
      source: { major: sourceMajor, databaseBytes: Number(bytes), scale },
      freshMain: { followMs, logicalMs, refreshMs },
      lag: {
        markers: lag.visibleMs.length,
        visibleP50Ms: percentile(lag.visibleMs, 50),
        visibleP99Ms: percentile(lag.visibleMs, 99),
        bytesP50: percentile(lag.lagBytes.length ? lag.lagBytes : [0], 50),
        bytesP99: percentile(lag.lagBytes.length ? lag.lagBytes : [0], 99),
      },
      branchReady: { followingP50Ms: median(fromFollowing), followingAfterCheckpointP50Ms: median(afterCheckpoint), staticP50Ms: fromStatic ? median(fromStatic) : null },
      pitr,
      historyCost: status.follow?.history ?? null,
    };
    if (args.has('json')) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [];
    out.push(`pgbranch sync benchmark — source PostgreSQL ${sourceMajor}, pgbench scale ${scale} (${fmtBytes(Number(bytes))}); ${cpus().length} CPUs, load ${report.machine.loadStart.join(' ')} → ${report.machine.loadEnd.join(' ')}`);
    out.push('');
    out.push(`fresh main, physical follow (base backup + standby):  ${fmtMs(followMs)}`);
    if (logicalMs !== null) {
      out.push(`fresh main, logical copy (pg_dump | pg_restore):      ${fmtMs(logicalMs)}  (${ratio(logicalMs, followMs)} the follow)`);
      out.push(`refresh of the logical root (new generation):         ${fmtMs(refreshMs!)}  — a following root needs none: it is always fresh`);
    }
    out.push('');
    out.push(`replication lag under pgbench -c 4 (${lag.visibleMs.length} markers): commit on source → visible on root p50 ${fmtMs(report.lag.visibleP50Ms)}, p99 ${fmtMs(report.lag.visibleP99Ms)}`);
    out.push(`  byte lag while waiting: p50 ${fmtBytes(report.lag.bytesP50)}, p99 ${fmtBytes(report.lag.bytesP99)}`);
    out.push('');
    out.push(`branch-ready (create → first query), p50 of ${runs}: from the following root ${fmtMs(report.branchReady.followingP50Ms)}` +
      (report.branchReady.staticP50Ms !== null ? `, from a static root ${fmtMs(report.branchReady.staticP50Ms)} (${ratio(report.branchReady.followingP50Ms, report.branchReady.staticP50Ms)})` : ''));
    out.push(`  from the following root right after a source checkpoint: ${fmtMs(report.branchReady.followingAfterCheckpointP50Ms)} (a branch of a standby replays the WAL since the source's last checkpoint)`);
    out.push('');
    out.push('branch at a time T (clone of the newest history snapshot + WAL replay to T):');
    for (const p of pitr) out.push(`  after ${p.minutes} min of writes: ${fmtMs(p.ms)} to replay ${fmtBytes(p.walBytes)} of WAL`);
    if (report.historyCost) {
      out.push(`history window cost now: ${report.historyCost.snapshots} snapshots owning ${fmtBytes(report.historyCost.snapshotBytes ?? 0)}, archived WAL ${fmtBytes(report.historyCost.archiveBytes ?? 0)}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    await source?.stop().catch(() => undefined);
    await bench?.cleanup();
  }
}

process.exitCode = await main();
