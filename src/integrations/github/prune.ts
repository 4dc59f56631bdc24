import type { BranchService } from '../../branches/index.js';
import { toPgbranchError } from '../../errors.js';
import { closedPullRequestBranches, type ClosedPullRequestBranch } from './cleanup.js';
import type { GitHubClientOptions } from './client.js';

export interface PruneOptions extends GitHubClientOptions {
  readonly prefix?: string;
  /** Report what would be deleted without deleting (what `gc --github` does first). */
  readonly dryRun: boolean;
}

export interface PruneReport {
  readonly dryRun: boolean;
  /** Branches whose pull request is closed: deleted, or to be deleted on a dry run. */
  readonly closed: readonly ClosedPullRequestBranch[];
  readonly deleted: readonly string[];
  /** Branches that could not be deleted (e.g. protected), with the error code; the rest still go. */
  readonly failed: readonly { branch: string; code: string; message: string }[];
}

/** `gc --github owner/repo`: deletes the `pr-<n>` branches of closed pull requests. */
export async function pruneClosedPullRequestBranches(service: BranchService, options: PruneOptions): Promise<PruneReport> {
  const branches = (await service.listBranches({ withUsage: false })).map((b) => b.name);
  const closed = await closedPullRequestBranches({ ...options, branches });
  const deleted: string[] = [];
  const failed: { branch: string; code: string; message: string }[] = [];
  if (!options.dryRun) {
    for (const { branch } of closed) {
      try {
        await service.deleteBranch(branch);
        deleted.push(branch);
      } catch (err) {
        const error = toPgbranchError(err);
        failed.push({ branch, code: error.code, message: error.message });
      }
    }
  }
  return { dryRun: options.dryRun, closed, deleted, failed };
}
