/**
 * Endpoint benchmark: what the Postgres endpoint costs on the hot path, next to what users would
 * put in front of PostgreSQL instead. pgbench select-only (`-S`, one primary-key lookup per
 * transaction: the workload where a relay's per-message overhead shows most) runs against a
 * branch directly, through PgBouncer (Debian's, session mode, started here on loopback with a
 * generated config in a temp dir, pointing at the same instance) and through the endpoint
 * (running in this process), for the simple and the prepared protocol, optionally with TLS on
 * the client side of both proxies.
 *
 * The machine is usually shared, so the paths are interleaved: each round runs every path once,
 * the order rotating from round to round, and the ratios (endpoint/PgBouncer, endpoint/direct)
 * are taken between medians of the same rounds. The load average is printed with the results.
 *
 * Everything runs on a throwaway host (sparse loop-mounted btrfs pool in a temp dir, removed at
 * the end, also on failure and SIGINT/SIGTERM). Progress goes to stderr, the result to stdout.
 *
 * The saturated runs use every core (pgbench, postgres and the proxy compete for them), so they
 * show a proxy's CPU cost as lost throughput. A second set runs at a fixed rate (`-R`), below
 * saturation, where the added latency is what one client would notice.
 *
 *   npm run bench:proxy -- [--scale 10] [--seconds 15] [--rounds 3] [--clients 4] [--threads 2]
 *                          [--modes simple,prepared] [--rate 2000] [--tls] [--no-pgbouncer]
 *                          [--pg-major N] [--json]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { ensureOsUser, findFreePort } from '../postgres/index.js';
import { createProxyServer, ensureCertificate } from '../proxy/index.js';
import { waitFor } from '../util/index.js';
import { createBenchHost, libpqEnv, median, parseArgs, positiveInt, progress, runChild, type BenchHost } from './bench-support.js';

const USAGE = `usage: node dist/bench/proxy-bench.js [options]
  --scale N        pgbench scale of the branch (default 10, ~150 MiB)
  --seconds N      length of one pgbench run (default 15)
  --rounds N       rounds per mode; each runs every path once, order rotating (default 3)
  --clients N      pgbench -c (default 4)
  --threads N      pgbench -j (default 2)
  --modes LIST     pgbench -M modes, comma separated (default simple,prepared)
  --rate N         TPS of the fixed-rate latency runs (-R, simple protocol; default 2000; 0 skips)
  --tls            also measure both proxies with TLS on the client side (sslmode=require)
  --no-pgbouncer   leave PgBouncer out (it is the yardstick: install it with apt-get install pgbouncer)
  --pg-major N     server major (default: the bundled one)
  --json           print the results as JSON
`;

/** The endpoint should relay at least as fast as PgBouncer, and add at most this below saturation. */
const VS_PGBOUNCER_GOAL = 1.0;
const ADDED_LATENCY_GOAL_MS = 0.1;
const PGBENCH = '/usr/bin/pgbench';
const PGBOUNCER = '/usr/sbin/pgbouncer';

type Path = 'direct' | 'pgbouncer' | 'endpoint' | 'pgbouncer+tls' | 'endpoint+tls';
/** The yardstick of each endpoint path. */
const YARDSTICK: Partial<Record<Path, Path>> = { endpoint: 'pgbouncer', 'endpoint+tls': 'pgbouncer+tls' };

interface RunResult {
  readonly tps: number;
  readonly latencyMs: number;
  /** CPU time of the proxy on this path (this process or PgBouncer) per transaction, in µs. */
  readonly proxyCpuUsPerTx: number | undefined;
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
const signed = (ms: number): string => `${ms >= 0 ? '+' : ''}${ms.toFixed(3)} ms`;
const loadNow = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface PgBouncer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * PgBouncer on loopback in session mode, in front of the branch's instance, as the unprivileged
 * instance user (it refuses root). Its config and auth file (mode 0600: it holds the password,
 * which PgBouncer needs to answer the server's SCRAM exchange) live in `dir`.
 */
async function startPgBouncer(options: { dir: string; backendPort: number; user: string; password: string; tls: { certFile: string; keyFile: string } | undefined }): Promise<PgBouncer> {
  const osUser = await ensureOsUser();
  const { dir } = options;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const port = await findFreePort();
  const quote = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  const authFile = join(dir, 'users.txt');
  await writeFile(authFile, `${quote(options.user)} ${quote(options.password)}\n`, { mode: 0o600 });
  const tlsLines = options.tls
    ? [`client_tls_sslmode = allow`, `client_tls_cert_file = ${options.tls.certFile}`, `client_tls_key_file = ${options.tls.keyFile}`]
    : [];
  const config = [
    '[databases]',
    `* = host=127.0.0.1 port=${options.backendPort}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${authFile}`,
    'pool_mode = session',
    'max_client_conn = 200',
    'default_pool_size = 50',
    'logfile =',
    'pidfile =',
    'log_connections = 0',
    'log_disconnections = 0',
    ...tlsLines,
    '',
  ].join('\n');
  const configFile = join(dir, 'pgbouncer.ini');
  await writeFile(configFile, config, { mode: 0o600 });
  for (const f of [dir, authFile, configFile]) await chown(f, osUser.uid, osUser.gid);
  if (options.tls) {
    // PgBouncer reads the key as the instance user.
    for (const f of [options.tls.certFile, options.tls.keyFile]) await chown(f, osUser.uid, osUser.gid);
  }

  const child: ChildProcess = spawn(PGBOUNCER, [configFile], { uid: osUser.uid, gid: osUser.gid, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exited: string | undefined;
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = signal ?? `exit ${code}`;
      resolve();
    }),
  );
  child.once('error', (err) => (exited = err.message));
  // Also when the benchmark is interrupted (bench-support's SIGINT handler calls process.exit).
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (exited === undefined) {
      child.kill('SIGTERM');
      await exitedPromise;
    }
  };
  try {
    await waitFor(
      () => {
        if (exited !== undefined) throw new Error(`pgbouncer stopped (${exited}): ${stderr.trim().split('\n').slice(-5).join('\n')}`);
        return new Promise<true | undefined>((resolve) => {
          const probe = connect({ host: '127.0.0.1', port });
          probe.once('connect', () => {
            probe.destroy();
            resolve(true);
          });
          probe.once('error', () => resolve(undefined));
        });
      },
      { timeoutMs: 15_000, intervalMs: 50, what: `pgbouncer listening on 127.0.0.1:${port}` },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, pid: child.pid!, stop };
}

async function main(): Promise<number> {
  let args: Map<string, string>;
  try {
    args = parseArgs(
      process.argv.slice(2),
      { scale: 'value', seconds: 'value', rounds: 'value', clients: 'value', threads: 'value', modes: 'value', rate: 'value', tls: 'flag', 'no-pgbouncer': 'flag', 'pg-major': 'value', json: 'flag' },
      USAGE,
    );
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the endpoint benchmark needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }
  const withPgBouncer = !args.has('no-pgbouncer');
  if (withPgBouncer) {
    if (!existsSync(PGBOUNCER)) {
      process.stderr.write(`error: ${PGBOUNCER} not found: install it (apt-get install pgbouncer; on a host with systemd also systemctl disable --now pgbouncer, whose service takes port 6432) or pass --no-pgbouncer\n`);
      return 2;
    }
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
  let pgbouncer: PgBouncer | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: 8, init: pgMajor ? { pgMajor } : {} });
    const { host } = bench;
    const tlsFiles = { certFile: join(bench.dir, 'tls', 'server.crt'), keyFile: join(bench.dir, 'tls', 'server.key') };
    const cert = withTls ? await ensureCertificate({ ...tlsFiles, hostNames: ['localhost', '*.localhost'], ips: ['127.0.0.1'] }) : undefined;
    if (withTls) await chmod(join(bench.dir, 'tls'), 0o755);
    proxy = createProxyServer({ router: host, publicHost: 'localhost', drainTimeoutMs: 1_000, tls: cert });
    const proxyPort = await proxy.listen('127.0.0.1', 0);
    host.setBoundEndpoint(proxyPort);

    progress(`creating branch "bench" and running pgbench -i -s ${scale} on it`);
    await host.createBranch('bench', { origin: { kind: 'parent', parent: 'main' } });
    const info = await host.connectionInfo('bench');
    // Held for the whole run, so that the branch is never suspended between runs.
    const session = await host.openSession('bench');
    if (withPgBouncer) {
      progress('starting PgBouncer (session mode) in front of the same instance');
      pgbouncer = await startPgBouncer({ dir: join(bench.dir, 'pgbouncer'), backendPort: info.port, user: info.user, password: info.password, tls: withTls ? tlsFiles : undefined });
    }
    const base = { PGHOST: '127.0.0.1', PGPASSWORD: info.password, PGDATABASE: info.database };
    const targets: Partial<Record<Path, NodeJS.ProcessEnv>> = {
      direct: libpqEnv({ ...base, PGPORT: String(info.port), PGUSER: info.user, PGSSLMODE: 'disable' }),
      endpoint: libpqEnv({ ...base, PGPORT: String(proxyPort), PGUSER: info.endpoint!.user, PGSSLMODE: 'disable' }),
    };
    if (pgbouncer) targets.pgbouncer = libpqEnv({ ...base, PGPORT: String(pgbouncer.port), PGUSER: info.user, PGSSLMODE: 'disable' });
    if (withTls) {
      targets['endpoint+tls'] = libpqEnv({ ...base, PGPORT: String(proxyPort), PGUSER: info.endpoint!.user, PGSSLMODE: 'require' });
      if (pgbouncer) targets['pgbouncer+tls'] = libpqEnv({ ...base, PGPORT: String(pgbouncer.port), PGUSER: info.user, PGSSLMODE: 'require' });
    }
    const paths = (['direct', 'pgbouncer', 'endpoint', 'pgbouncer+tls', 'endpoint+tls'] as const).filter((p) => targets[p] !== undefined);
    await runChild(PGBENCH, ['-i', '-s', String(scale), '-q'], targets.direct!);
    const { stdout: version } = await runChild('/usr/bin/psql', ['-X', '-A', '-t', '-c', 'SHOW server_version'], targets.direct!);

    const proxyCpu = (path: Path): (() => number) | undefined => {
      if (path.startsWith('endpoint')) {
        return () => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1e6;
        };
      }
      if (path.startsWith('pgbouncer') && pgbouncer) {
        const pid = pgbouncer.pid;
        return () => processCpuSeconds(pid);
      }
      return undefined;
    };
    const run = async (path: Path, mode: string, fixedRate = 0): Promise<RunResult> => {
      const cpu = proxyCpu(path);
      const cpuBefore = cpu?.();
      const rateArgs = fixedRate > 0 ? ['-R', String(fixedRate)] : [];
      const { stdout } = await runChild(PGBENCH, ['-S', '-n', '-M', mode, '-c', String(clients), '-j', String(threads), '-T', String(seconds), ...rateArgs], targets[path]!);
      const parsed = parsePgbench(stdout);
      const proxyCpuUsPerTx = cpu && cpuBefore !== undefined ? ((cpu() - cpuBefore) * 1e6) / (parsed.tps * seconds) : undefined;
      return { ...parsed, proxyCpuUsPerTx };
    };
    /** Every path once per round; the order rotates, so that no path always runs first or last. */
    const interleaved = async (label: string, mode: string, fixedRate: number): Promise<Record<Path, RunResult[]>> => {
      const runs = Object.fromEntries(paths.map((p) => [p, [] as RunResult[]])) as Record<Path, RunResult[]>;
      for (let round = 0; round < rounds; round++) {
        const order = paths.map((_, i) => paths[(i + round) % paths.length]!);
        for (const path of order) {
          progress(`${label}, round ${round + 1}/${rounds}: ${path}, ${seconds} s (load ${loadNow()})`);
          const r = await run(path, mode, fixedRate);
          runs[path].push(r);
          const cpuNote = r.proxyCpuUsPerTx === undefined ? '' : `, proxy CPU ${r.proxyCpuUsPerTx.toFixed(1)} µs/tx`;
          progress(`  ${fmt(r.tps)} tps, ${r.latencyMs.toFixed(3)} ms average latency${cpuNote}`);
        }
      }
      return runs;
    };

    progress('warm-up: 3 s on every path');
    for (const path of paths) await runChild(PGBENCH, ['-S', '-n', '-c', String(clients), '-j', String(threads), '-T', '3'], targets[path]!);

    const loadBefore = loadNow();
    const saturated: { mode: string; runs: Record<Path, RunResult[]> }[] = [];
    for (const mode of modes) saturated.push({ mode, runs: await interleaved(`-M ${mode}`, mode, 0) });
    const fixed = rate > 0 ? await interleaved(`-R ${rate} (fixed rate)`, 'simple', rate) : undefined;
    const loadAfter = loadNow();
    session.release();

    const medians = (runs: RunResult[]): { tps: number; latencyMs: number; proxyCpuUsPerTx: number | undefined } => ({
      tps: median(runs.map((x) => x.tps)),
      latencyMs: median(runs.map((x) => x.latencyMs)),
      proxyCpuUsPerTx: runs[0]?.proxyCpuUsPerTx === undefined ? undefined : median(runs.map((x) => x.proxyCpuUsPerTx!)),
    });
    const goals: { goal: string; actual: string; pass: boolean }[] = [];
    const summary = saturated.map(({ mode, runs }) => {
      const direct = medians(runs.direct);
      const perPath = paths.map((path) => {
        const m = medians(runs[path]);
        const yardstick = YARDSTICK[path];
        const vsPgBouncer = yardstick && targets[yardstick] ? m.tps / medians(runs[yardstick]).tps : undefined;
        return { path, ...m, vsDirect: m.tps / direct.tps, vsPgBouncer, runs: runs[path] };
      });
      for (const p of perPath) {
        if (p.vsPgBouncer === undefined) continue;
        goals.push({ goal: `-M ${mode}: ${p.path} TPS ≥ ${VS_PGBOUNCER_GOAL.toFixed(2)}× ${YARDSTICK[p.path]}`, actual: `${p.vsPgBouncer.toFixed(2)}×`, pass: p.vsPgBouncer >= VS_PGBOUNCER_GOAL });
      }
      return { mode, paths: perPath };
    });
    const fixedSummary = fixed ? paths.map((path) => ({ path, ...medians(fixed[path]), runs: fixed[path] })) : [];
    if (fixed) {
      const directMs = fixedSummary.find((f) => f.path === 'direct')!.latencyMs;
      for (const f of fixedSummary) {
        if (!f.path.startsWith('endpoint')) continue;
        const added = f.latencyMs - directMs;
        goals.push({ goal: `-R ${rate} (below saturation): ${f.path} adds ≤ ${ADDED_LATENCY_GOAL_MS} ms average latency`, actual: signed(added), pass: added <= ADDED_LATENCY_GOAL_MS });
      }
    }

    const machine = `${cpus().length} CPUs, node ${process.version}, load average ${loadBefore} before the measured runs, ${loadAfter} after`;
    if (args.has('json')) {
      process.stdout.write(`${JSON.stringify({ server: version.trim(), machine, scale, seconds, rounds, clients, threads, summary, fixedRate: { rate, paths: fixedSummary }, goals }, null, 2)}\n`);
      return 0;
    }
    const out: string[] = [];
    out.push(`pgbranch endpoint benchmark — PostgreSQL ${version.trim()}, pgbench -S -c ${clients} -j ${threads} -T ${seconds}, scale ${scale}, ${rounds} interleaved rounds (medians)`);
    out.push(`machine: ${machine}`);
    out.push('the endpoint runs in the benchmark process, PgBouncer (session mode) as its own process; pgbench, postgres and the proxy share the cores');
    out.push('proxy CPU/tx: CPU time of the proxy per transaction (for the endpoint: of the whole benchmark process, host included)');
    if (Math.max(...loadavg()) > cpus().length) {
      out.push(`note: the machine was busy (load average above ${cpus().length}): TPS varies from run to run with the other load; proxy CPU/tx is the steadier comparison`);
    }
    const table = (rows: string[][]): void => {
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows) out.push(`  ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')}`.trimEnd());
    };
    const cpuCell = (us: number | undefined): string => (us === undefined ? '' : `${us.toFixed(1)} µs`);
    for (const s of summary) {
      out.push('');
      out.push(`-M ${s.mode}`);
      const rows: string[][] = [['path', 'TPS (median)', 'runs', 'avg latency', 'vs direct', 'vs PgBouncer', 'proxy CPU/tx']];
      for (const p of s.paths) {
        rows.push([
          p.path,
          fmt(p.tps),
          p.runs.map((x) => fmt(x.tps)).join(' / '),
          `${p.latencyMs.toFixed(3)} ms`,
          p.path === 'direct' ? '' : `${p.vsDirect.toFixed(2)}×`,
          p.vsPgBouncer === undefined ? '' : `${p.vsPgBouncer.toFixed(2)}×`,
          cpuCell(p.proxyCpuUsPerTx),
        ]);
      }
      table(rows);
    }
    if (fixed) {
      out.push('');
      out.push(`-M simple -R ${rate} (fixed rate, below saturation)`);
      const directMs = fixedSummary.find((f) => f.path === 'direct')!.latencyMs;
      const rows: string[][] = [['path', 'TPS', 'avg latency', 'runs', 'added', 'proxy CPU/tx']];
      for (const f of fixedSummary) {
        rows.push([
          f.path,
          fmt(f.tps),
          `${f.latencyMs.toFixed(3)} ms`,
          f.runs.map((x) => x.latencyMs.toFixed(3)).join(' / '),
          f.path === 'direct' ? '' : signed(f.latencyMs - directMs),
          cpuCell(f.proxyCpuUsPerTx),
        ]);
      }
      table(rows);
    }
    out.push('');
    out.push('goals:');
    for (const g of goals) out.push(`  ${g.pass ? 'PASS' : 'MISS'}  ${g.goal}: ${g.actual}`);
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    await pgbouncer?.stop().catch(() => undefined);
    await proxy?.close().catch(() => undefined);
    await bench?.cleanup();
  }
}

process.exitCode = await main();
