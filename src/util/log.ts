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
// The level the logger will have, kept apart until pino is loaded: a call below it (a debug line
// on every create) then costs nothing instead of loading pino to drop the line.
let pendingLevel = process.env.PGBRANCH_LOG_LEVEL ?? 'warn';
const logger = (): Logger => (real ??= createLogger(pendingLevel));
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const dropped = (): void => {};

/**
 * The process's logger, made on first use of a level it emits: most CLI calls never log, and
 * loading pino is a good part of a short command's start-up.
 */
export const log: Logger = new Proxy({} as Logger, {
  get(_target, key) {
    if (real === undefined && typeof key === 'string') {
      if (key === 'level') return pendingLevel;
      const at = LEVELS[key], threshold = LEVELS[pendingLevel];
      if (at !== undefined && threshold !== undefined && at < threshold) return dropped;
    }
    const target = logger();
    const value = Reflect.get(target, key, target) as unknown;
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
  },
  set(_target, key, value) {
    if (real === undefined && key === 'level' && typeof value === 'string' && value in LEVELS) {
      pendingLevel = value;
      return true;
    }
    return Reflect.set(logger(), key, value);
  },
});
