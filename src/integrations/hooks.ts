import type { ConnectionInfo } from '../branches/index.js';
import { PgbranchError } from '../errors.js';
import type { HookFailure } from '../util/index.js';

export { runHooks, type HookFailure, type HookRun, type HookStep, type RunHooksOptions } from '../util/index.js';

/**
 * The environment a hook sees. DATABASE_URL is the endpoint URL when the branch is reached
 * through a `pgbranch serve` host (a CI runner is usually another machine, and the direct
 * address is loopback-only); otherwise the direct one. PG* variables let `psql` and other
 * libpq tools connect without arguments (the direct address, like DATABASE_URL_UNPOOLED).
 */
export function hookEnvironment(info: ConnectionInfo, options: { preferEndpoint: boolean }): Record<string, string> {
  const pooled = options.preferEndpoint && info.endpoint ? info.endpoint.url : info.url;
  return {
    DATABASE_URL: pooled,
    DATABASE_URL_UNPOOLED: info.url,
    PGHOST: info.host,
    PGPORT: String(info.port),
    PGUSER: info.user,
    PGPASSWORD: info.password,
    PGDATABASE: info.database,
    PGBRANCH_BRANCH: info.branch,
  };
}

/** The stable error for a failed hook: its command, exit status and output tail in details. */
export function hookFailedError(failure: HookFailure, branch: string, kept: boolean): PgbranchError {
  const { step, outputTail } = failure;
  const status = step.signal ? `killed by ${step.signal}` : `exit code ${step.exitCode}`;
  const fate = kept ? 'kept (--keep-on-failure)' : 'deleted';
  const output = outputTail.trimEnd();
  return new PgbranchError(
    'HOOK_FAILED',
    `hook "${step.command}" failed on branch "${branch}" (${status}); the branch was ${fate}${output ? `\n--- output (tail) ---\n${output}` : ''}`,
    { details: { branch, command: step.command, exitCode: step.exitCode, signal: step.signal, durationMs: step.durationMs, branchKept: kept, output: outputTail } },
  );
}
