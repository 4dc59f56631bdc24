/**
 * Density benchmark: many branches on one host, through the API of a real `pgbranch serve`.
 * A parent of ~--parent-mib MiB (pgbench data) gets --branches children created one after the
 * other with POST /v1/branches; the first --running stay running, later ones are suspended right
 * after their create (scale to zero keeps them without a process). Reported:
 * - create time of the first 10 against the last 10 (goal ≤ 1.5×), with where it went step by
 *   step (the API's Server-Timing) and the machine's and serve's CPU meanwhile;
 * - PSS per idle running instance (postmaster and its children, /proc/<pid>/smaps_rollup);
 * - RSS of the serve process;
 * - GET /v1/branches and `pgbranch branch list` time at 10, 100 and 1,000 branches (those reached);
 * - wake time of suspended branches (connection through the endpoint → SELECT 1 answered; median of 5).
 *
 * Runs on a throwaway host (sparse loop-mounted btrfs pool in a temp dir, removed at the end,
 * also on failure and SIGINT/SIGTERM). Progress goes to stderr, the result to stdout.
 *
 *   npm run bench:density -- [--branches 1000] [--running 200] [--parent-mib 1024] [--json]
 */
import { readFile, readdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { readPostmasterPid } from '../postgres/index.js';
import { settleWriteback } from './branch/common.js';
import { LOG_PHASES, logPhases } from './branch/server-log.js';
import { createBenchHost, libpqEnv, median, parseArgs, positiveInt, progress, runChild, startServeProcess, type BenchHost, type ServeProcess } from './bench-support.js';

const USAGE = `usage: node dist/bench/density-bench.js [options]
  --branches N     branches to create (default 1000)
  --running N      of which stay running; the rest are suspended after their create (default 200)
  --parent-mib N   size of the parent's data in MiB, pgbench (default 1024)
  --pool-gib N     size of the sparse loop pool (default 64)
  --size-refresh-ms N  serve's size refresh interval (default: the config's; 0 = off, to see what it costs)
  --json           print the results as JSON
`;

const REPO = resolve(import.meta.dirname, '../..');
const CREATE_RATIO_GOAL = 1.5;
const LIST_AT = [10, 100, 1000];

interface ListTiming {
  readonly branches: number;
  readonly apiMs: number;
  readonly cliMs: number;
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Kilobytes of a /proc status-like line ("Pss:  1234 kB"). */
function kbField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

/** Pids of `root` and all its descendants, from /proc. */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = parseProcStat(await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''));
    if (!stat) continue;
    const ppid = stat.field(4);
    if (!parents.has(ppid)) parents.set(ppid, []);
    parents.get(ppid)!.push(Number(entry));
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    out.push(pid);
    for (const child of parents.get(pid) ?? []) walk(child);
  };
  walk(root);
  return out;
}

/**
 * The text of a /proc/<pid>/stat: its command name and a numeric field by its number in proc(5)
 * (1 = pid, 3 = state, …); undefined for an empty text (the process is gone). comm (field 2) may
 * itself contain ") ", so fields are counted from the last one.
 */
function parseProcStat(stat: string): { comm: string; field: (n: number) => number } | undefined {
  if (!stat) return undefined;
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), field: (n) => Number(after[n - 3]) };
}

async function procStatFields(pid: number): Promise<((field: number) => number) | undefined> {
  return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''))?.field;
}

/** CPU seconds so far from a stat's fields: utime + stime, or with `children` cutime + cstime (clock ticks, 100 a second on Linux). */
const cpuSeconds = (field: (n: number) => number, children = false): number => (children ? field(16) + field(17) : field(14) + field(15)) / 100;

/** CPU seconds a process used so far (user + system), from /proc/<pid>/stat. */
async function processCpuSeconds(pid: number): Promise<number> {
  const field = await procStatFields(pid);
  if (!field) throw new Error(`process ${pid} is gone`);
  return cpuSeconds(field);
}

/** The machine's busy and total CPU time so far, from /proc/stat's first line (clock ticks). */
async function machineCpu(): Promise<{ busy: number; total: number }> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait are not work.
  return { busy: total - fields[3]! - (fields[4] ?? 0), total };
}

/** The machine's busy share between two readings of machineCpu. */
const busyShare = (m0: { busy: number; total: number }, m1: { busy: number; total: number }): number => (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total);

/** What a window of creates cost besides its own time: the machine's busy share and serve's CPU. */
interface CpuWindow {
  readonly machineBusy: number;
  readonly serveCpuShare: number;
}

async function cpuWindow(servePid: number, fn: () => Promise<void>): Promise<CpuWindow> {
  const [m0, s0, t0] = [await machineCpu(), await processCpuSeconds(servePid), performance.now()];
  await fn();
  const [m1, s1, t1] = [await machineCpu(), await processCpuSeconds(servePid), performance.now()];
  return { machineBusy: busyShare(m0, m1), serveCpuShare: (s1 - s0) / ((t1 - t0) / 1000) };
}

/**
 * CPU seconds so far of every process on the machine, by pid, with its role: a postgres process
 * by its title ("checkpointer", "autovacuum launcher"), a postmaster as "postmaster" (and its
 * reaped children, autovacuum workers and backends, as "postmaster children"), others by their
 * command name. Kernel workers rename themselves by the work they do, so a role is only a label
 * of the moment; the time is matched by pid.
 */
async function cpuByPid(): Promise<Map<string, { role: string; seconds: number }>> {
  const out = new Map<string, { role: string; seconds: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [text, cmdline] = await Promise.all([readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''), readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')]);
    const stat = parseProcStat(text);
    if (!stat) continue;
    const { comm, field } = stat;
    const title = /^postgres: (.*)$/.exec(cmdline.replace(/\0+$/, ''))?.[1];
    if (title !== undefined) {
      out.set(entry, { role: title.replace(/\s+\d+$/, '').trim(), seconds: cpuSeconds(field) });
    } else if (comm === 'postgres') {
      out.set(entry, { role: 'postmaster', seconds: cpuSeconds(field) });
      out.set(`${entry}:children`, { role: 'postmaster children', seconds: cpuSeconds(field, true) });
    } else {
      // Kernel workers by kind ("kworker/u8:7-loop0" → "kworker loop0"), node by its script.
      const script = comm === 'node' ? cmdline.split('\0')[1]?.split('/').at(-1) : undefined;
      const role = script ? `node ${script}` : comm.replace(/^kworker\/[^-]*-?/, 'kworker ').trim();
      out.set(entry, { role, seconds: cpuSeconds(field) });
    }
  }
  return out;
}

/** The machine's busy share over `ms` of quiet, and the roles that used the most CPU meanwhile (share of a core). */
async function idleCost(ms: number): Promise<{ machineBusy: number; top: { role: string; share: number }[] }> {
  const [m0, p0, t0] = [await machineCpu(), await cpuByPid(), performance.now()];
  await new Promise((r) => setTimeout(r, ms)); // the window measured, not a wait for something
  const [m1, p1, t1] = [await machineCpu(), await cpuByPid(), performance.now()];
  const seconds = (t1 - t0) / 1000;
  const roles = new Map<string, number>();
  // A process started within the window counts whole; one gone before its end is not seen.
  for (const [pid, now] of p1) roles.set(now.role, (roles.get(now.role) ?? 0) + now.seconds - (p0.get(pid)?.seconds ?? 0));
  const top = [...roles]
    .map(([role, s]) => ({ role, share: s / seconds }))
    .filter((r) => r.share >= 0.005)
    .sort((a, b) => b.share - a.share)
    .slice(0, 8);
  return { machineBusy: busyShare(m0, m1), top };
}

/**
 * Page faults that had to read from disk, of a postmaster and of its children it reaped (the
 * startup process): whether a start found the server's binary, libraries and files in memory.
 */
async function diskFaults(pid: number): Promise<number | undefined> {
  const field = await procStatFields(pid);
  // majflt and cmajflt.
  return field ? field(12) + field(13) : undefined;
}

async function pssOfTree(root: number): Promise<number> {
  let total = 0;
  for (const pid of await processTree(root)) total += kbField(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => ''), 'Pss');
  return total;
}

async function main(): Promise<number> {
  let args: Map<string, string>;
  try {
    args = parseArgs(process.argv.slice(2), { branches: 'value', running: 'value', 'parent-mib': 'value', 'pool-gib': 'value', 'size-refresh-ms': 'value', json: 'flag' }, USAGE);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the density benchmark needs root (it loop-mounts a btrfs pool)\n');
    return 2;
  }
  const total = positiveInt(args, 'branches', 1000);
  const running = Math.min(total, positiveInt(args, 'running', 200));
  const parentMib = positiveInt(args, 'parent-mib', 1024);
  const poolGiB = positiveInt(args, 'pool-gib', 64);

  let bench: BenchHost | undefined;
  let serve: ServeProcess | undefined;
  try {
    // Every branch keeps running until told otherwise: suspension here is the benchmark's choice.
    const sizeRefresh = args.has('size-refresh-ms') ? { sizeRefreshIntervalMs: Number(args.get('size-refresh-ms')) } : {};
    bench = await createBenchHost({ poolSizeGiB: poolGiB, init: { serve: { idleTimeoutMs: 0, ...sizeRefresh } } });
    const { host, home } = bench;
    const main = await host.connectionInfo('main');
    const pgEnv = libpqEnv({ PGHOST: '127.0.0.1', PGPORT: String(main.port), PGUSER: main.user, PGPASSWORD: main.password, PGDATABASE: main.database });
    // pgbench: ~15 MiB per scale unit.
    const scale = Math.max(1, Math.round(parentMib / 15));
    progress(`filling main with pgbench -i -s ${scale} (~${parentMib} MiB)`);
    await runChild('/usr/bin/pgbench', ['-i', '-s', String(scale), '-q'], pgEnv);
    // The first creates must not run while the machine still writes the parent back to disk.
    const syncStart = performance.now();
    await settleWriteback(bench);
    progress(`main written back to disk in ${ms(performance.now() - syncStart)}`);
    const { token } = await host.createToken({ name: 'density-bench', role: 'admin' });
    host.close();

    progress('starting pgbranch serve');
    serve = await startServeProcess(home, token);
    const { child, endpointPort, call } = serve;

    const createMs: number[] = [];
    const createSteps: Map<string, number>[] = [];
    const createdIds: string[] = [];
    const windows: CpuWindow[] = [];
    const listedAt = new Set<number>();
    const lists: ListTiming[] = [];
    const names: string[] = [];
    const timeList = async (count: number): Promise<void> => {
      const a = performance.now();
      const listed = await call('GET', '/v1/branches');
      const apiMs = performance.now() - a;
      if (listed.status !== 200 || (listed.json as { branches?: unknown[] }).branches?.length !== count + 1) {
        throw new Error(`GET /v1/branches: ${listed.status} ${JSON.stringify(listed.json).slice(0, 300)}`);
      }
      const c = performance.now();
      await runChild(process.execPath, [join(REPO, 'bin', 'pgbranch.js'), '--home', home, 'branch', 'list', '-o', 'json'], process.env);
      const cliMs = performance.now() - c;
      lists.push({ branches: count + 1, apiMs, cliMs });
      progress(`${count + 1} branches: GET /v1/branches ${ms(apiMs)}, branch list ${ms(cliMs)}`);
    };

    // What the machine spends with nothing asked of it, before the first create and after the last
    // (a health beat included: 10 s is its default interval).
    const IDLE_WINDOW_MS = 10_000;
    progress('measuring the idle machine with main alone running');
    const idleBefore = await idleCost(IDLE_WINDOW_MS);
    progress(`creating ${total} branches of main through the API (${running} stay running)`);
    // Disk page faults of the new postmasters of the measured creates, by branch id.
    const startFaults = new Map<string, number>();
    let measuring = false;
    const createOne = async (i: number): Promise<void> => {
      const name = `b-${String(i).padStart(4, '0')}`;
      const t0 = performance.now();
      const made = await call('POST', '/v1/branches', { name, parent: 'main' });
      createMs.push(performance.now() - t0);
      createSteps.push(made.steps);
      if (made.status !== 201) throw new Error(`create ${name}: ${made.status} ${JSON.stringify(made.json).slice(0, 300)}`);
      const id = (made.json as { id: string }).id;
      createdIds.push(id);
      names.push(name);
      if (measuring) {
        const volume = (await readdir(bench!.poolPath)).find((v) => v.startsWith(`${id}.`));
        const pid = volume ? (await readPostmasterPid(join(bench!.poolPath, volume, 'pgdata')))?.pid : undefined;
        const faults = pid === undefined ? undefined : await diskFaults(pid);
        if (faults !== undefined) startFaults.set(id, faults);
      }
      if (i > running) {
        const s = await call('POST', `/v1/branches/${name}/suspend`);
        if (s.status !== 200) throw new Error(`suspend ${name}: ${s.status} ${JSON.stringify(s.json).slice(0, 300)}`);
      }
      if (i % 50 === 0) progress(`${i}/${total} created (last create ${ms(createMs.at(-1)!)})`);
    };
    // The first and the last 10 creates are compared: what the machine and serve spent meanwhile too.
    const span = Math.min(10, total);
    for (let i = 1; i <= total; ) {
      if (i === 1 || i === total - span + 1) {
        const from = i;
        measuring = true;
        windows.push(await cpuWindow(child.pid!, async () => {
          for (; i < from + span; i++) await createOne(i);
        }));
        measuring = false;
      } else {
        await createOne(i);
        i++;
      }
      // At 10, 100 and 1,000 (or just after, when a measured window of creates spans the mark).
      const made = i - 1;
      const due = LIST_AT.filter((at) => at <= made && !listedAt.has(at));
      if (due.length > 0) {
        for (const at of due) listedAt.add(at);
        await timeList(made);
      }
    }
    if (!lists.some((l) => l.branches === total + 1)) await timeList(total);
    progress(`measuring the idle machine with ${running} branches running`);
    const idleAfter = await idleCost(IDLE_WINDOW_MS);

    // PSS of idle running instances: up to 20 of them, after a moment of quiet.
    const pss: number[] = [];
    const listed = (await call('GET', '/v1/branches?with_usage=false')).json as { branches: { name: string; state: string }[] };
    const runningNames = listed.branches.filter((b) => b.state === 'running' && b.name !== 'main').map((b) => b.name);
    const volumes = await readdir(bench.poolPath);
    for (const volume of volumes) {
      if (pss.length >= 20) break;
      const pid = (await readPostmasterPid(join(bench.poolPath, volume, 'pgdata')))?.pid;
      if (pid === undefined) continue;
      const bytes = await pssOfTree(pid);
      if (bytes > 0) pss.push(bytes);
    }
    const serveStatus = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const serveRss = kbField(serveStatus, 'VmRSS');

    // Wake: suspended branches answering through the endpoint; the median of up to 5, each a
    // different branch.
    const sleepers = total > running ? names.slice(Math.max(running, names.length - 5)) : runningNames.slice(0, 5);
    const wakes: number[] = [];
    for (const sleepy of sleepers) {
      // Asking for the connection starts a suspended branch: ask first, then suspend it.
      const conn = (await call('GET', `/v1/branches/${sleepy}/connection`)).json as { user: string; password: string; database: string };
      await call('POST', `/v1/branches/${sleepy}/suspend`);
      const wakeStarted = performance.now();
      const client = new pg.Client({ host: '127.0.0.1', port: endpointPort, user: `${conn.user}.${sleepy}`, password: conn.password, database: conn.database });
      await client.connect();
      await client.query('SELECT 1');
      wakes.push(performance.now() - wakeStarted);
      await client.end();
    }
    const wakeMs = median(wakes);

    const first10 = createMs.slice(0, Math.min(10, createMs.length));
    const last10 = createMs.slice(-Math.min(10, createMs.length));
    const ratio = median(last10) / median(first10);
    // Where the time of a create went (the API's Server-Timing), first 10 against last 10.
    const stepNames = [...new Set(createSteps.flatMap((m) => [...m.keys()]))];
    const stepMedian = (from: Map<string, number>[], step: string): number => median(from.map((m) => m.get(step) ?? 0));
    const firstSteps = createSteps.slice(0, first10.length);
    const lastSteps = createSteps.slice(-last10.length);
    const steps = Object.fromEntries(stepNames.map((step) => [step, { first10MedianMs: stepMedian(firstSteps, step), last10MedianMs: stepMedian(lastSteps, step) }]));
    // The start step split by the new instances' own server logs (their timestamps).
    const phasesOf = async (ids: string[], stepsOf: Map<string, number>[]): Promise<Partial<Record<string, number>>[]> =>
      Promise.all(ids.map(async (id, k) => logPhases(await readFile(join(home, 'logs', `${id}.log`), 'utf8').catch(() => ''), stepsOf[k]?.get('start'))));
    const [firstPhases, lastPhases] = await Promise.all([phasesOf(createdIds.slice(0, first10.length), firstSteps), phasesOf(createdIds.slice(-last10.length), lastSteps)]);
    const phaseMedian = (from: Partial<Record<string, number>>[], phase: string): number | null => {
      const known = from.map((p) => p[phase]).filter((v): v is number => v !== undefined);
      return known.length > 0 ? median(known) : null;
    };
    const startPhases = Object.fromEntries(LOG_PHASES.map(([phase]) => [phase, { first10MedianMs: phaseMedian(firstPhases, phase), last10MedianMs: phaseMedian(lastPhases, phase) }]));
    const faultsOf = (ids: string[]): number | null => {
      const known = ids.flatMap((id) => (startFaults.has(id) ? [startFaults.get(id)!] : []));
      return known.length > 0 ? median(known) : null;
    };
    const diskFaultsAtStart = { first10Median: faultsOf(createdIds.slice(0, first10.length)), last10Median: faultsOf(createdIds.slice(-last10.length)) };
    const result = {
      machine: `${cpus().length} CPUs, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`,
      branches: total,
      running,
      parentMib,
      create: {
        first10MedianMs: median(first10),
        last10MedianMs: median(last10),
        ratio,
        goal: CREATE_RATIO_GOAL,
        pass: ratio <= CREATE_RATIO_GOAL,
        steps,
        startPhases,
        diskFaultsAtStart,
        cpu: { first10: windows[0] ?? null, last10: windows.at(-1) ?? null },
      },
      idle: { before: idleBefore, after: idleAfter },
      pssPerIdleInstanceBytes: pss.length > 0 ? median(pss) : null,
      pssSamples: pss.length,
      serveRssBytes: serveRss,
      lists,
      wakeMs,
    };
    if (args.has('json')) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const o: string[] = [];
      o.push(`pgbranch density benchmark — ${total} branches of a ~${parentMib} MiB parent through the API, ${running} running`);
      o.push(`machine: ${result.machine}`);
      o.push('');
      o.push(`create (median)     first 10 ${ms(result.create.first10MedianMs)}, last 10 ${ms(result.create.last10MedianMs)}: ${ratio.toFixed(2)}× (${result.create.pass ? 'PASS' : 'MISS'} ≤ ${CREATE_RATIO_GOAL}×)`);
      o.push('  step (median)             first 10   last 10');
      for (const [step, v] of Object.entries(steps)) o.push(`  ${step.padEnd(24)} ${v.first10MedianMs.toFixed(1).padStart(8)}  ${v.last10MedianMs.toFixed(1).padStart(8)} ms`);
      o.push('  start, by its server log');
      const cell = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(1)).padStart(8);
      for (const [phase, what] of LOG_PHASES) o.push(`    ${phase.padEnd(22)} ${cell(startPhases[phase]!.first10MedianMs)}  ${cell(startPhases[phase]!.last10MedianMs)} ms  ${what}`);
      const count = (v: number | null): string => (v === null ? 'n/a' : String(v)).padStart(8);
      o.push(`    ${'diskFaults'.padEnd(22)} ${count(diskFaultsAtStart.first10Median)}  ${count(diskFaultsAtStart.last10Median)}     page faults read from disk by the postmaster and its startup process`);
      const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
      const [w1, w2] = [result.create.cpu.first10, result.create.cpu.last10];
      if (w1 && w2) o.push(`  machine busy ${pct(w1.machineBusy)} → ${pct(w2.machineBusy)}, serve CPU ${pct(w1.serveCpuShare)} → ${pct(w2.serveCpuShare)} of a core (first 10 → last 10)`);
      const roles = (c: typeof idleBefore): string => c.top.map((r) => `${r.role} ${pct(r.share)}`).join(', ');
      o.push(`idle machine busy   ${pct(idleBefore.machineBusy)} with main alone, ${pct(idleAfter.machineBusy)} with ${running} running (${IDLE_WINDOW_MS / 1000} s each)`);
      o.push(`  top, main alone:  ${roles(idleBefore)}`);
      o.push(`  top, ${running} running: ${roles(idleAfter)}`);
      o.push(`PSS per idle instance  ${result.pssPerIdleInstanceBytes === null ? 'n/a' : mib(result.pssPerIdleInstanceBytes)} (median of ${pss.length})`);
      o.push(`serve RSS           ${mib(serveRss)}`);
      for (const l of lists) o.push(`list at ${String(l.branches).padStart(5)}      GET /v1/branches ${ms(l.apiMs)}, branch list ${ms(l.cliMs)}`);
      o.push(`wake (suspended)    ${ms(wakeMs)} to the first answer through the endpoint (median of ${wakes.length})`);
      process.stdout.write(`${o.join('\n')}\n`);
    }
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    await serve?.stop();
    await bench?.cleanup();
  }
}

process.exitCode = await main();
