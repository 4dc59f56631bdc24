export { closedPullRequestBranches, type ClosedPullRequestBranch, type ClosedPullRequestBranchesOptions } from './cleanup.js';
export { createGitHubClient, DEFAULT_GITHUB_API_URL, nextLink, type GitHubClientOptions, type PullRequestSummary } from './client.js';
export { upsertStickyComment, type StickyCommentOptions } from './sticky-comment.js';
export { type IssueComment } from './client.js';
export { pruneClosedPullRequestBranches, type PruneOptions, type PruneReport } from './prune.js';
