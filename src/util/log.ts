import { createRequire } from 'node:module';
import type { Logger } from 'pino';

/**
 * Logs go to stderr (stdout is for data). Fields that may hold secrets are redacted at the
 * logger, so a careless call site cannot leak them.
 */
export const REDACTED_KEYS = ['password', 'token', 'url', 'connectionString', 'secret', '*.password', '*.url', '*.token', '*.connectionString'];

const require = createRequire(import.meta.url);

export function createLogger(level: string = process.env.PGBRANCH_LOG_LEVEL ?? 'warn'): Logger {
  const { pino } = require('pino') as typeof import('pino');
  return pino({ level, redact: { paths: REDACTED_KEYS, censor: '[redacted]' } }, pino.destination(2));
}

let real: Logger | undefined;
const logger = (): Logger => (real ??= createLogger());

/**
 * The process's logger, made on first use: most CLI calls never log, and loading pino is a good
 * part of a short command's start-up.
 */
export const log: Logger = new Proxy({} as Logger, {
  get(_target, key) {
    const target = logger();
    const value = Reflect.get(target, key, target) as unknown;
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  },
  set(_target, key, value) {
    return Reflect.set(logger(), key, value);
  },
});
