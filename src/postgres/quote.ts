import pg from 'pg';
import { PgbranchError } from '../errors.js';

/**
 * Quoting is node-postgres's (`escapeIdentifier`, `escapeLiteral`); what is added here is the one
 * check it leaves out: PostgreSQL text cannot hold NUL, and a NUL would otherwise surface as an
 * obscure protocol error far from the name that carried it.
 */

/** SQL identifier, always double-quoted (so case and reserved words survive). */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new PgbranchError('INVALID_ARGUMENT', 'an SQL identifier must be non-empty and must not contain NUL', {
      cause: new Error(`bad identifier ${JSON.stringify(name)}`),
    });
  }
  return pg.escapeIdentifier(name);
}

/** SQL string literal; the E'' form when it holds a backslash, so standard_conforming_strings does not matter. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) {
    throw new PgbranchError('INVALID_ARGUMENT', 'an SQL literal must not contain NUL', { cause: new Error('NUL in literal') });
  }
  // pg puts a space before E'…' (for concatenation after a keyword): the callers place their own.
  return pg.escapeLiteral(value).trimStart();
}
