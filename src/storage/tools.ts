import { PgbranchError, type ErrorCode } from '../errors.js';
import { run, type RunOptions, type RunResult, which } from '../util/index.js';

/** Finds a system program, or explains which Debian package provides it. */
export async function requireTool(program: string, debianPackage: string, purpose: string): Promise<string> {
  const path = await which(program);
  if (path) return path;
  throw new PgbranchError('STORAGE_UNAVAILABLE', `${program} not found (needed to ${purpose}): install the Debian package ${debianPackage}`, {
    cause: new Error(`${program} is not on PATH nor in /usr/sbin or /sbin`),
    details: { program, debianPackage },
  });
}

/**
 * Runs a storage tool; a failure becomes `errorCode` with `message` in front of the tool's own
 * complaint, and the tool's error kept as `cause`.
 */
export async function runTool(
  program: string,
  args: readonly string[],
  message: string,
  options: RunOptions & { errorCode?: ErrorCode } = {},
): Promise<RunResult> {
  try {
    return await run(program, args, { ...options, env: { ...process.env, LC_ALL: 'C', ...options.env } });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PgbranchError(options.errorCode ?? 'STORAGE_ERROR', `${message}: ${reason}`, {
      cause: err,
      details: err instanceof PgbranchError ? err.details : undefined,
    });
  }
}
