import type { SchemaDiff } from './types.js';
import { transactionGroups } from './verify-schema-diff.js';

export interface RenderOptions {
  /** First header line, e.g. `schema diff main@branch-point → feature-x`. */
  readonly title?: string;
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');

/**
 * The diff as an SQL script a reviewer reads and psql runs: a header comment (and the objects
 * the script does not cover), then the statements in transactions (more than one only where an
 * enum value must be committed before it is used).
 */
export function renderSchemaScript(diff: SchemaDiff, options: RenderOptions = {}): string {
  const lines: string[] = [`-- ${oneLine(options.title ?? 'pgbranch schema diff')}`];
  const count = diff.statements.filter((s) => s.kind !== 'setting').length;
  lines.push(count === 0 ? '-- No schema changes the script can express.' : `-- ${count} statement${count === 1 ? '' : 's'}, in dependency order.`);
  if (diff.unsupported.length > 0) {
    lines.push('--', '-- NOT covered by this script (apply by hand):');
    for (const u of diff.unsupported) lines.push(`--   ${oneLine(u.kind)} ${oneLine(u.identity)}: ${oneLine(u.reason)}`);
  }
  lines.push('');
  for (const group of transactionGroups(diff.statements)) {
    lines.push('BEGIN;', '');
    for (const s of group) lines.push(`${s.sql.trimEnd()};`, '');
    lines.push('COMMIT;', '');
  }
  return lines.join('\n');
}
