import type { BranchRecord } from '../state/index.js';

export type BranchState = 'running' | 'stopped';

/** What the domain reports about a branch (never the password: see ConnectionInfo). */
export interface BranchView {
  readonly id: string;
  readonly name: string;
  readonly parent: string | null;
  /** True when the parent was deleted after this branch was made (the branch keeps working). */
  readonly parentDeleted: boolean;
  readonly state: BranchState;
  readonly desiredState: BranchState;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly source: Record<string, unknown>;
  readonly branchPoint: { readonly lsn: string | null; readonly time: string | null };
  readonly createdAt: string;
  readonly resetAt: string | null;
  /** Bytes this branch does not share with any other branch (null if not measured). */
  readonly ownBytes: number | null;
  readonly totalBytes: number | null;
}

export interface ConnectionInfo {
  readonly branch: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
  /** postgresql:// URI accepted as is by psql, libpq, node-postgres, postgres.js and Prisma. */
  readonly url: string;
}

export function toView(
  record: BranchRecord,
  parentName: string | null,
  state: BranchState,
  usage: { ownBytes: number; totalBytes: number } | undefined,
): BranchView {
  return {
    id: record.id,
    name: record.name,
    parent: parentName ?? record.parentName,
    parentDeleted: record.parentName !== null && record.parentId === null,
    state,
    desiredState: record.desiredState,
    port: record.port,
    database: record.dbName,
    user: record.dbUser,
    source: JSON.parse(record.source) as Record<string, unknown>,
    branchPoint: { lsn: record.branchLsn, time: record.branchTime },
    createdAt: record.createdAt,
    resetAt: record.resetAt,
    ownBytes: usage?.ownBytes ?? null,
    totalBytes: usage?.totalBytes ?? null,
  };
}

export function connectionInfo(record: BranchRecord, host = '127.0.0.1'): ConnectionInfo {
  const url =
    `postgresql://${encodeURIComponent(record.dbUser)}:${encodeURIComponent(record.password)}` +
    `@${host}:${record.port}/${encodeURIComponent(record.dbName)}`;
  return {
    branch: record.name,
    host,
    port: record.port,
    user: record.dbUser,
    database: record.dbName,
    password: record.password,
    url,
  };
}
