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
 * The steps of each create are traced on the real create path (the crash points it passes, see
 * src/branches/crash-points.ts), not replayed. The parts live in ./branch/: options, measuring,
 * baselines, the report.
 *
 *   npm run bench:branch -- [--sizes 1,4] [--runs 5] [--template-runs N] [--dump-runs N]
 *                           [--cli-runs 3] [--pg-major 15|18] [--no-breakdown] [--json]
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { clientTools, resolveBinaries } from '../postgres/index.js';
import { createBenchHost, progress, type BenchHost } from './bench-support.js';
import { measureDump, measureTemplate } from './branch/baselines.js';
import { branchSafe, fmtMs, GIB, round1, settlePool, settleWriteback, sizeLabel, withTcp } from './branch/common.js';
import { buildParent, mergeResults, measureBranch, measureCli, measureUnderLoad, measureWarm, measureWhatIf, whatIfCandidates, type BranchResult, type UnderLoad, type WhatIf } from './branch/measure.js';
import { parseOptions, USAGE, UsageError, type Options } from './branch/options.js';
import { evaluate, renderText, type Report, type SizeResult } from './branch/report.js';

const startedAt = performance.now();
const loadAvg = (): number[] => loadavg().map((l) => Math.round(l * 100) / 100);
const loadStart = loadAvg();

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

  let bench: BenchHost | undefined;
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
      const synced = performance.now();
      await settleWriteback(bench);
      progress(`${parent.name}: written back to disk in ${fmtMs(performance.now() - synced)} (before measuring)`);

      const capped = opts.maxOwnBytes !== undefined ? { maxOwnBytes: opts.maxOwnBytes } : {};
      let branch;
      let baseline: SizeResult['baseline'];
      if (!opts.baselineDist) {
        progress(`${parent.name}: branch create → first query, ${opts.runs} runs + 1 warm-up`);
        branch = await measureBranch(bench, host, parent, opts.runs, capped);
      } else {
        // The other build opens the same home (the state and config it knows are the same; keys it
        // does not know are ignored) and makes its creates from the same parent, one run of each
        // in turn (each after an uncounted warm-up create), so that both see the same load.
        const base = (await import(pathToFileURL(join(resolve(opts.baselineDist), 'branches', 'index.js')).href)) as typeof import('../branches/index.js');
        const baseHost = await base.Host.open({ home: bench.home });
        const ours: BranchResult[] = [];
        const theirs: BranchResult[] = [];
        try {
          progress(`${parent.name}: branch create → first query, this build and ${opts.baselineDist} in turn, ${opts.runs} runs each`);
          for (let i = 0; i < opts.runs; i++) {
            ours.push(await measureBranch(bench, host, parent, 1, capped));
            theirs.push(await measureBranch(bench, baseHost, parent, 1, { ...capped, label: 'baseline', trace: base.traceSteps }));
          }
        } finally {
          baseHost.close();
        }
        branch = mergeResults(ours);
        baseline = { dist: opts.baselineDist, branch: mergeResults(theirs) };
      }

      const warmRuns = opts.warmRuns ?? opts.runs;
      let warm: SizeResult['warm'] = { skipped: '--warm-runs 0' };
      if (warmRuns > 0) {
        progress(`${parent.name}: create claiming a warm clone → first query, ${warmRuns} runs + 1 warm-up`);
        warm = await measureWarm(bench, parent, warmRuns);
      }

      let cli: SizeResult['cli'] = { skipped: '--cli-runs 0' };
      if (opts.cliRuns > 0) {
        progress(`${parent.name}: branch create through the CLI, ${opts.cliRuns} runs`);
        cli = await measureCli(bench, host, parent, opts.cliRuns);
      }

      const whatIfs: WhatIf[] = [];
      if (opts.breakdown) {
        for (const candidate of whatIfCandidates(binaries.major)) {
          progress(`${parent.name}: what-if ${candidate.label}, ${opts.runs} runs + 1 warm-up`);
          whatIfs.push(await measureWhatIf(bench, parent, opts.runs, candidate));
        }
      }

      const underLoad: UnderLoad[] = [];
      if (opts.loadRuns > 0) {
        for (const [label, threshold] of [
          ['CHECKPOINT past 4 MiB of WAL (default)', 4 * 1024 * 1024],
          ['CHECKPOINT on every create (checkpointAboveWalBytes 0)', 0],
          ['no CHECKPOINT (the child replays all WAL since the last one)', 1024 ** 4],
        ] as const) {
          progress(`${parent.name}: under pgbench -c 4 -j 2 load, ${label}, ${opts.loadRuns} runs + 1 warm-up`);
          underLoad.push(await measureUnderLoad(bench, parent, opts.loadRuns, pgbench, label, threshold));
          await settlePool(bench);
        }
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
        ...(baseline ? { baseline } : {}),
        warm,
        cli,
        template,
        ...(templateClone !== undefined ? { templateClone } : {}),
        dump,
        whatIfs,
        underLoad,
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
