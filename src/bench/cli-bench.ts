/**
 * CLI benchmark: what a `pgbranch` process adds over the call it makes. For `branch create`,
 * `branch url` and `branch list`, each run times the whole CLI process (spawn → exit) and,
 * side by side, the same call made in this process on an open host (local mode) or through the
 * API client (remote mode, against `pgbranch serve`). The difference is the CLI's overhead: node
 * start-up, module loading, opening the host (local) — the goal is ≤ 100 ms.
 *
 * Runs on a throwaway host (sparse loop-mounted btrfs pool in a temp dir, removed at the end).
 *
 *   npm run bench:cli -- [--runs 10] [--json]
 */
import { spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Host, type BranchService } from '../branches/index.js';
import { createApiClient } from '../client/index.js';
import { startServer } from '../serve/index.js';
import { createBenchHost, parseArgs, percentile, positiveInt, progress, type BenchHost } from './bench-support.js';

const USAGE = `usage: node dist/bench/cli-bench.js [options]
  --runs N   runs per command and mode (default 10)
  --json     print the results as JSON
`;

const CLI_OVERHEAD_GOAL_MS = 100;
const CLI_BIN = join(resolve(import.meta.dirname, '../..'), 'bin', 'pgbranch.js');

/** Wall time of one CLI process, spawn to exit; fails on a non-zero exit. */
function timeCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', fail);
    child.on('close', (code) => (code === 0 ? done(performance.now() - started) : fail(new Error(`pgbranch ${args.join(' ')}: exit ${code}\n${stderr}`))));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

interface Row {
  readonly mode: 'local' | 'remote';
  readonly command: string;
  readonly cliMs: number;
  readonly domainMs: number;
  readonly overheadMs: number;
}

type Command = 'branch create' | 'branch url' | 'branch list';
const COMMANDS: readonly Command[] = ['branch create', 'branch url', 'branch list'];

/** Runs each command `runs` times through the CLI and through `service`, interleaved. */
async function measure(mode: Row['mode'], service: BranchService, cliArgs: readonly string[], env: NodeJS.ProcessEnv, runs: number, cleanup: (name: string) => Promise<void>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const command of COMMANDS) {
    const cli: number[] = [];
    const domain: number[] = [];
    // One warm-up of each (page cache, first connection), not counted.
    for (let i = 0; i <= runs; i++) {
      let c: number;
      let d: number;
      if (command === 'branch create') {
        c = await timeCli([...cliArgs, 'branch', 'create', `cli-${mode}-c${i}`, '--from', 'main', '-o', 'json', '-q'], env);
        d = await timed(() => service.createBranch(`cli-${mode}-d${i}`, { origin: { kind: 'parent', parent: 'main' } }));
        await cleanup(`cli-${mode}-c${i}`);
        await cleanup(`cli-${mode}-d${i}`);
      } else if (command === 'branch url') {
        c = await timeCli([...cliArgs, 'branch', 'url', 'main'], env);
        d = await timed(() => service.connectionInfo('main'));
      } else {
        c = await timeCli([...cliArgs, 'branch', 'list', '-o', 'json'], env);
        // The same call as the CLI's default (sizes measured).
        d = await timed(() => service.listBranches());
      }
      if (i === 0) continue;
      cli.push(c);
      domain.push(d);
    }
    const cliMs = percentile(cli, 50);
    const domainMs = percentile(domain, 50);
    rows.push({ mode, command, cliMs, domainMs, overheadMs: cliMs - domainMs });
    progress(`  ${mode} ${command}: CLI p50 ${cliMs.toFixed(1)} ms, domain p50 ${domainMs.toFixed(1)} ms, overhead ${(cliMs - domainMs).toFixed(1)} ms`);
  }
  return rows;
}

async function main(): Promise<number> {
  let args: Map<string, string>;
  try {
    args = parseArgs(process.argv.slice(2), { runs: 'value', json: 'flag' }, USAGE);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the CLI benchmark needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }
  const runs = positiveInt(args, 'runs', 10);
  let bench: BenchHost | undefined;
  try {
    bench = await createBenchHost({ poolSizeGiB: 4 });
    const home = bench.home;
    const host = bench.host;
    // Node's own start-up, the floor under any CLI.
    const floor: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t = await new Promise<number>((done, fail) => {
        const t0 = performance.now();
        spawn(process.execPath, ['-e', ''], { stdio: 'ignore' }).on('error', fail).on('close', () => done(performance.now() - t0));
      });
      if (i > 0) floor.push(t);
    }
    const nodeMs = percentile(floor, 50);
    progress(`node start-up alone: p50 ${nodeMs.toFixed(1)} ms`);

    progress('local mode (the CLI opens the host itself)');
    const local = await measure('local', host, ['--home', home], { PGBRANCH_API_URL: '' }, runs, (name) => host.deleteBranch(name));
    host.close();

    progress('remote mode (the CLI talks to pgbranch serve)');
    const server = await startServer({ home });
    let remote: Row[];
    try {
      const admin = await Host.open({ home });
      const { token } = await admin.createToken({ name: 'bench-cli', role: 'admin' }).finally(() => admin.close());
      const client = createApiClient({ baseUrl: server.apiUrl, token });
      remote = await measure('remote', client, [], { PGBRANCH_API_URL: server.apiUrl, PGBRANCH_TOKEN: token }, runs, (name) => client.deleteBranch(name));
    } finally {
      await server.stop();
    }
    const rows = [...local, ...remote];
    if (args.has('json')) {
      process.stdout.write(`${JSON.stringify({ runs, nodeStartMs: nodeMs, goalMs: CLI_OVERHEAD_GOAL_MS, rows, cpus: cpus().length, loadavg: loadavg() }, null, 2)}\n`);
    } else {
      const lines = [
        `CLI overhead over the domain call, p50 of ${runs} runs (goal ≤ ${CLI_OVERHEAD_GOAL_MS} ms); node start-up alone ${nodeMs.toFixed(1)} ms; load ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs`,
        `${'mode'.padEnd(8)}${'command'.padEnd(16)}${'CLI'.padStart(10)}${'domain'.padStart(10)}${'overhead'.padStart(10)}  goal`,
        ...rows.map(
          (r) =>
            `${r.mode.padEnd(8)}${r.command.padEnd(16)}${r.cliMs.toFixed(1).padStart(10)}${r.domainMs.toFixed(1).padStart(10)}${r.overheadMs.toFixed(1).padStart(10)}  ${r.overheadMs <= CLI_OVERHEAD_GOAL_MS ? 'met' : 'missed'}`,
        ),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    await bench?.cleanup();
  }
}

process.exitCode = await main();
