import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Host, traceSteps, type ConnectionInfo } from '../../branches/index.js';
import { median, progress, runChild, type BenchHost } from '../bench-support.js';
import { branchEnv, branchSafe, firstQuery, fmtBytes, fmtMs, GIB, MIB, settlePool, stats, withTcp, type Stats } from './common.js';
import { LOG_PHASES, logPhases, type LogPhase } from './server-log.js';

const REPO = resolve(import.meta.dirname, '../../..');
const CLI_BIN = join(REPO, 'bin', 'pgbranch.js');

// ---------------------------------------------------------------------------------------------
// Parents

/** pgbench's tables and indexes per unit of scale, and a new database's own catalog. */
const BYTES_PER_SCALE = 15.05 * MIB;
const EMPTY_DB_BYTES = 7.6 * MIB;

export interface Parent {
  readonly name: string;
  readonly scale: number;
  readonly databaseBytes: number;
  readonly buildMs: number;
  readonly info: ConnectionInfo;
}

export async function buildParent(host: Host, sizeGiB: number, pgbench: string, first: boolean): Promise<Parent> {
  const name = `main-${branchSafe(sizeGiB)}`;
  const scale = Math.max(1, Math.round((sizeGiB * GIB - EMPTY_DB_BYTES) / BYTES_PER_SCALE));
  const t0 = performance.now();
  if (!first) {
    progress(`creating root branch ${name}`);
    await host.createBranch(name, { origin: { kind: 'source', source: { kind: 'empty' } } });
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
// Branch create → first query, with its steps traced on the real create path

/**
 * The steps of a create from a running parent, between the named crash points the create passes
 * (src/branches/operations/create.ts, clone.ts): each step is the time from the boundary before
 * it to the boundary that closes it. `start` and `end` stand for the call itself.
 */
export const STEPS = [
  ['lock', 'start', 'create:intent', 'audit entry, host lock, checks, port, intent log'],
  ['prepare', 'create:intent', 'clone:ready', 'parent WAL position; CHECKPOINT only past clone.checkpointAboveWalBytes (atomic snapshot), or backup start'],
  ['clone', 'clone:ready', 'create:cloned', 'storage clone (btrfs snapshot) + size cap'],
  ['start', 'create:cloned', 'clone:after-start', 'pg_hba, lock files, postgres start → ready (crash recovery)'],
  ['password', 'clone:after-start', 'clone:password-set', 'new password (ALTER ROLE, SCRAM verifier) + branch LSN'],
  ['openTcp', 'clone:password-set', 'create:started', 'pg_hba with TCP + reload + a TCP login, alongside the branch point (btrfs snapshot)'],
  ['branchPoint', 'create:started', 'create:branch-point', '(the branch point is taken during openTcp since the overlap)'],
  ['commit', 'create:branch-point', 'create:committed', 'branch row and end of intent (SQLite)'],
  ['return', 'create:committed', 'end', 'expiry, audit entry, view'],
] as const;
export type StepName = (typeof STEPS)[number][0];

export interface BranchResult {
  readonly total: Stats;
  /** host.createBranch() alone (returns once pgbranch's own TCP login worked). */
  readonly create: Stats;
  /** connectionInfo + new connection + first query after createBranch returned. */
  readonly query: Stats;
  readonly warmupMs: number;
  readonly ownBytes: { readonly median: number; readonly max: number; readonly samples: readonly number[] };
  readonly queryRetries: number;
  /** Medians of each traced step; absent when a run did not pass every boundary. */
  readonly steps?: Record<StepName, Stats>;
  /** The new instance's own server log during its start. */
  readonly log: Partial<Record<LogPhase, Stats>>;
}

/** Traces one call: the time of every step boundary it passes. */
async function traced<T>(fn: () => Promise<T>, trace: typeof traceSteps = traceSteps): Promise<{ value: T; marks: Map<string, number> }> {
  const marks = new Map<string, number>();
  const stop = trace((point, atMs) => {
    if (!marks.has(point)) marks.set(point, atMs);
  });
  marks.set('start', performance.now());
  try {
    const value = await fn();
    marks.set('end', performance.now());
    return { value, marks };
  } finally {
    stop();
  }
}

function stepDurations(marks: ReadonlyMap<string, number>): Record<StepName, number> | undefined {
  const out: Partial<Record<StepName, number>> = {};
  for (const [name, from, to] of STEPS) {
    const a = marks.get(from);
    const b = marks.get(to);
    if (a === undefined || b === undefined) return undefined;
    out[name] = b - a;
  }
  return out as Record<StepName, number>;
}

export async function measureBranch(
  bench: BenchHost,
  host: Host,
  parent: Parent,
  runs: number,
  /** `trace`: the traceSteps of the code under test (another build's, for the baseline). */
  options: { maxOwnBytes?: number; label?: string; trace?: typeof traceSteps } = {},
): Promise<BranchResult> {
  const totals: number[] = [];
  const creates: number[] = [];
  const queries: number[] = [];
  const own: number[] = [];
  const steps = Object.fromEntries(STEPS.map(([k]) => [k, [] as number[]])) as Record<StepName, number[]>;
  const logSamples: Partial<Record<LogPhase, number[]>> = {};
  let warmupMs = 0;
  let retries = 0;
  const label = options.label ?? 'branch';
  for (let i = 0; i <= runs; i++) {
    const name = `${parent.name}-${label === 'branch' ? 'b' : label === 'baseline' ? 'o' : 'w'}${i}`;
    const { marks } = await traced(
      () => host.createBranch(name, { origin: { kind: 'parent', parent: parent.name }, ...(options.maxOwnBytes !== undefined ? { maxOwnBytes: options.maxOwnBytes } : {}) }),
      options.trace,
    );
    const t0 = marks.get('start')!;
    const t1 = marks.get('end')!;
    const info = await host.connectionInfo(name);
    const answer = await firstQuery(info.url);
    retries += answer.failures;
    const t2 = answer.answeredAt;
    // Before any user write: what the branch holds of its own (exclusive btrfs extents).
    const view = await host.getBranch(name);
    if (i === 0) {
      warmupMs = t2 - t0;
      progress(`  ${label} warm-up: ${fmtMs(warmupMs)} (not counted)`);
    } else {
      totals.push(t2 - t0);
      creates.push(t1 - t0);
      queries.push(t2 - t1);
      own.push(view.ownBytes ?? Number.NaN);
      const durations = stepDurations(marks);
      if (durations) for (const [k] of STEPS) steps[k].push(durations[k]);
      const logText = await readFile(join(bench.home, 'logs', `${view.id}.log`), 'utf8').catch(() => '');
      for (const [k, v] of Object.entries(logPhases(logText, durations?.start)) as [LogPhase, number][]) (logSamples[k] ??= []).push(v);
      const line = durations ? STEPS.map(([k]) => `${k} ${fmtMs(durations[k])}`).join(', ') : 'steps not traced';
      progress(`  ${label} run ${i}/${runs}: ${fmtMs(t2 - t0)} (createBranch ${fmtMs(t1 - t0)}: ${line}), own data ${fmtBytes(view.ownBytes ?? 0)}`);
    }
    await host.deleteBranch(name);
    await settlePool(bench);
  }
  const log: Partial<Record<LogPhase, Stats>> = {};
  for (const [k] of LOG_PHASES) if (logSamples[k]?.length) log[k] = stats(logSamples[k]);
  return {
    total: stats(totals),
    create: stats(creates),
    query: stats(queries),
    warmupMs: Math.round(warmupMs * 10) / 10,
    ownBytes: { median: median(own), max: Math.max(...own), samples: own },
    queryRetries: retries,
    ...(steps.start.length === runs ? { steps: Object.fromEntries(STEPS.map(([k]) => [k, stats(steps[k])])) as Record<StepName, Stats> } : {}),
    log,
  };
}

/** One result from several measureBranch calls (their samples together). */
export function mergeResults(parts: readonly BranchResult[]): BranchResult {
  const all = (pick: (r: BranchResult) => Stats | undefined): number[] => parts.flatMap((r) => pick(r)?.samplesMs ?? []);
  const own = parts.flatMap((r) => r.ownBytes.samples);
  const log: Partial<Record<LogPhase, Stats>> = {};
  for (const [k] of LOG_PHASES) {
    const xs = all((r) => r.log[k]);
    if (xs.length > 0) log[k] = stats(xs);
  }
  const traced = parts.every((r) => r.steps !== undefined);
  return {
    total: stats(all((r) => r.total)),
    create: stats(all((r) => r.create)),
    query: stats(all((r) => r.query)),
    warmupMs: parts[0]!.warmupMs,
    ownBytes: { median: median(own), max: Math.max(...own), samples: own },
    queryRetries: parts.reduce((n, r) => n + r.queryRetries, 0),
    ...(traced ? { steps: Object.fromEntries(STEPS.map(([k]) => [k, stats(all((r) => r.steps![k]))])) as Record<StepName, Stats> } : {}),
    log,
  };
}

// ---------------------------------------------------------------------------------------------
// Warm path: a create that claims a warm clone of the parent (config `warm`)

/** The steps of a create that claims a warm clone (src/branches/warm.ts). */
export const WARM_STEPS = [
  ['claim', 'start', 'warm:claiming', 'audit entry, host lock, checks; the parent\'s WAL position (one round trip on a kept connection), size cap'],
  ['commit', 'warm:claiming', 'create:committed', 'branch row and end of the warm intent (SQLite)'],
  ['return', 'create:committed', 'end', 'expiry, audit entry, view'],
] as const;
export type WarmStepName = (typeof WARM_STEPS)[number][0];

export interface WarmResult {
  readonly total: Stats;
  readonly create: Stats;
  readonly query: Stats;
  /** Runs that claimed a warm clone (the others took the normal path and are not counted). */
  readonly claimed: number;
  readonly attempted: number;
  readonly steps: Record<WarmStepName, Stats>;
  /** What making one warm clone takes (serve does it in the background). */
  readonly fill: Stats;
}

/**
 * The same creates with `warm: { branches: [parent], size: 1 }`: before each run the refill (what
 * serve does in the background) makes a warm clone, then the create claims it. A run that found no
 * fresh clone (the parent wrote WAL meanwhile, e.g. autovacuum) took the normal path: counted apart.
 */
export async function measureWarm(bench: BenchHost, parent: Parent, runs: number): Promise<WarmResult> {
  const configFile = join(bench.home, 'config.json');
  const original = await readFile(configFile, 'utf8');
  await writeFile(configFile, `${JSON.stringify({ ...JSON.parse(original), warm: { branches: [parent.name], size: 1 } }, null, 2)}\n`);
  let host: Host | undefined;
  const totals: number[] = [];
  const creates: number[] = [];
  const queries: number[] = [];
  const fills: number[] = [];
  const steps = Object.fromEntries(WARM_STEPS.map(([k]) => [k, [] as number[]])) as Record<WarmStepName, number[]>;
  let attempted = 0;
  try {
    host = await Host.open({ home: bench.home });
    for (let i = 0; i <= runs; i++) {
      const f0 = performance.now();
      // The first pass of a refill only notes the parent's position; the next makes the clone.
      for (let pass = 0; pass < 4 && (await host.refillWarmClones()).made === 0; pass++);
      const fillMs = performance.now() - f0;
      await settlePool(bench);
      const name = `${parent.name}-warm${i}`;
      const { marks } = await traced(() => host!.createBranch(name, { origin: { kind: 'parent', parent: parent.name } }));
      const t0 = marks.get('start')!;
      const t1 = marks.get('end')!;
      const info = await host.connectionInfo(name);
      const t2 = (await firstQuery(info.url)).answeredAt;
      const claimed = marks.has('warm:claiming');
      if (i > 0) {
        attempted++;
        if (claimed) {
          totals.push(t2 - t0);
          creates.push(t1 - t0);
          queries.push(t2 - t1);
          fills.push(fillMs);
          for (const [k, from, to] of WARM_STEPS) steps[k].push(marks.get(to)! - marks.get(from)!);
        }
        const line = claimed ? WARM_STEPS.map(([k, from, to]) => `${k} ${fmtMs(marks.get(to)! - marks.get(from)!)}`).join(', ') : 'no fresh warm clone: normal path';
        progress(`  warm run ${i}/${runs}: ${fmtMs(t2 - t0)} (createBranch ${fmtMs(t1 - t0)}: ${line}); refill ${fmtMs(fillMs)}`);
      }
      await host.deleteBranch(name);
      await settlePool(bench);
    }
    await host.discardWarmClones();
  } finally {
    host?.close();
    await writeFile(configFile, original);
  }
  const empty = { medianMs: Number.NaN, minMs: Number.NaN, maxMs: Number.NaN, runs: 0, samplesMs: [] };
  const st = (xs: number[]): Stats => (xs.length > 0 ? stats(xs) : empty);
  return {
    total: st(totals),
    create: st(creates),
    query: st(queries),
    claimed: totals.length,
    attempted,
    steps: Object.fromEntries(WARM_STEPS.map(([k]) => [k, st(steps[k])])) as Record<WarmStepName, Stats>,
    fill: st(fills),
  };
}

// ---------------------------------------------------------------------------------------------
// What-if: the same creates with other server settings

export interface WhatIf {
  readonly label: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly branch: BranchResult;
}

/** Server settings pgbranch does not use today, measured on the real create path. */
export interface WhatIfCandidate {
  readonly label: string;
  /** Extra server settings of every instance the host starts. */
  readonly settings: Record<string, string>;
  /** Top-level host config sections replaced for the run (e.g. `diff`). */
  readonly config?: Record<string, unknown>;
}

export function whatIfCandidates(major: number): WhatIfCandidate[] {
  return [
    ...(major >= 14 ? [{ label: 'recovery_init_sync_method = syncfs', settings: { recovery_init_sync_method: 'syncfs' } }] : []),
    // The same creates without the branch point (diff.keepBranchPoint: false): what keeping it costs, in this session.
    { label: 'diff.keepBranchPoint = false (no branch point kept)', settings: {}, config: { diff: { keepBranchPoint: false } } },
    // The parent CHECKPOINT on every create, as before the skip below clone.checkpointAboveWalBytes.
    { label: 'clone.checkpointAboveWalBytes = 0 (parent CHECKPOINT on every create)', settings: {}, config: { clone: { checkpointAboveWalBytes: 0 } } },
  ];
}

/**
 * Runs the measured creates on the same host opened anew with extra `postgres.settings` in its
 * config (every instance started by that host gets them), then puts the config back.
 */
export async function measureWhatIf(bench: BenchHost, parent: Parent, runs: number, candidate: WhatIfCandidate): Promise<WhatIf> {
  const configFile = join(bench.home, 'config.json');
  const original = await readFile(configFile, 'utf8');
  const config = { ...(JSON.parse(original) as { postgres: { settings?: Record<string, string> } }), ...candidate.config } as { postgres: { settings?: Record<string, string> } };
  config.postgres.settings = { ...config.postgres.settings, ...candidate.settings };
  await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`);
  let host: Host | undefined;
  try {
    host = await Host.open({ home: bench.home });
    return { ...candidate, branch: await measureBranch(bench, host, parent, runs, { label: 'what-if' }) };
  } finally {
    host?.close();
    await writeFile(configFile, original);
  }
}

// ---------------------------------------------------------------------------------------------
// Under write load: the parent runs pgbench while branches are made

export interface UnderLoad {
  readonly label: string;
  readonly checkpointAboveWalBytes: number;
  readonly branch: BranchResult;
  /** pgbench's own report of the load (tps) over the measured creates. */
  readonly pgbenchTps: number | null;
}

/**
 * What the parent CHECKPOINT buys under write load: the same creates while `pgbench -c 4 -j 2`
 * writes to the parent, with the host's `clone.checkpointAboveWalBytes` set to `threshold` (0:
 * always checkpoint; huge: never, the child replays all WAL since the parent's last checkpoint).
 */
export async function measureUnderLoad(bench: BenchHost, parent: Parent, runs: number, pgbench: string, label: string, threshold: number): Promise<UnderLoad> {
  const configFile = join(bench.home, 'config.json');
  const original = await readFile(configFile, 'utf8');
  await writeFile(configFile, `${JSON.stringify({ ...JSON.parse(original), clone: { checkpointAboveWalBytes: threshold } }, null, 2)}\n`);
  let host: Host | undefined;
  const load = spawn(pgbench, ['-n', '-c', '4', '-j', '2', '-T', '3600', '-P', '3600', parent.info.database], { env: branchEnv(parent.info), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  load.stdout.on('data', (d: Buffer) => (out += d.toString()));
  load.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const ended = new Promise<void>((done) => load.on('close', () => done()));
  try {
    host = await Host.open({ home: bench.home });
    // Let the load reach its steady state (WAL piling up since the last checkpoint) first.
    await waitForPgbench(() => out, 5_000);
    const branch = await measureBranch(bench, host, parent, runs, { label: 'under-load' });
    load.kill('SIGINT');
    await ended;
    const tps = /tps = ([\d.]+)/.exec(out);
    return { label, checkpointAboveWalBytes: threshold, branch, pgbenchTps: tps ? Number(tps[1]) : null };
  } finally {
    load.kill('SIGKILL');
    host?.close();
    await writeFile(configFile, original);
  }
}

/** Waits until pgbench has run `ms` (its clients connected and writing), or fails if it ended. */
async function waitForPgbench(output: () => string, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (/aborted|error/i.test(output())) throw new Error(`pgbench failed: ${output().slice(-500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------
// Through the CLI

export interface CliResult {
  readonly total: Stats;
  readonly process: Stats;
}

/** One `pgbranch branch create` process per run (Node start-up, host open and reconcile included). */
export async function measureCli(bench: BenchHost, host: Host, parent: Parent, runs: number): Promise<CliResult> {
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
    const t2 = (await firstQuery(info.url)).answeredAt;
    totals.push(t2 - t0);
    procs.push(t1 - t0);
    progress(`  CLI run ${i}/${runs}: ${fmtMs(t2 - t0)} (process ${fmtMs(t1 - t0)})`);
    await host.deleteBranch(name);
    await settlePool(bench);
  }
  return { total: stats(totals), process: stats(procs) };
}
