import { createGitHubClient, type GitHubClientOptions } from './client.js';

export interface ClosedPullRequestBranch {
  readonly branch: string;
  readonly pr: number;
  readonly mergedAt: string | null;
  readonly closedAt: string | null;
}

export interface ClosedPullRequestBranchesOptions extends GitHubClientOptions {
  /** Branch names to consider (usually every branch of the host). */
  readonly branches: readonly string[];
  /** Branches named `<prefix><number>` belong to pull request <number> (default `pr-`). */
  readonly prefix?: string;
}

/**
 * The branches whose pull request is closed (merged or not), for `gc --github`. One listing of
 * the open pull requests sorts out the live ones; every other candidate is then confirmed closed
 * one by one, so a number GitHub does not know (a typo, another repository's branch, a failed
 * request) is never taken for closed: deleting is the one mistake we cannot undo.
 */
export async function closedPullRequestBranches(options: ClosedPullRequestBranchesOptions): Promise<ClosedPullRequestBranch[]> {
  const prefix = options.prefix ?? 'pr-';
  const candidates = options.branches.flatMap((branch) => {
    if (!branch.startsWith(prefix)) return [];
    const rest = branch.slice(prefix.length);
    return /^[1-9][0-9]*$/.test(rest) ? [{ branch, pr: Number(rest) }] : [];
  });
  if (candidates.length === 0) return [];
  const github = createGitHubClient(options);
  const open = await github.openPullRequestNumbers();
  const closed: ClosedPullRequestBranch[] = [];
  for (const candidate of candidates) {
    if (open.has(candidate.pr)) continue;
    const pr = await github.pullRequest(candidate.pr);
    if (pr?.state === 'closed') closed.push({ ...candidate, mergedAt: pr.mergedAt, closedAt: pr.closedAt });
  }
  return closed.sort((a, b) => a.pr - b.pr);
}
