/**
 * The one error catalogue. Every error pgbranch reports on purpose has a stable code here; edges
 * (CLI, API) map it to an exit code / HTTP status without knowing where it came from.
 * Messages are for humans and may change; codes may not.
 */

export interface ErrorSpec {
  /** HTTP status the API answers with. */
  readonly httpStatus: number;
  /** Process exit code the CLI ends with (see README "Exit codes"). */
  readonly exitCode: number;
  /** Short, stable title (the problem+json `title`). */
  readonly title: string;
}

export const ERROR_CATALOGUE = {
  INTERNAL: { httpStatus: 500, exitCode: 1, title: 'Internal error' },
  INVALID_ARGUMENT: { httpStatus: 400, exitCode: 2, title: 'Invalid argument' },
  USAGE: { httpStatus: 400, exitCode: 2, title: 'Usage error' },
  INVALID_BRANCH_NAME: { httpStatus: 400, exitCode: 2, title: 'Invalid branch name' },
  BRANCH_NOT_FOUND: { httpStatus: 404, exitCode: 3, title: 'Branch not found' },
  PARENT_NOT_FOUND: { httpStatus: 404, exitCode: 3, title: 'Parent branch not found' },
  BRANCH_EXISTS: { httpStatus: 409, exitCode: 4, title: 'Branch already exists' },
  SNAPSHOT_NOT_FOUND: { httpStatus: 404, exitCode: 3, title: 'Snapshot not found' },
  SNAPSHOT_EXISTS: { httpStatus: 409, exitCode: 4, title: 'Snapshot already exists' },
  BRANCH_STOPPED: { httpStatus: 409, exitCode: 4, title: 'Branch is stopped' },
  BRANCH_PROTECTED: { httpStatus: 409, exitCode: 4, title: 'Branch is protected' },
  ROOT_BRANCH_RESET: { httpStatus: 409, exitCode: 4, title: 'A root branch has no parent to reset from' },
  HOST_NOT_INITIALIZED: { httpStatus: 503, exitCode: 5, title: 'Host not initialised' },
  HOST_ALREADY_INITIALIZED: { httpStatus: 409, exitCode: 5, title: 'Host already initialised' },
  HOST_BUSY: { httpStatus: 503, exitCode: 6, title: 'Host busy' },
  PERMISSION_DENIED: { httpStatus: 403, exitCode: 7, title: 'Permission denied' },
  UNAUTHENTICATED: { httpStatus: 401, exitCode: 8, title: 'Missing or invalid API token' },
  TOKEN_NOT_FOUND: { httpStatus: 404, exitCode: 3, title: 'Token not found' },
  NOT_FOUND: { httpStatus: 404, exitCode: 3, title: 'Not found' },
  API_UNREACHABLE: { httpStatus: 502, exitCode: 9, title: 'pgbranch server unreachable' },
  STORAGE_UNAVAILABLE: { httpStatus: 503, exitCode: 10, title: 'Storage driver unavailable' },
  STORAGE_ERROR: { httpStatus: 500, exitCode: 10, title: 'Storage operation failed' },
  VOLUME_NOT_FOUND: { httpStatus: 500, exitCode: 10, title: 'Volume not found' },
  VOLUME_EXISTS: { httpStatus: 500, exitCode: 10, title: 'Volume already exists' },
  POSTGRES_BINARIES_NOT_FOUND: { httpStatus: 503, exitCode: 11, title: 'PostgreSQL binaries not found' },
  POSTGRES_START_FAILED: { httpStatus: 500, exitCode: 11, title: 'PostgreSQL failed to start' },
  POSTGRES_STOP_FAILED: { httpStatus: 500, exitCode: 11, title: 'PostgreSQL failed to stop' },
  POSTGRES_ERROR: { httpStatus: 500, exitCode: 11, title: 'PostgreSQL error' },
  PORT_IN_USE: { httpStatus: 409, exitCode: 11, title: 'Port already in use' },
  IMPORT_FAILED: { httpStatus: 500, exitCode: 12, title: 'Import failed' },
  CLIENT_TOOL_UNSUITABLE: { httpStatus: 500, exitCode: 12, title: 'No suitable PostgreSQL client tool' },
  HOOK_FAILED: { httpStatus: 422, exitCode: 13, title: 'Post-create hook failed' },
  QUOTA_EXCEEDED: { httpStatus: 422, exitCode: 14, title: 'Quota exceeded' },
  POOL_FULL: { httpStatus: 507, exitCode: 14, title: 'Pool below its free-space floor' },
  LIMIT_UNSUPPORTED: { httpStatus: 422, exitCode: 14, title: 'Storage cannot enforce a size limit' },
  SOURCE_UNREACHABLE: { httpStatus: 502, exitCode: 15, title: 'Replication source unreachable' },
  SOURCE_TLS_FAILED: { httpStatus: 502, exitCode: 15, title: 'TLS with the replication source failed' },
  SOURCE_AUTH_FAILED: { httpStatus: 422, exitCode: 15, title: 'Replication source refused the credentials' },
  SOURCE_REPLICATION_DENIED: { httpStatus: 422, exitCode: 15, title: 'Replication source denies replication' },
  SOURCE_WAL_LEVEL: { httpStatus: 422, exitCode: 15, title: 'Replication source wal_level too low' },
  SOURCE_NO_WAL_SENDERS: { httpStatus: 422, exitCode: 15, title: 'Replication source has no free WAL sender' },
  SOURCE_UNSUPPORTED: { httpStatus: 422, exitCode: 15, title: 'Replication source not supported' },
  REPLICATION_FAILED: { httpStatus: 502, exitCode: 15, title: 'Replication failed' },
  RECOVERY_TARGET_NOT_REACHED: { httpStatus: 422, exitCode: 15, title: 'Recovery target not reached' },
  MASK_RULES_INVALID: { httpStatus: 422, exitCode: 16, title: 'Masking rules are invalid' },
  MASK_UNCOVERED_COLUMNS: { httpStatus: 422, exitCode: 16, title: 'Personal-looking columns have no masking rule' },
  MASK_COLLISION: { httpStatus: 422, exitCode: 16, title: 'Masking broke a unique or foreign key constraint' },
  MASK_FAILED: { httpStatus: 500, exitCode: 16, title: 'Masking failed' },
  MASK_WIPE_UNSAFE: { httpStatus: 409, exitCode: 16, title: 'Data directory not ready for wiping' },
  MASK_RESIDUE_FOUND: { httpStatus: 500, exitCode: 16, title: 'Original values survive in the files' },
  BRANCH_MASKED: { httpStatus: 409, exitCode: 16, title: 'Masked branch cannot take unmasked data' },
  OPERATION_ABORTED: { httpStatus: 409, exitCode: 130, title: 'Operation aborted' },
  POINT_IN_TIME_UNAVAILABLE: { httpStatus: 422, exitCode: 15, title: 'Branch has no history window' },
  POINT_IN_TIME_OUT_OF_WINDOW: { httpStatus: 422, exitCode: 15, title: 'Point in time outside the history window' },
  NOT_A_SOURCE_ROOT: { httpStatus: 409, exitCode: 4, title: 'Branch has no source to sync from' },
  TABLE_NOT_FOUND: { httpStatus: 404, exitCode: 3, title: 'Table not found' },
  BRANCH_POINT_UNAVAILABLE: { httpStatus: 409, exitCode: 4, title: 'No branch point kept for this branch' },
  DATABASE_MISMATCH: { httpStatus: 422, exitCode: 16, title: 'The two sides hold different databases' },
  REBASE_CONFLICT: { httpStatus: 409, exitCode: 17, title: 'Rebase has conflicts' },
  REBASE_UNDO_UNAVAILABLE: { httpStatus: 409, exitCode: 4, title: 'No rebase to undo' },
  SCHEMA_DIFF_UNPROVEN: { httpStatus: 422, exitCode: 16, title: 'The schema script did not reproduce the target' },
  INSTALL_INCOMPLETE: { httpStatus: 503, exitCode: 18, title: 'pgbranch installation incomplete' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class PgbranchError extends Error {
  readonly code: ErrorCode;
  /**
   * Machine-readable context (never secrets). Its keys are snake_case whatever the thrower wrote,
   * since they reach users only as JSON (the API's problem, the CLI's `-o json` error), whose one
   * naming is snake_case. Only the top level is renamed: values may hold user-named keys (rows
   * keyed by column names) that no renaming may touch.
   */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PgbranchError';
    this.code = code;
    this.details = options.details && Object.fromEntries(Object.entries(options.details).map(([k, v]) => [snakeCaseKey(k), v]));
  }

  get spec(): ErrorSpec {
    return ERROR_CATALOGUE[this.code];
  }
}

const CAMEL_KEY = /^[a-z][a-zA-Z0-9]*$/;

/** `freeBytes` → `free_bytes`; keys that are not plain camelCase words are left as they are. */
export function snakeCaseKey(key: string): string {
  let snake = SNAKE.get(key);
  if (snake === undefined) {
    snake = CAMEL_KEY.test(key) ? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : key;
    // The keys are the views' field names, a few dozen: a list of 1,000 branches asks 25,000 times.
    if (SNAKE.size < 1000) SNAKE.set(key, snake);
  }
  return snake;
}
const SNAKE = new Map<string, string>();

export function isPgbranchError(err: unknown, code?: ErrorCode): err is PgbranchError {
  return err instanceof PgbranchError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a PgbranchError, keeping the original as `cause`. */
export function toPgbranchError(err: unknown, fallback: ErrorCode = 'INTERNAL', message?: string): PgbranchError {
  if (err instanceof PgbranchError) return err;
  const text = message ?? (err instanceof Error ? err.message : String(err));
  return new PgbranchError(fallback, text, { cause: err });
}
