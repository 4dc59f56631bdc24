import { PgbranchError } from '../../errors.js';
import type { PersonalColumn } from '../../postgres/index.js';

/**
 * Stable problem codes of a masking rules file (docs/masking.md lists them). Messages may change;
 * codes may not.
 */
export const RULES_PROBLEM_CODES = [
  'yaml-syntax',
  'duplicate-key',
  'unknown-key',
  'bad-version',
  'bad-name',
  'bad-table',
  'duplicate-table',
  'unknown-strategy',
  'bad-strategy',
  'unknown-fake',
  'bad-option',
  'unsafe-sql',
  'bad-path',
  'duplicate-path',
  'unknown-table',
  'not-a-table',
  'unknown-column',
  'type-mismatch',
  'generated-column',
  'not-injective',
  'fk-mismatch',
  'too-long',
] as const;
export type RulesProblemCode = (typeof RULES_PROBLEM_CODES)[number];

export interface RulesProblem {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  readonly column: number;
  readonly code: RulesProblemCode;
  readonly message: string;
}

export const formatProblem = (p: RulesProblem): string => `${p.file}:${p.line}:${p.column} ${p.code}: ${p.message}`;

/** The one error for a rules file: every problem, in file order, each with file:line:column and code. */
export function rulesInvalidError(problems: readonly RulesProblem[]): PgbranchError {
  const sorted = [...problems].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  const file = sorted[0]?.file ?? 'masking rules';
  const head = `${file} has ${sorted.length} problem${sorted.length === 1 ? '' : 's'} (see docs/masking.md):`;
  const message = [head, ...sorted.map((p) => `  ${formatProblem(p)}`)].join('\n');
  return new PgbranchError('MASK_RULES_INVALID', message, { cause: new Error(head), details: { problems: sorted } });
}

/**
 * The fail-closed refusal: personal-looking columns without a rule. Lists each with why, and says
 * the fix (a rule, or `keep` for a column that is not personal).
 */
export function uncoveredColumnsError(findings: readonly PersonalColumn[], rulesFile = 'the masking rules'): PgbranchError {
  const lines = findings.map((f) => `  ${f.message}`);
  const message = [
    `${findings.length} column${findings.length === 1 ? '' : 's'} look${findings.length === 1 ? 's' : ''} personal but ${findings.length === 1 ? 'has' : 'have'} no rule in ${rulesFile}:`,
    ...lines,
    'Add a rule for each (or `keep` for a column that is not personal) and try again.',
  ].join('\n');
  return new PgbranchError('MASK_UNCOVERED_COLUMNS', message, {
    cause: new Error('uncovered personal columns'),
    details: {
      columns: findings.map((f) => ({ schema: f.schema, table: f.table, column: f.column, type: f.type, jsonPath: f.jsonPath, reasons: f.reasons })),
    },
  });
}
