/**
 * The /v1 wire types the console reads: the API's own (type-only, erased from the bundle), so a
 * change of shape breaks the console's type check rather than the page.
 */
import type { ApiAuditEntry, ApiBranch, ApiCallerToken, ApiConnection, ApiDiff, ApiHostStatus, ApiRebaseBody, ApiRebaseReport, ApiSnapshot, ApiSource } from '../../api/index.js';

export type Role = ApiCallerToken['role'];
export type CallerToken = ApiCallerToken;
export type Snapshot = ApiSnapshot;
export type HostStatus = ApiHostStatus & {
  /**
   * Not in the API yet: the GitHub `owner/repo` pull requests belong to. When the host status
   * gains it, PR numbers become links; until then they are plain numbers.
   */
  readonly repository?: string | null;
};
export type AuditEntry = ApiAuditEntry;
export type Connection = ApiConnection;
/** GET /v1/branches/{name}/diff. */
export type Diff = ApiDiff;
/** POST /v1/branches/{name}/rebase: what the console sends and the report it gets back. */
export type RebaseRequest = ApiRebaseBody;
export type RebaseReport = ApiRebaseReport;

/** How a root keeps up with its source (GET /v1/branches/{name}/source): follow or refresh. */
export type Source = ApiSource;

/**
 * A branch as the console shows it: the API's, plus its source's state for a root made from a
 * live server (fetched separately, for those roots only).
 */
export type Branch = ApiBranch & { readonly sync?: Source | null };

/** Roots whose source the console asks for: followed (`follow`) or refreshable (`url`). */
export function hasSource(branch: ApiBranch): boolean {
  return branch.source.kind === 'follow' || branch.source.kind === 'url';
}
