import { Command, Option } from 'commander';
import type { DiffRequest, DiffView } from '../../branches/index.js';
import { PgbranchError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { formatBytes } from '../format.js';
import { renderTable } from '../writer.js';
import { verbatim } from '../json-naming.js';
import { fromApiDiffSide, toApiDiff } from '../../client/index.js';

interface DiffOptions {
  schema?: boolean;
  data?: boolean;
  rows?: boolean;
  limit?: string;
  verify?: boolean;
  full?: boolean;
}

type Values = Readonly<Record<string, unknown>>;

const show = (v: unknown): string => (v === null ? 'NULL' : typeof v === 'string' ? JSON.stringify(v) : String(v));
const fields = (values: Values | undefined): string =>
  values === undefined ? '' : Object.entries(values).map(([k, v]) => `${k}=${show(v)}`).join(' ');

/** Only what an update changed, `col: old → new`. */
function changes(oldValues: Values, newValues: Values): string {
  return Object.keys(newValues)
    .filter((k) => JSON.stringify(oldValues[k]) !== JSON.stringify(newValues[k]))
    .map((k) => `${k}: ${show(oldValues[k])} → ${show(newValues[k])}`)
    .join(', ');
}

/** The human rendering: header, schema script and its proof, then per-table counts and rows. */
export function renderDiff(view: DiffView): string {
  const out: string[] = [`diff ${view.from.ref} → ${view.to.ref} (database ${view.database})`];
  if (view.from.kind === 'branch-point') out.push(`branch point of ${view.from.name}: ${view.from.time ?? '-'}`);
  const { schema, data } = view;
  if (schema) {
    const n = schema.statements.filter((s) => s.kind !== 'setting').length;
    out.push('', `schema: ${n === 0 ? 'no changes' : `${n} statement${n === 1 ? '' : 's'}`}${schema.unsupported.length ? `, ${schema.unsupported.length} not covered` : ''}`);
    if (n > 0 || schema.unsupported.length > 0) out.push(schema.script.trimEnd());
    const v = schema.verification;
    if (v) {
      out.push(v.proven ? 'verified: the script, run on a copy of the first side, gives the second side\'s schema' : 'NOT verified:');
      if (v.failure) out.push(`  statement ${v.failure.index + 1} failed: ${v.failure.message}${v.failure.code ? ` (${v.failure.code})` : ''}\n    ${v.failure.sql}`);
      for (const d of v.differences) out.push(`  ${d.change} ${d.kind} ${d.identity}${d.field ? ` (${d.field})` : ''}`);
    }
  }
  if (data) {
    const how = data.method === 'blocks' ? `changed blocks only${data.changedBytes !== undefined ? `, ${formatBytes(data.changedBytes)} changed on disk` : ''}` : `whole tables${data.fullReason ? `: ${data.fullReason}` : ''}`;
    out.push('', `data (${how}):`);
    const rows = data.tables.map((t) =>
      t.status === 'compared'
        ? [`${t.schema}.${t.name}`, String(t.counts.inserted), String(t.counts.updated), String(t.counts.deleted), t.method === 'blocks' ? `blocks (${t.scanned.blocks ?? 0})` : `full${t.fullReason ? ` (${t.fullReason})` : ''}`]
        : [`${t.schema}.${t.name}`, '-', '-', '-', `table ${t.status}`],
    );
    rows.push(['total', String(data.totals.inserted), String(data.totals.updated), String(data.totals.deleted), '']);
    out.push(renderTable(['TABLE', 'INSERTED', 'UPDATED', 'DELETED', 'READ'], rows));
    for (const t of data.tables) {
      if (t.status !== 'compared' || !t.rows || t.rows.length === 0) continue;
      out.push('', `rows of ${t.schema}.${t.name}${t.rowsTruncated ? ` (first ${t.rows.length})` : ''}:`);
      for (const r of t.rows) {
        if (r.change === 'inserted') out.push(`  + ${r.key ? `${fields(r.key)}  ` : ''}${fields(r.new)}`);
        else if (r.change === 'deleted') out.push(`  - ${r.key ? `${fields(r.key)}  ` : ''}${fields(r.old)}`);
        else out.push(`  ~ ${fields(r.key)}  ${changes(r.old, r.new)}`);
      }
    }
  }
  return out.join('\n');
}

/** `diff [FROM] TO`: what TO changed since FROM (default: since its own branch point). */
export function registerDiffCommand(program: Command, ctx: CliContext): void {
  program
    .command('diff <first> [second]')
    .description(
      'what a branch changed: `diff B` against its own branch point, `diff A B` between any two sides ' +
        '(a side: NAME, branch:NAME, snapshot:NAME or branch-point:NAME). `-o sql` prints only the migration script (applied to A, it gives B)',
    )
    .addHelpText('after', `\nExamples:\n  $ pgbranch diff pr-42                 # schema and data changed since pr-42 was made\n  $ pgbranch diff main pr-42 --schema -o sql > migration.sql\n  $ pgbranch diff pr-42 --data --rows -o json`)
    .option('--schema', 'the schema, as migration SQL (with neither --schema nor --data: both)')
    .option('--data', 'the data: rows inserted, updated and deleted per table')
    .option('--rows', 'also the changed rows themselves, keyed by primary key (implies --data)')
    .addOption(new Option('--limit <n>', 'with --rows: at most N rows per table (default 1000)'))
    .option('--verify', 'prove the script on a throwaway copy-on-write clone of the first side (implies --schema; exit 16 if it does not hold)')
    .option('--full', 'compare whole tables even where the changed blocks are known (a cross-check)')
    .action(async (first: string, second: string | undefined, opts: DiffOptions, cmd: Command) => {
      const sql = ctx.globals(cmd).output === 'sql';
      if (sql && (opts.data || opts.rows)) {
        throw new PgbranchError('INVALID_ARGUMENT', '-o sql prints the schema migration script only: drop --data/--rows, or use -o json for the data');
      }
      const limit = opts.limit === undefined ? undefined : Number(opts.limit);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw new PgbranchError('INVALID_ARGUMENT', `--limit needs a non-negative integer, not "${opts.limit}"`);
      const request: DiffRequest = {
        ...(second === undefined ? { to: fromApiDiffSide(first) } : { from: fromApiDiffSide(first), to: fromApiDiffSide(second) }),
        ...(sql ? { schema: true } : {}),
        ...(opts.schema ? { schema: true } : {}),
        ...(opts.data ? { data: true } : {}),
        ...(opts.rows ? { rows: true } : {}),
        ...(opts.verify ? { verify: true } : {}),
        ...(opts.full ? { full: true } : {}),
        ...(limit !== undefined ? { limit } : {}),
      };
      const view = await ctx.withHost(cmd, (host) => host.diff(request));
      if (sql) {
        ctx.streams.stdout.write(view.schema!.script.endsWith('\n') ? view.schema!.script : `${view.schema!.script}\n`);
      } else {
        // The API's shape, verbatim: its rows are keyed by column names, which no renaming may touch.
        ctx.writerFor(cmd).data(verbatim(toApiDiff(view)), () => renderDiff(view));
      }
      const verification = view.schema?.verification;
      if (verification && !verification.proven) {
        const why = verification.failure ? `statement ${verification.failure.index + 1} failed: ${verification.failure.message}` : `${verification.differences.length} difference(s) remain`;
        throw new PgbranchError('SCHEMA_DIFF_UNPROVEN', `the script did not reproduce ${view.to.ref} on a copy of ${view.from.ref}: ${why}`, {
          details: { from: view.from.ref, to: view.to.ref, differences: verification.differences.length },
        });
      }
    });
}
