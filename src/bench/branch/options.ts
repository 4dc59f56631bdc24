/** Command-line options of the branch benchmark. */

export interface Options {
  readonly sizesGiB: readonly number[];
  /** Branch create runs per size (domain API). */
  readonly runs: number;
  /** Branch create runs through the CLI (one process per create). */
  readonly cliRuns: number;
  /** Creates that claim a warm clone (config `warm`); undefined: as many as --runs. */
  readonly warmRuns: number | undefined;
  /** Creates while pgbench -c 4 writes to the parent, per checkpoint threshold (0 skips). */
  readonly loadRuns: number;
  /** dist/ of another build (e.g. the previous release): its creates are measured on the same host and parent. */
  readonly baselineDist: string | undefined;
  /** undefined: 3 per size. */
  readonly templateRuns: number | undefined;
  /** undefined: 3 for sizes ≤ 1.5 GiB, 2 above (a 4 GiB dump | restore takes minutes). */
  readonly dumpRuns: number | undefined;
  readonly pgMajor: number;
  /** What-if runs: the same creates on a host whose instances start with other settings. */
  readonly breakdown: boolean;
  readonly json: boolean;
  /** Cap every measured branch (switches btrfs quotas on: what qgroup accounting costs). */
  readonly maxOwnBytes: number | undefined;
}

export const USAGE = `usage: node dist/bench/branch-bench.js [options]
  --sizes LIST          parent sizes in GiB, comma separated (default 1,4)
  --runs N              branch create → first query runs per size (default 5)
  --cli-runs N          the same through one CLI process per create (default 3; 0 skips)
  --warm-runs N         creates claiming a warm clone made just before (default: --runs; 0 skips)
  --baseline-dist DIR   also measure the creates of another build's dist/ (e.g. an older commit's)
                        on the same host and parents, right after this build's
  --load-runs N         creates while pgbench -c 4 writes to the parent, with the parent CHECKPOINT
                        past 4 MiB of WAL (default), always, and never (default 0: skipped)
  --template-runs N     CREATE DATABASE … STRATEGY FILE_COPY runs per size (default 3)
  --dump-runs N         pg_dump | pg_restore runs per size (default 3 up to 1.5 GiB, 2 above; 0 skips)
  --pg-major N          server major for the benchmark host (default 15: Debian's, so that
                        pg_dump 15 can dump it; 18 = bundled, skips pg_dump | pg_restore)
  --breakdown / --no-breakdown
                        also time a create whose instances start with other server settings
                        (what-if runs; default on). The step breakdown of the measured creates
                        is always printed: it is traced on the real create path
  --json                print the results as JSON instead of tables
  --max-own-bytes MIB   create the measured branches with this size cap in MiB, which switches
                        btrfs quotas (qgroups) on: compare with a run without it
`;

export function parseOptions(argv: readonly string[]): Options {
  let sizes = [1, 4];
  let runs = 5;
  let cliRuns = 3;
  let warmRuns: number | undefined;
  let loadRuns = 0;
  let baselineDist: string | undefined;
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
      case '--warm-runs':
        warmRuns = count(flag, value(), 0);
        break;
      case '--baseline-dist':
        baselineDist = value();
        if (!baselineDist) throw new UsageError('--baseline-dist needs a directory');
        break;
      case '--load-runs':
        loadRuns = count(flag, value(), 0);
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
  return { sizesGiB: [...new Set(sizes)].sort((a, b) => a - b), runs, cliRuns, warmRuns, loadRuns, baselineDist, templateRuns, dumpRuns, pgMajor, breakdown, json, maxOwnBytes };
}

export class UsageError extends Error {}
