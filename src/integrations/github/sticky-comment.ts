import { PgbranchError } from '../../errors.js';
import { createGitHubClient, type GitHubClientOptions, type IssueComment } from './client.js';

export interface StickyCommentOptions extends GitHubClientOptions {
  /** The pull request (or issue) number. */
  readonly number: number;
  /** A hidden line (an HTML comment) that marks the comment as ours; must appear in `body`. */
  readonly marker: string;
  readonly body: string;
}

/**
 * One comment per pull request and marker, updated in place: the first run posts it, later runs
 * find it by its hidden marker among every comment of the pull request (all pages) and PATCH it,
 * so a PR shows the current state instead of a comment per push. Only a comment that starts with
 * the marker counts, so a reply quoting it is never overwritten.
 */
export async function upsertStickyComment(options: StickyCommentOptions): Promise<{ comment: IssueComment; created: boolean }> {
  if (!options.body.startsWith(options.marker)) {
    throw new PgbranchError('INVALID_ARGUMENT', 'a sticky comment must start with its marker (that is how the next run finds it)');
  }
  const github = createGitHubClient(options);
  const existing = (await github.issueComments(options.number)).find((c) => c.body.startsWith(options.marker));
  if (existing) return { comment: await github.updateIssueComment(existing.id, options.body), created: false };
  return { comment: await github.createIssueComment(options.number, options.body), created: true };
}
