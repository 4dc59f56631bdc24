import type { BranchRecord, DesiredState } from '../state/index.js';

/**
 * running: the instance is up. suspended: stopped for idleness, woken by the next connection
 * through the endpoint. stopped: stopped on request; connections are refused until started.
 */
export type BranchState = 'running' | 'suspended' | 'stopped';

/** What the domain reports about a branch (never the password: see ConnectionInfo). */
export interface BranchView {
  readonly id: string;
  readonly name: string;
  readonly parent: string | null;
  /** True when the parent was deleted after this branch was made (the branch keeps working). */
  readonly parentDeleted: boolean;
  readonly state: BranchState;
  readonly desiredState: DesiredState;
  /** Idle time after which the host suspends the branch (0 = never). */
  readonly idleTimeoutMs: number;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly source: Record<string, unknown>;
  readonly branchPoint: { readonly lsn: string | null; readonly time: string | null };
  readonly createdAt: string;
  readonly resetAt: string | null;
  /** Delete, reset and expiry are refused until unprotected. */
  readonly protected: boolean;
  /** When the host deletes the branch (ISO-8601); null = never. */
  readonly expiresAt: string | null;
  /** Bytes this branch does not share with any other branch (null if not measured). */
  readonly ownBytes: number | null;
  /** Bytes shared with other branches (copy-on-write): total minus own; null if not measured. */
  readonly sharedBytes: number | null;
  readonly totalBytes: number | null;
  /** Cap on ownBytes, enforced by the storage driver (writes past it fail as "disk full"); null = none. */
  readonly maxOwnBytes: number | null;
  /** Audit actor that created the branch (`token:<id>`, `local:<user>`, `host`); null if unknown. */
  readonly createdBy: string | null;
}

export interface EndpointAddress {
  readonly host: string;
  readonly port: number;
}

export interface ConnectionInfo {
  readonly branch: string;
  /** Direct (unpooled, loopback-only) address of the branch's own instance. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
  /**
   * Direct postgresql:// URI (like DATABASE_URL_UNPOOLED), accepted as is by psql, libpq,
   * node-postgres, postgres.js and Prisma. Does not wake a suspended branch.
   */
  readonly url: string;
  /**
   * Through the host's Postgres endpoint (like DATABASE_URL): one host:port for every branch,
   * wakes suspended branches. The branch travels in the user name, `<role>.<branch>`, which
   * every mainstream client passes through untouched. Null when the endpoint port is not known.
   */
  readonly endpoint: { readonly host: string; readonly port: number; readonly user: string; readonly url: string } | null;
}

/** User name that routes an endpoint connection: `<role>.<branch>` (split at the first dot). */
export function endpointUser(role: string, branch: string): string {
  return `${role}.${branch}`;
}

export function toView(
  record: BranchRecord,
  parentName: string | null,
  running: boolean,
  idleTimeoutMs: number,
  usage: { ownBytes: number; totalBytes: number } | undefined,
): BranchView {
  const state: BranchState = running ? 'running' : record.desiredState === 'suspended' ? 'suspended' : 'stopped';
  return {
    id: record.id,
    name: record.name,
    parent: parentName ?? record.parentName,
    parentDeleted: record.parentName !== null && record.parentId === null,
    state,
    desiredState: record.desiredState,
    idleTimeoutMs,
    port: record.port,
    database: record.dbName,
    user: record.dbUser,
    source: JSON.parse(record.source) as Record<string, unknown>,
    branchPoint: { lsn: record.branchLsn, time: record.branchTime },
    createdAt: record.createdAt,
    resetAt: record.resetAt,
    protected: record.protected,
    expiresAt: record.expiresAt,
    ownBytes: usage?.ownBytes ?? null,
    sharedBytes: usage ? Math.max(0, usage.totalBytes - usage.ownBytes) : null,
    totalBytes: usage?.totalBytes ?? null,
    maxOwnBytes: record.maxOwnBytes,
    createdBy: record.createdBy,
  };
}

const pgUrl = (user: string, password: string, host: string, port: number, database: string): string =>
  `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;

export function connectionInfo(record: BranchRecord, endpoint: EndpointAddress | null, host = '127.0.0.1'): ConnectionInfo {
  const url = pgUrl(record.dbUser, record.password, host, record.port, record.dbName);
  const routedUser = endpointUser(record.dbUser, record.name);
  return {
    branch: record.name,
    host,
    port: record.port,
    user: record.dbUser,
    database: record.dbName,
    password: record.password,
    url,
    endpoint: endpoint && {
      host: endpoint.host,
      port: endpoint.port,
      user: routedUser,
      url: pgUrl(routedUser, record.password, endpoint.host, endpoint.port, record.dbName),
    },
  };
}
