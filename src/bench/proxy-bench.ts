/**
 * Endpoint benchmark: what the Postgres endpoint costs on the hot path. pgbench select-only
 * (`-S`, one primary-key lookup per transaction: the workload where a relay's per-message
 * overhead shows most) runs against a branch directly and through the endpoint, alternating in
 * the same run, for the simple and the prepared protocol; the endpoint runs in this process.
 *
 * Everything runs on a throwaway host (sparse loop-mounted btrfs pool in a temp dir, removed at
 * the end, also on failure and SIGINT/SIGTERM). Progress goes to stderr, the result to stdout.
 *
 * The saturated runs use every core (pgbench, postgres and the endpoint compete for them), so
 * they show the endpoint's CPU cost as lost throughput. A second set runs at a fixed rate
 * (`-R`), below saturation, where the difference in latency is what one client would notice.
 *
 *   npm run bench:proxy -- [--scale 10] [--seconds 15] [--rounds 3] [--clients 4] [--threads 2]
 *                          [--modes simple,prepared] [--rate 2000] [--tls] [--pg-major N] [--json]
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createProxyServer, ensureCertificate } from '../proxy/index.js';
import { createBenchHost, libpqEnv, median, parseArgs, positiveInt, progress, runChild, type BenchHost } from './bench-support.js';

const USAGE = `usage: node dist/bench/proxy-bench.js [options]
  --scale N       pgbench scale of the branch (default 10, ~150 MiB)
  --seconds N     length of one pgbench run (default 15)
  --rounds N      direct/endpoint pairs per mode, order alternating (default 3)
  --clients N     pgbench -c (default 4)
  --threads N     pgbench -j (default 2)
  --modes LIST    pgbench -M modes, comma separated (default simple,prepared)
  --rate N        TPS of the fixed-rate latency runs (-R, simple protocol; default 2000; 0 skips)
  --tls           also measure the endpoint with TLS (sslmode=require)
  --pg-major N    server major (default: the bundled one)
  --json          print the results as JSON
`;

const TPS_GOAL = 0.9;
const ADDED_LATENCY_GOAL_MS = 0.2;
const PGBENCH = '/usr/bin/pgbench';

type Path = 'direct' | 'endpoint' | 'endpoint+tls';

interface RunResult {
  readonly tps: number;
  readonly latencyMs: number;
  /** CPU time of this process (the endpoint) per second of the run, in % of one core. */
  readonly endpointCpuPercent: number;
}

interface ModeResult {
  readonly mode: string;
  readonly runs: Record<Path, RunResult[]>;
}

function parsePgbench(stdout: string): { tps: number; latencyMs: number } {
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(stdout)?.[1];
  const failed = /number of failed transactions: (\d+)/.exec(stdout)?.[1];
  if (!tps || !latency) throw new Error(`cannot read pgbench output:\n${stdout}`);
  if (failed !== undefined && failed !== '0') throw new Error(`pgbench reported ${failed} failed transactions`);
  return { tps: Number(tps), latencyMs: Number(latency) };
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

async function main(): Promise<number> {
  let args: Map<string, string>;
  try {
    args = parseArgs(process.argv.slice(2), { scale: 'value', seconds: 'value', rounds: 'value', clients: 'value', threads: 'value', modes: 'value', rate: 'value', tls: 'flag', 'pg-major': 'value', json: 'flag' }, USAGE);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the endpoint benchmark needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }
  const scale = positiveInt(args, 'scale', 10);
  const seconds = positiveInt(args, 'seconds', 15);
  const rounds = positiveInt(args, 'rounds', 3);
  const clients = positiveInt(args, 'clients', 4);
  const threads = positiveInt(args, 'threads', 2);
  const modes = (args.get('modes') ?? 'simple,prepared').split(',').map((m) => m.trim());
  for (const m of modes) if (!['simple', 'extended', 'prepared'].includes(m)) throw new Error(`unknown pgbench mode ${m}`);
  const pgMajor = args.has('pg-major') ? positiveInt(args, 'pg-major', 18) : undefined;
  const withTls = args.has('tls');
  const rate = args.get('rate') === '0' ? 0 : positiveInt(args, 'rate', 2000);

  let bench: BenchHost | undefined;
  let proxy: ReturnType<typeof createProxyServer> | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: 8, init: pgMajor ? { pgMajor } : {} });
    const { host } = bench;
    const cert = withTls
      ? await ensureCertificate({ certFile: join(bench.dir, 'tls', 'server.crt'), keyFile: join(bench.dir, 'tls', 'server.key'), hostNames: ['localhost', '*.localhost'], ips: ['127.0.0.1'] })
      : undefined;
    proxy = createProxyServer({ router: host, publicHost: 'localhost', drainTimeoutMs: 1_000, tls: cert });
    const proxyPort = await proxy.listen('127.0.0.1', 0);
    host.setBoundEndpoint(proxyPort);

    progress(`creating branch "bench" and running pgbench -i -s ${scale} on it`);
    await host.createBranch('bench', { origin: { kind: 'parent', parent: 'main' } });
    const info = await host.connectionInfo('bench');
    const targets: Record<Path, NodeJS.ProcessEnv> = {
      direct: libpqEnv({ PGHOST: '127.0.0.1', PGPORT: String(info.port), PGUSER: info.user, PGPASSWORD: info.password, PGDATABASE: info.database, PGSSLMODE: 'disable' }),
      endpoint: libpqEnv({ PGHOST: '127.0.0.1', PGPORT: String(proxyPort), PGUSER: info.endpoint!.user, PGPASSWORD: info.password, PGDATABASE: info.database, PGSSLMODE: 'disable' }),
      'endpoint+tls': libpqEnv({ PGHOST: '127.0.0.1', PGPORT: String(proxyPort), PGUSER: info.endpoint!.user, PGPASSWORD: info.password, PGDATABASE: info.database, PGSSLMODE: 'require' }),
    };
    await runChild(PGBENCH, ['-i', '-s', String(scale), '-q'], targets.direct);
    const { stdout: version } = await runChild('/usr/bin/psql', ['-X', '-A', '-t', '-c', 'SHOW server_version'], targets.direct);
    const paths: Path[] = withTls ? ['direct', 'endpoint', 'endpoint+tls'] : ['direct', 'endpoint'];

    const run = async (path: Path, mode: string, fixedRate = 0): Promise<RunResult> => {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const rateArgs = fixedRate > 0 ? ['-R', String(fixedRate)] : [];
      const { stdout } = await runChild(PGBENCH, ['-S', '-n', '-M', mode, '-c', String(clients), '-j', String(threads), '-T', String(seconds), ...rateArgs], targets[path]);
      const cpu = process.cpuUsage(cpuBefore);
      const wallMs = performance.now() - started;
      return { ...parsePgbench(stdout), endpointCpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100 };
    };

    progress('warm-up: 3 s direct and through the endpoint');
    for (const path of paths) await runChild(PGBENCH, ['-S', '-n', '-c', String(clients), '-j', String(threads), '-T', '3'], targets[path]);

    const results: ModeResult[] = [];
    for (const mode of modes) {
      const runs: Record<Path, RunResult[]> = { direct: [], endpoint: [], 'endpoint+tls': [] };
      for (let round = 0; round < rounds; round++) {
        // Alternate the order so that drift (caches, other load) does not favour one side.
        const order = round % 2 === 0 ? paths : [...paths].reverse();
        for (const path of order) {
          progress(`-M ${mode}, round ${round + 1}/${rounds}: ${path}, ${seconds} s`);
          const r = await run(path, mode);
          runs[path].push(r);
          progress(`  ${fmt(r.tps)} tps, ${r.latencyMs.toFixed(3)} ms average latency${path === 'direct' ? '' : `, endpoint CPU ${r.endpointCpuPercent.toFixed(0)}% of a core`}`);
        }
      }
      results.push({ mode, runs });
    }
    const fixed: Record<Path, RunResult[]> = { direct: [], endpoint: [], 'endpoint+tls': [] };
    for (let round = 0; rate > 0 && round < rounds; round++) {
      const order = round % 2 === 0 ? paths : [...paths].reverse();
      for (const path of order) {
        progress(`-R ${rate} (fixed rate), round ${round + 1}/${rounds}: ${path}, ${seconds} s`);
        const r = await run(path, 'simple', rate);
        fixed[path].push(r);
        progress(`  ${fmt(r.tps)} tps, ${r.latencyMs.toFixed(3)} ms average latency`);
      }
    }

    const goals: { goal: string; actual: string; pass: boolean }[] = [];
    const summary = results.map((r) => {
      const direct = { tps: median(r.runs.direct.map((x) => x.tps)), latencyMs: median(r.runs.direct.map((x) => x.latencyMs)) };
      const perPath = paths
        .filter((p) => p !== 'direct')
        .map((p) => {
          const tps = median(r.runs[p].map((x) => x.tps));
          const latencyMs = median(r.runs[p].map((x) => x.latencyMs));
          const cpu = median(r.runs[p].map((x) => x.endpointCpuPercent));
          return { path: p, tps, latencyMs, ratio: tps / direct.tps, addedLatencyMs: latencyMs - direct.latencyMs, endpointCpuPercent: cpu };
        });
      const plain = perPath.find((p) => p.path === 'endpoint')!;
      goals.push({ goal: `-M ${r.mode}: endpoint TPS ≥ ${TPS_GOAL * 100}% of direct`, actual: `${(plain.ratio * 100).toFixed(1)}%`, pass: plain.ratio >= TPS_GOAL });
      goals.push({
        goal: `-M ${r.mode}: added average latency ≤ ${ADDED_LATENCY_GOAL_MS} ms`,
        actual: `${plain.addedLatencyMs >= 0 ? '+' : ''}${plain.addedLatencyMs.toFixed(3)} ms`,
        pass: plain.addedLatencyMs <= ADDED_LATENCY_GOAL_MS,
      });
      return { mode: r.mode, direct, paths: perPath, runs: r.runs };
    });

    const fixedSummary =
      rate > 0
        ? paths.map((p) => ({ path: p, tps: median(fixed[p].map((x) => x.tps)), latencyMs: median(fixed[p].map((x) => x.latencyMs)), runs: fixed[p] }))
        : [];
    if (rate > 0) {
      const added = fixedSummary.find((f) => f.path === 'endpoint')!.latencyMs - fixedSummary.find((f) => f.path === 'direct')!.latencyMs;
      goals.push({
        goal: `-R ${rate} (below saturation): added average latency ≤ ${ADDED_LATENCY_GOAL_MS} ms`,
        actual: `${added >= 0 ? '+' : ''}${added.toFixed(3)} ms`,
        pass: added <= ADDED_LATENCY_GOAL_MS,
      });
    }

    const machine = `${cpus().length} CPUs, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`;
    if (args.has('json')) {
      process.stdout.write(`${JSON.stringify({ server: version.trim(), machine, scale, seconds, rounds, clients, threads, summary, fixedRate: { rate, paths: fixedSummary }, goals }, null, 2)}\n`);
    } else {
      const out: string[] = [];
      out.push(`pgbranch endpoint benchmark — PostgreSQL ${version.trim()}, pgbench -S -c ${clients} -j ${threads} -T ${seconds}, scale ${scale}, ${rounds} rounds (medians)`);
      out.push(`machine: ${machine}; endpoint in the benchmark process, pgbench and postgres on the same cores`);
      for (const s of summary) {
        out.push('');
        out.push(`-M ${s.mode}`);
        const rows: string[][] = [['path', 'TPS (median)', 'runs', 'avg latency', 'vs direct', 'added latency', 'endpoint CPU']];
        rows.push(['direct', fmt(s.direct.tps), s.runs.direct.map((x) => fmt(x.tps)).join(' / '), `${s.direct.latencyMs.toFixed(3)} ms`, '', '', '']);
        for (const p of s.paths) {
          rows.push([
            p.path,
            fmt(p.tps),
            s.runs[p.path].map((x) => fmt(x.tps)).join(' / '),
            `${p.latencyMs.toFixed(3)} ms`,
            `${(p.ratio * 100).toFixed(1)}%`,
            `${p.addedLatencyMs >= 0 ? '+' : ''}${p.addedLatencyMs.toFixed(3)} ms`,
            `${p.endpointCpuPercent.toFixed(0)}% of a core`,
          ]);
        }
        const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
        for (const r of rows) out.push(`  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}`.trimEnd());
      }
      if (rate > 0) {
        out.push('');
        out.push(`-M simple -R ${rate} (fixed rate, below saturation)`);
        const direct = fixedSummary.find((f) => f.path === 'direct')!;
        for (const f of fixedSummary) {
          const delta = f.latencyMs - direct.latencyMs;
          out.push(
            `  ${f.path.padEnd(12)}  ${fmt(f.tps).padStart(6)} tps  avg latency ${f.latencyMs.toFixed(3)} ms (runs ${f.runs.map((x) => x.latencyMs.toFixed(3)).join(' / ')})` +
              (f.path === 'direct' ? '' : `  added ${delta >= 0 ? '+' : ''}${delta.toFixed(3)} ms`),
          );
        }
      }
      out.push('');
      out.push('goals (plain endpoint):');
      for (const g of goals) out.push(`  ${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${g.actual}`);
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
