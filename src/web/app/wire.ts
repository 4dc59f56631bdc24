/**
 * The /v1 wire types the console reads: the API's own (type-only, erased from the bundle), so a
 * change of shape breaks the console's type check rather than the page.
 */
import type { ApiAuditEntry, ApiBranch, ApiCallerToken, ApiConnection, ApiHostStatus, ApiSnapshot } from '../../api/index.js';

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

/**
 * Source sync of a root that follows its source (hot standby). Not in the API yet: the console
 * shows it when a branch carries a `sync` field and hides it otherwise. Every member is optional
 * because its final shape is not settled; see `syncSummary`.
 */
export interface BranchSync {
  readonly state?: string;
  readonly lag_bytes?: number | null;
  readonly lag_ms?: number | null;
  readonly source?: string;
}

export type Branch = ApiBranch & { readonly sync?: BranchSync | null };
