import { pino, type Logger } from 'pino';

/**
 * Logs go to stderr (stdout is for data). Fields that may hold secrets are redacted at the
 * logger, so a careless call site cannot leak them.
 */
export const REDACTED_KEYS = ['password', 'token', 'url', 'connectionString', 'secret', '*.password', '*.url', '*.token', '*.connectionString'];

export function createLogger(level: string = process.env.PGBRANCH_LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, redact: { paths: REDACTED_KEYS, censor: '[redacted]' } }, pino.destination(2));
}

export const log: Logger = createLogger();
