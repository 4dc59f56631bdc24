import { FIRST_QUERY, fmtBytes, fmtMs, fmtRatio, MIB, round2, sizeLabel, type Stats } from './common.js';
import { STEPS, WARM_STEPS, type BranchResult, type CliResult, type UnderLoad, type WarmResult, type WhatIf } from './measure.js';
import { LOG_PHASES } from './server-log.js';

/** The benchmark's results, its ratios and goals, as text or JSON. */

export interface SizeResult {
  readonly sizeGiB: number;
  readonly parent: { readonly name: string; readonly scale: number; readonly databaseBytes: number; readonly buildMs: number };
  readonly branch: BranchResult;
  readonly warm: WarmResult | { readonly skipped: string };
  /** The same creates by another build (--baseline-dist), on the same host and parent. */
  readonly baseline?: { readonly dist: string; readonly branch: BranchResult };
  readonly cli: CliResult | { readonly skipped: string };
  readonly template: Stats | { readonly skipped: string };
  readonly templateClone?: Stats | { readonly skipped: string };
  readonly dump: Stats | { readonly skipped: string };
  readonly whatIfs: readonly WhatIf[];
  readonly underLoad: readonly UnderLoad[];
}

interface Goal {
  readonly goal: string;
  readonly actual: string;
  readonly pass: boolean | null;
}

export interface Report {
  readonly server: { readonly version: string; readonly major: number; readonly binDir: string; readonly source: string };
  readonly clientTools: { readonly major: number; readonly pgDump: string };
  readonly machine: { readonly cpus: number; readonly memoryGiB: number; readonly node: string; readonly loadStart: readonly number[]; readonly loadEnd: readonly number[] };
  readonly pool: { readonly driver: 'btrfs'; readonly sizeGiB: number; readonly kind: string };
  readonly sizes: readonly SizeResult[];
  readonly ratios: readonly { readonly name: string; readonly value: number | null }[];
  readonly goals: readonly Goal[];
  readonly totalMs: number;
}

export const isStats = (x: Stats | { skipped: string } | undefined): x is Stats => x !== undefined && 'medianMs' in x;

const BRANCH_READY_GOAL_MS = 60;
const WARM_READY_GOAL_MS = 15;
const UNDER_LOAD_GOAL_MS = 300;
/** Issue 17: branch-ready at 20 GiB within 1.2× of 1 GiB (size independence). */
const SCALING_GOAL = 1.2;
const TEMPLATE_GOAL = 40;
const OWN_BYTES_GOAL = MIB;

export function evaluate(sizes: readonly SizeResult[]): { ratios: Report['ratios']; goals: Goal[] } {
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
  // Like branch-ready: until the first query is answered (the user's wait), not the call alone.
  const warm = sizes.flatMap((s) => ('skipped' in s.warm || s.warm.claimed === 0 ? [] : [{ size: s.sizeGiB, ms: s.warm.total.medianMs }]));
  goals.push({
    goal: `warm path (create claiming a warm clone → first query) p50 ≤ ${WARM_READY_GOAL_MS} ms`,
    actual: warm.length === 0 ? 'not measured' : warm.map((w) => `${sizeLabel(w.size)}: ${fmtMs(w.ms)}`).join(', '),
    pass: warm.length === 0 ? null : warm.every((w) => w.ms <= WARM_READY_GOAL_MS),
  });
  const loaded = sizes.flatMap((s) => (s.underLoad[0] ? [{ size: s.sizeGiB, ms: s.underLoad[0].branch.total.medianMs }] : []));
  goals.push({
    goal: `branch-ready under write load (pgbench -c 4 on the parent) p50 ≤ ${UNDER_LOAD_GOAL_MS} ms`,
    actual: loaded.length === 0 ? 'not measured (--load-runs)' : loaded.map((l) => `${sizeLabel(l.size)}: ${fmtMs(l.ms)}`).join(', '),
    pass: loaded.length === 0 ? null : loaded.every((l) => l.ms <= UNDER_LOAD_GOAL_MS),
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

const statsRow = (label: string, st: Stats): string[] => [label, fmtMs(st.medianMs), fmtMs(st.minMs), fmtMs(st.maxMs), String(st.runs)];

/** The traced steps of a create and, within its start, the server log's phases. */
function stepRows(branch: BranchResult): string[][] {
  if (!branch.steps) return [['    (steps not traced: a run missed a step boundary)', '', '', '', '']];
  const rows: string[][] = [];
  let sum = 0;
  for (const [k, , , label] of STEPS) {
    rows.push(statsRow(`    ${k.padEnd(9)} ${label}`, branch.steps[k]));
    sum += branch.steps[k].medianMs;
    if (k === 'start') {
      for (const [lk, llabel] of LOG_PHASES) {
        const st = branch.log[lk];
        if (st) rows.push(statsRow(`      server log: ${llabel}`, st));
      }
    }
  }
  rows.push(['    sum of the step medians', fmtMs(sum), '', '', '']);
  return rows;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

export function renderText(report: Report): string {
  const out: string[] = [];
  out.push(`pgbranch branch benchmark — ${report.server.version}`);
  out.push(`server binaries: ${report.server.source}, ${report.server.binDir}; pg_dump/pg_restore ${report.clientTools.major}; pool: ${report.pool.kind}`);
  out.push(
    `machine: ${report.machine.cpus} CPUs, ${report.machine.memoryGiB} GiB RAM, node ${report.machine.node}; ` +
      `load average at start ${report.machine.loadStart.join(' ')}, at end ${report.machine.loadEnd.join(' ')}`,
  );
  out.push(`branch-ready = host.createBranch(name, { origin: parent }) → new TCP connection to the branch URL → "${FIRST_QUERY}" answered`);
  out.push('the steps of host.createBranch() are traced on its real path, at the crash points it passes (src/branches/crash-points.ts)');
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
        rows.push(statsRow(label, st));
      } else {
        rows.push([label, 'skipped', '-', '-', '0']);
        notes.push(`${label.trim()}: skipped: ${st.skipped}`);
      }
    };
    row('branch create → first query (domain API)', s.branch.total);
    row('  of which host.createBranch()', s.branch.create);
    rows.push(...stepRows(s.branch));
    row('  of which connectionInfo + new connection + query', s.branch.query);
    if (s.baseline) {
      row(`baseline (${s.baseline.dist}): branch create → first query`, s.baseline.branch.total);
      row('  of which host.createBranch()', s.baseline.branch.create);
      rows.push(...stepRows(s.baseline.branch));
    }
    if ('skipped' in s.warm) {
      row('warm: create claiming a warm clone → first query', s.warm);
    } else {
      row(`warm: create claiming a warm clone → first query (${s.warm.claimed}/${s.warm.attempted} claimed)`, s.warm.total);
      row('  of which host.createBranch()', s.warm.create);
      for (const [k, , , label] of WARM_STEPS) row(`    ${k.padEnd(9)} ${label}`, s.warm.steps[k]);
      row('  of which connectionInfo + new connection + query', s.warm.query);
      row('  making one warm clone (refill, in the background under serve)', s.warm.fill);
    }
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
    for (const u of s.underLoad) {
      out.push('');
      out.push(`under write load (pgbench -c 4 -j 2 on the parent${u.pgbenchTps === null ? '' : `, ${Math.round(u.pgbenchTps)} tps`}): ${u.label}:`);
      out.push(table([['method', 'median', 'min', 'max', 'runs'], statsRow('branch create → first query (domain API)', u.branch.total), ...stepRows(u.branch)]));
    }
    for (const w of s.whatIfs) {
      out.push('');
      out.push(`what-if: the same creates with ${w.label} (traced like the measured ones):`);
      out.push(table([['method', 'median', 'min', 'max', 'runs'], statsRow('branch create → first query (domain API)', w.branch.total), ...stepRows(w.branch)]));
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
