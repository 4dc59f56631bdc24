import { PgbranchError, type ErrorCode } from '../errors.js';

/** errno of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

const PERMISSION_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Turns a failed filesystem call into a catalogue error. Permission problems get their own code
 * because the fix (run as root, fix ownership) differs from a broken pool; a PgbranchError passes
 * through untouched so the innermost, most specific message wins.
 */
export function storageError(message: string, cause: unknown, details?: Record<string, unknown>): PgbranchError {
  if (cause instanceof PgbranchError) return cause;
  const errno = errnoCode(cause);
  const code: ErrorCode = errno !== undefined && PERMISSION_CODES.has(errno) ? 'PERMISSION_DENIED' : 'STORAGE_ERROR';
  const reason = cause instanceof Error ? cause.message : String(cause);
  const hint = errno === 'ENOSPC' ? ' (the pool is full)' : '';
  return new PgbranchError(code, `${message}: ${reason}${hint}`, { cause, details: { ...details, errno } });
}
