import { PgbranchError } from '../../errors.js';

/** The public GitHub API; GitHub Enterprise and tests pass their own (Actions sets GITHUB_API_URL). */
export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
const API_VERSION = '2022-11-28';

export interface GitHubClientOptions {
  /** `owner/repo`. */
  readonly repo: string;
  /** A token that can read pull requests; optional for public repositories. */
  readonly token?: string | undefined;
  readonly apiUrl?: string | undefined;
  readonly fetch?: typeof fetch;
}

export interface PullRequestSummary {
  readonly number: number;
  readonly state: 'open' | 'closed';
  readonly mergedAt: string | null;
  readonly closedAt: string | null;
}

export interface IssueComment {
  readonly id: number;
  readonly body: string;
  readonly htmlUrl: string;
  /** The author's login (`github-actions[bot]` for the workflow's own token). */
  readonly user: string;
}

const REPO_PATTERN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/**
 * The few GitHub REST calls pgbranch needs, on plain fetch: listing every open pull request
 * (following `Link: rel="next"` as GitHub documents, never building page URLs itself) and
 * reading one pull request.
 */
export function createGitHubClient(options: GitHubClientOptions) {
  if (!REPO_PATTERN.test(options.repo)) throw new PgbranchError('INVALID_ARGUMENT', `"${options.repo}" is not a GitHub repository: use owner/repo`);
  const apiUrl = (options.apiUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, '');
  const apiOrigin = new URL(apiUrl).origin;
  const fetchImpl = options.fetch ?? fetch;

  async function get(url: string): Promise<Response> {
    return send('GET', url);
  }

  async function send(method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': API_VERSION,
      'user-agent': 'pgbranch',
    };
    // The token only goes to the API's own origin, whatever a Link header says.
    if (options.token && new URL(url).origin === apiOrigin) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetchImpl(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (cause) {
      throw new PgbranchError('API_UNREACHABLE', `cannot reach the GitHub API at ${apiUrl}: ${(cause as Error).message}`, { cause, details: { apiUrl } });
    }
    return response;
  }

  async function failure(response: Response, what: string): Promise<PgbranchError> {
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    const message = `GitHub API: ${what}: ${response.status} ${body.message ?? response.statusText}`;
    const details = { status: response.status, repo: options.repo };
    if (response.status === 404) return new PgbranchError('NOT_FOUND', `${message} (unknown repository, or the token cannot see it)`, { details });
    if (response.status === 401) return new PgbranchError('PERMISSION_DENIED', `${message} (check the GitHub token)`, { details });
    if (response.status === 422) return new PgbranchError('INVALID_ARGUMENT', message, { details });
    if (response.status === 403 || response.status === 429) {
      const limited = response.headers.get('x-ratelimit-remaining') === '0';
      return new PgbranchError('PERMISSION_DENIED', limited ? `${message} (rate limit exhausted; resets at ${response.headers.get('x-ratelimit-reset')})` : message, { details });
    }
    return new PgbranchError('INTERNAL', message, { details });
  }

  return {
    /** Numbers of every open pull request, across all pages. */
    async openPullRequestNumbers(): Promise<Set<number>> {
      const numbers = new Set<number>();
      let url: string | undefined = `${apiUrl}/repos/${options.repo}/pulls?state=open&per_page=100`;
      for (let page = 0; url; page++) {
        if (page > 1000) throw new PgbranchError('INTERNAL', 'GitHub API: more than 1000 pages of open pull requests; refusing to continue');
        const response = await get(url);
        if (!response.ok) throw await failure(response, `listing open pull requests of ${options.repo}`);
        for (const pr of (await response.json()) as { number: number }[]) numbers.add(pr.number);
        url = nextLink(response.headers.get('link'));
      }
      return numbers;
    },
    /** One pull request, or null if there is no such number (404). */
    async pullRequest(number: number): Promise<PullRequestSummary | null> {
      const response = await get(`${apiUrl}/repos/${options.repo}/pulls/${number}`);
      if (response.status === 404) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok) throw await failure(response, `reading pull request #${number} of ${options.repo}`);
      const pr = (await response.json()) as { number: number; state: 'open' | 'closed'; merged_at: string | null; closed_at: string | null };
      return { number: pr.number, state: pr.state, mergedAt: pr.merged_at, closedAt: pr.closed_at };
    },
    /** Every comment of an issue or pull request (pull requests are issues), oldest first, across all pages. */
    async issueComments(number: number): Promise<IssueComment[]> {
      const comments: IssueComment[] = [];
      let url: string | undefined = `${apiUrl}/repos/${options.repo}/issues/${number}/comments?per_page=100`;
      for (let page = 0; url; page++) {
        if (page > 1000) throw new PgbranchError('INTERNAL', `GitHub API: more than 1000 pages of comments on #${number}; refusing to continue`);
        const response = await get(url);
        if (!response.ok) throw await failure(response, `listing the comments of #${number} in ${options.repo}`);
        for (const c of (await response.json()) as RawComment[]) comments.push(toComment(c));
        url = nextLink(response.headers.get('link'));
      }
      return comments;
    },
    async createIssueComment(number: number, body: string): Promise<IssueComment> {
      const response = await send('POST', `${apiUrl}/repos/${options.repo}/issues/${number}/comments`, { body });
      if (response.status !== 201) throw await failure(response, `commenting on #${number} in ${options.repo}`);
      return toComment((await response.json()) as RawComment);
    },
    async updateIssueComment(id: number, body: string): Promise<IssueComment> {
      const response = await send('PATCH', `${apiUrl}/repos/${options.repo}/issues/comments/${id}`, { body });
      if (!response.ok) throw await failure(response, `updating comment ${id} in ${options.repo}`);
      return toComment((await response.json()) as RawComment);
    },
  };
}

interface RawComment {
  id: number;
  body: string;
  html_url: string;
  user: { login: string } | null;
}

const toComment = (c: RawComment): IssueComment => ({ id: c.id, body: c.body, htmlUrl: c.html_url, user: c.user?.login ?? '' });

/** The `rel="next"` target of an RFC 8288 Link header, as GitHub sends it. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const match = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (match && /\brel="?([^"]*\s)?next(\s[^"]*)?"?/.test(match[2]!)) return match[1];
  }
  return undefined;
}
