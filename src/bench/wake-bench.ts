/**
 * Wake benchmark: scale to zero as a client sees it. A branch is suspended (its instance
 * stopped), then a new connection through the Postgres endpoint sends SELECT 1; the time from
 * connect() to the answer is the wake latency. For reference the same is measured against the
 * running branch (warm: new connection + SELECT 1 through the endpoint).
 *
 * Runs on a throwaway host (sparse loop-mounted btrfs pool in a temp dir, removed at the end, also
 * on failure and SIGINT/SIGTERM). Progress goes to stderr, the result to stdout.
 *
 *   npm run bench:wake -- [--runs 10] [--scale 10] [--pg-major N] [--json]
 */
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { createProxyServer, type BranchRouter } from '../proxy/index.js';
import { createBenchHost, libpqEnv, parseArgs, percentile, positiveInt, progress, runChild, type BenchHost } from './bench-support.js';

const USAGE = `usage: node dist/bench/wake-bench.js [options]
  --runs N        suspended → first answer runs (default 10; plus as many warm connections)
  --scale N       pgbench scale of the branch's data (default 10, ~150 MiB)
  --pg-major N    server major (default: the bundled one)
  --json          print the results as JSON
`;

const WAKE_P50_GOAL_MS = 250;

interface Sample {
  /** connect() → SELECT 1 answered. */
  readonly totalMs: number;
  /** Of which the router's openSession (the wake itself, as the endpoint waits for it). */
  readonly openSessionMs: number;
}

async function firstAnswer(url: string): Promise<number> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 30_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return performance.now() - started;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;

async function main(): Promise<number> {
  let args: Map<string, string>;
  try {
    args = parseArgs(process.argv.slice(2), { runs: 'value', scale: 'value', 'pg-major': 'value', json: 'flag' }, USAGE);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the wake benchmark needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }
  const runs = positiveInt(args, 'runs', 10);
  const scale = positiveInt(args, 'scale', 10);
  const pgMajor = args.has('pg-major') ? positiveInt(args, 'pg-major', 18) : undefined;

  let bench: BenchHost | undefined;
  let proxy: ReturnType<typeof createProxyServer> | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: 8, init: pgMajor ? { pgMajor } : {} });
    const { host } = bench;
    let lastOpenSessionMs = 0;
    // The host is the router; this only times its openSession for the breakdown.
    const router: BranchRouter = {
      async openSession(branch) {
        const started = performance.now();
        try {
          return await host.openSession(branch);
        } finally {
          lastOpenSessionMs = performance.now() - started;
        }
      },
    };
    proxy = createProxyServer({ router, publicHost: 'localhost', drainTimeoutMs: 1_000 });
    const port = await proxy.listen('127.0.0.1', 0);
    host.setBoundEndpoint(port);

    progress(`creating branch "sleepy" with pgbench -i -s ${scale} data`);
    await host.createBranch('sleepy', { origin: { kind: 'parent', parent: 'main' } });
    const info = await host.connectionInfo('sleepy');
    await runChild('/usr/bin/pgbench', ['-i', '-s', String(scale), '-q'], libpqEnv({ PGHOST: '127.0.0.1', PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password, PGDATABASE: info.database }));
    const { stdout: version } = await runChild('/usr/bin/psql', ['-X', '-A', '-t', '-c', 'SHOW server_version'], libpqEnv({ PGHOST: '127.0.0.1', PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password, PGDATABASE: info.database }));
    const url = `postgresql://${encodeURIComponent(info.endpoint!.user)}:${encodeURIComponent(info.password)}@127.0.0.1:${port}/${encodeURIComponent(info.database)}`;

    const warm: Sample[] = [];
    const cold: Sample[] = [];
    progress('warm-up: one suspend → wake and one warm connection (not counted)');
    await host.suspendBranch('sleepy');
    await firstAnswer(url);
    await firstAnswer(url);
    for (let i = 0; i < runs; i++) {
      const w = await firstAnswer(url);
      warm.push({ totalMs: w, openSessionMs: lastOpenSessionMs });
      const view = await host.suspendBranch('sleepy');
      if (view.state !== 'suspended') throw new Error(`branch is ${view.state} after suspendBranch`);
      const c = await firstAnswer(url);
      const after = await host.getBranch('sleepy');
      if (after.state !== 'running') throw new Error(`branch is ${after.state} after the first query`);
      cold.push({ totalMs: c, openSessionMs: lastOpenSessionMs });
      progress(`run ${i + 1}/${runs}: suspended → answered in ${ms(c)} (of which wake ${ms(lastOpenSessionMs)}); warm connection ${ms(w)}`);
    }

    const summarise = (samples: readonly Sample[]) => ({
      p50Ms: percentile(samples.map((s) => s.totalMs), 50),
      p90Ms: percentile(samples.map((s) => s.totalMs), 90),
      minMs: Math.min(...samples.map((s) => s.totalMs)),
      maxMs: Math.max(...samples.map((s) => s.totalMs)),
      openSessionP50Ms: percentile(samples.map((s) => s.openSessionMs), 50),
    });
    const coldStats = summarise(cold);
    const warmStats = summarise(warm);
    const pass = coldStats.p50Ms <= WAKE_P50_GOAL_MS;
    const machine = `${cpus().length} CPUs, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`;
    if (args.has('json')) {
      process.stdout.write(`${JSON.stringify({ server: version.trim(), machine, runs, scale, cold: coldStats, warm: warmStats, samples: { cold, warm }, goal: { p50Ms: WAKE_P50_GOAL_MS, pass } }, null, 2)}\n`);
    } else {
      const out: string[] = [];
      out.push(`pgbranch wake benchmark — PostgreSQL ${version.trim()}, branch with pgbench scale ${scale}, ${runs} runs`);
      out.push(`machine: ${machine}`);
      out.push('measured: new connection through the endpoint (node-postgres, SCRAM) → SELECT 1 answered');
      out.push('');
      const rows = [
        ['', 'p50', 'p90', 'min', 'max', 'of which openSession (p50)'],
        ['suspended → first answer', ms(coldStats.p50Ms), ms(coldStats.p90Ms), ms(coldStats.minMs), ms(coldStats.maxMs), ms(coldStats.openSessionP50Ms)],
        ['running (warm) connection', ms(warmStats.p50Ms), ms(warmStats.p90Ms), ms(warmStats.minMs), ms(warmStats.maxMs), ms(warmStats.openSessionP50Ms)],
      ];
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows) out.push(`  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}`);
      out.push(`  samples (suspended → first answer): ${cold.map((s) => Math.round(s.totalMs)).join(', ')} ms`);
      out.push('');
      out.push('goals:');
      out.push(`  ${pass ? 'PASS' : 'MISS'}  suspended → first answer p50 ≤ ${WAKE_P50_GOAL_MS} ms: ${ms(coldStats.p50Ms)}`);
      process.stdout.write(`${out.join('\n')}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    await proxy?.close().catch(() => undefined);
    await bench?.cleanup();
  }
}

process.exitCode = await main();
