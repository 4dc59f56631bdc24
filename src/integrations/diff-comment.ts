import type { DiffView } from '../branches/index.js';

/** GitHub refuses comments over 65,536 characters; the script is cut well before that. */
const MAX_SCRIPT_CHARS = 50_000;

export interface DiffCommentOptions {
  /** First line, hidden when rendered: how the next run finds the comment to update. */
  readonly marker: string;
  /** What to tell a reader to run for the whole script when it had to be cut. */
  readonly command?: string;
}

/** The hidden marker of a branch's diff comment. */
export function diffCommentMarker(branch: string): string {
  return `<!-- pgbranch-diff:${branch} -->`;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|');

/** A fence longer than any run of backticks in the text, so a script can never close it early. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

/**
 * A diff as a pull-request comment in Markdown: the schema change as an ```sql block (the
 * migration script, with its proof when verified) and the data change as a table of counts per
 * table. Only names, counts and the schema's DDL: never rows, connection details or credentials.
 */
export function formatDiffComment(view: DiffView, options: DiffCommentOptions): string {
  const lines = [options.marker, `### pgbranch diff: \`${view.from.ref}\` → \`${view.to.ref}\``, ''];
  const { schema, data } = view;
  if (schema) {
    const count = schema.statements.filter((s) => s.kind !== 'setting').length;
    const proof = schema.verification
      ? schema.verification.proven
        ? ' — ✅ proven on a copy of the first side'
        : ` — ❌ not proven (${schema.verification.failure ? `statement ${schema.verification.failure.index + 1} failed: ${schema.verification.failure.message}` : `${schema.verification.differences.length} difference(s) remain`})`
      : '';
    lines.push(`**Schema**: ${count === 0 ? 'no changes' : `${count} statement${count === 1 ? '' : 's'}`}${proof}`);
    if (count > 0 || schema.unsupported.length > 0) {
      let script = schema.script.trimEnd();
      if (script.length > MAX_SCRIPT_CHARS) {
        const cut = script.lastIndexOf('\n', MAX_SCRIPT_CHARS);
        const rest = script.slice(cut).split('\n').length;
        script = `${script.slice(0, cut)}\n-- … ${rest} more lines${options.command ? `: run \`${options.command}\` for the whole script` : ''}`;
      }
      const f = fence(script);
      lines.push('', `${f}sql`, script, f);
    }
    lines.push('');
  }
  if (data) {
    const changed = data.tables.filter((t) => t.status !== 'compared' || t.counts.inserted + t.counts.updated + t.counts.deleted > 0);
    const { inserted, updated, deleted } = data.totals;
    lines.push(`**Data** (${data.method === 'blocks' ? 'changed blocks only' : 'whole tables'}): ${inserted} inserted, ${updated} updated, ${deleted} deleted`);
    if (changed.length > 0) {
      lines.push('', '| table | inserted | updated | deleted |', '|---|---:|---:|---:|');
      for (const t of changed) {
        const name = cell(`${t.schema}.${t.name}`);
        lines.push(t.status === 'compared' ? `| \`${name}\` | ${t.counts.inserted} | ${t.counts.updated} | ${t.counts.deleted} |` : `| \`${name}\` | table ${t.status} | | |`);
      }
    }
    lines.push('');
  }
  return lines.join('\n');
}
