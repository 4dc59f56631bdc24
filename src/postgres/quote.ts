import { PgbranchError } from '../errors.js';

/** SQL identifier, always double-quoted (so case and reserved words survive). */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes('\0')) {
    throw new PgbranchError('INVALID_ARGUMENT', 'an SQL identifier must be non-empty and must not contain NUL', {
      cause: new Error(`bad identifier ${JSON.stringify(name)}`),
    });
  }
  return `"${name.replace(/"/g, '""')}"`;
}

/** SQL string literal for standard_conforming_strings = on (the default since 9.1). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) {
    throw new PgbranchError('INVALID_ARGUMENT', 'an SQL literal must not contain NUL', { cause: new Error('NUL in literal') });
  }
  // E'' form so a server with standard_conforming_strings = off reads it the same way.
  if (value.includes('\\')) return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return `'${value.replace(/'/g, "''")}'`;
}
