import type pg from 'pg';
import { PgbranchError, type ErrorCode } from '../../errors.js';

/**
 * Session settings for masking: nothing this session does may put a value into the server log
 * (statements, parameters, error details, lock waits, temp files, auto_explain plans), and long
 * maintenance must not be cut short. All are superuser-settable per session; none is persisted.
 */
const QUIET_SETTINGS: readonly (readonly [string, string])[] = [
  ['log_statement', 'none'],
  ['log_min_duration_statement', '-1'],
  ['log_min_duration_sample', '-1'],
  ['log_statement_sample_rate', '0'],
  ['log_transaction_sample_rate', '0'],
  ['log_duration', 'off'],
  ['log_min_error_statement', 'panic'],
  ['log_min_messages', 'panic'],
  ['log_error_verbosity', 'terse'],
  ['log_parameter_max_length', '0'],
  ['log_parameter_max_length_on_error', '0'],
  ['log_lock_waits', 'off'],
  ['log_temp_files', '-1'],
  ['auto_explain.log_min_duration', '-1'],
  ['statement_timeout', '0'],
  ['lock_timeout', '0'],
  ['idle_in_transaction_session_timeout', '0'],
  ['synchronous_commit', 'off'],
];

export async function quietSession(client: pg.Client, extra: Readonly<Record<string, string>> = {}): Promise<void> {
  const settings = [...QUIET_SETTINGS, ...Object.entries(extra)];
  const sql = `SELECT ${settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, false)`).join(', ')}`;
  await run(client, 'preparing the masking session', sql, settings.flat());
}

interface PgErrorFields {
  code?: string;
  constraint?: string;
  table?: string;
  column?: string;
  schema?: string;
}

/**
 * A server error's message without the values it may quote: every double-quoted part is kept only
 * if it is a name we know (a table, column or constraint of the rules), else replaced by "…".
 * Details (`Key (email)=(…)`) and hints are never used.
 */
export function redactServerMessage(message: string, knownNames: ReadonlySet<string> = new Set()): string {
  return message.replace(/"([^"]*)"/g, (whole, inner: string) => (knownNames.has(inner) ? whole : '"…"')).slice(0, 300);
}

/** A PgbranchError for a failed statement, with no value of the database in it or its cause. */
export function maskingError(what: string, cause: unknown, knownNames: ReadonlySet<string> = new Set(), code: ErrorCode = 'MASK_FAILED'): PgbranchError {
  if (cause instanceof PgbranchError) return cause;
  const fields = (cause ?? {}) as PgErrorFields;
  const sqlstate = fields.code ?? 'unknown';
  const message = redactServerMessage((cause as Error)?.message ?? String(cause), knownNames);
  const details: Record<string, unknown> = { sqlstate };
  for (const key of ['constraint', 'table', 'column', 'schema'] as const) if (fields[key]) details[key] = fields[key];
  const safeCause = Object.assign(new Error(`SQLSTATE ${sqlstate}: ${message}`), { code: sqlstate });
  return new PgbranchError(code, `${what} failed (SQLSTATE ${sqlstate}): ${message}`, { cause: safeCause, details });
}

/** Runs one statement; a failure becomes a redacted PgbranchError. */
export async function run<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.Client,
  what: string,
  sql: string,
  params?: readonly unknown[],
  knownNames?: ReadonlySet<string>,
): Promise<pg.QueryResult<R>> {
  try {
    return await client.query<R>(sql, params as unknown[] | undefined);
  } catch (cause) {
    throw maskingError(what, cause, knownNames);
  }
}
