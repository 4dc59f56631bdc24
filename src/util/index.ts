/**
 * Small helpers every layer may use (the bottom layer with `errors.ts`): child processes, logs,
 * waiting on a condition, an in-process mutex, crash injection. No pgbranch concept lives here.
 */
export { run, which, type RunOptions, type RunResult } from './exec.js';
export { failpoint } from './failpoint.js';
export { runHooks, type HookFailure, type HookRun, type HookStep, type RunHooksOptions } from './hooks.js';
export { createLogger, log, REDACTED_KEYS } from './log.js';
export { ForegroundActivity } from './foreground.js';
export { withMutex } from './mutex.js';
export { waitFor, type WaitOptions } from './wait.js';
export { parseServerTiming, recordStep, serverTimingHeader, timed, withStepTimings } from './steps.js';
