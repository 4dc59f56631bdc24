import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePull {
  readonly number: number;
  readonly state: 'open' | 'closed';
  readonly merged?: boolean;
}

export interface FakeRepo {
  readonly pulls: readonly FakePull[];
  /** Private repositories answer 404 (not 403) without a valid token, as GitHub does. */
  readonly private?: boolean;
}

export interface FakeComment {
  readonly id: number;
  readonly issue: number;
  readonly body: string;
  readonly user: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface FakeGitHub {
  readonly url: string;
  /** Every request as received: method, path with query, Authorization header, body (if any). */
  readonly requests: { method: string; url: string; authorization: string | undefined; body?: string }[];
  setRepo(fullName: string, repo: FakeRepo): void;
  /** The comments of an issue or pull request, oldest first. */
  comments(fullName: string, issue: number): FakeComment[];
  /** A comment by someone else (a reviewer), as if posted through the web UI. */
  addComment(fullName: string, issue: number, body: string, user?: string): FakeComment;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest/pulls/pulls';
const COMMENT_DOCS = 'https://docs.github.com/rest/issues/comments';
/** GitHub's limit on an issue comment's body. */
const MAX_BODY_CHARS = 65536;

/**
 * The part of the GitHub REST API pgbranch uses, as documented:
 * - `GET /repos/{owner}/{repo}/pulls`: `state` (open|closed|all, default open), `per_page`
 *   (default 30, max 100), `page` (default 1), newest first; `Link` header with next/last (and
 *   prev/first after page 1) pointing at `/repositories/{id}/pulls?…` like GitHub does.
 * - `GET /repos/{owner}/{repo}/pulls/{number}`: one pull request, 404 if there is none.
 * - Issue comments (a pull request is an issue; its number is an issue number):
 *   `GET /repos/{owner}/{repo}/issues/{number}/comments` (`per_page` default 30 max 100, `page`,
 *   `since`; ascending by id; `Link` pagination like pulls), `POST` the same path with `{"body"}`
 *   (201, `Location` header; needs a token: 401 "Requires authentication" without one),
 *   `PATCH /repos/{owner}/{repo}/issues/comments/{id}` with `{"body"}` (200; 404 unknown id). A
 *   missing, non-string or longer than 65,536 characters body is 422 "Validation Failed". 404 for
 *   an issue number that does not exist.
 * - 401 "Bad credentials" for an invalid token; 404 for unknown (or hidden private) repositories;
 *   `x-ratelimit-*` headers on every answer.
 */
export async function startFakeGitHub(options: { token?: string } = {}): Promise<FakeGitHub> {
  const repos = new Map<string, FakeRepo & { id: number }>();
  const comments = new Map<string, FakeComment[]>();
  const requests: FakeGitHub['requests'] = [];
  let nextId = 1000;
  let nextCommentId = 1_000_000;
  const commentsOf = (fullName: string): FakeComment[] => {
    let list = comments.get(fullName);
    if (!list) comments.set(fullName, (list = []));
    return list;
  };
  const newComment = (fullName: string, issue: number, body: string, user: string): FakeComment => {
    const at = new Date().toISOString();
    const comment = { id: nextCommentId++, issue, body, user, createdAt: at, updatedAt: at };
    commentsOf(fullName).push(comment);
    return comment;
  };
  let remaining = 5000;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'x-github-api-version-selected': '2022-11-28',
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(5000 - remaining),
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
  const notFound = (res: ServerResponse) => send(res, 404, { message: 'Not Found', documentation_url: DOCS, status: '404' });

  const pullJson = (base: string, fullName: string, p: FakePull) => ({
    url: `${base}/repos/${fullName}/pulls/${p.number}`,
    number: p.number,
    state: p.state,
    title: `PR ${p.number}`,
    closed_at: p.state === 'closed' ? '2026-01-01T00:00:00Z' : null,
    merged_at: p.merged ? '2026-01-01T00:00:00Z' : null,
    head: { ref: `feature-${p.number}` },
    base: { ref: 'main' },
  });

  const commentJson = (base: string, fullName: string, c: FakeComment) => ({
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${base}/repos/${fullName}/issues/comments/${c.id}`,
    html_url: `https://github.com/${fullName}/pull/${c.issue}#issuecomment-${c.id}`,
    issue_url: `${base}/repos/${fullName}/issues/${c.issue}`,
    body: c.body,
    user: { login: c.user, type: c.user.endsWith('[bot]') ? 'Bot' : 'User' },
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    author_association: 'NONE',
  });

  const invalidBody = (res: ServerResponse, body: unknown): boolean => {
    const text = (body as { body?: unknown } | null)?.body;
    if (typeof text === 'string' && text.length <= MAX_BODY_CHARS) return false;
    const message = typeof text === 'string' ? `body is too long (maximum is ${MAX_BODY_CHARS} characters)` : 'body is missing';
    send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'IssueComment', code: 'custom', field: 'body', message }], documentation_url: COMMENT_DOCS, status: '422' });
    return true;
  };

  const handleComments = (req: IncomingMessage, res: ServerResponse, base: string, url: URL, authenticated: boolean, rawBody: string): boolean => {
    const list = /^\/(?:repos\/([^/]+\/[^/]+)|repositories\/(\d+))\/issues\/(\d+)\/comments$/.exec(url.pathname);
    const one = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname);
    if (!list && !one) return false;
    const fullName = list?.[2]
      ? [...repos.entries()].find(([, r]) => String(r.id) === list[2])?.[0]
      : [...repos.keys()].find((k) => k.toLowerCase() === (list?.[1] ?? one![1])!.toLowerCase());
    const repo = fullName === undefined ? undefined : repos.get(fullName);
    if (!repo || !fullName || (repo.private && !authenticated)) {
      notFound(res);
      return true;
    }
    const parsed = (): unknown => {
      try {
        return JSON.parse(rawBody);
      } catch {
        return null;
      }
    };
    const needsAuth = (): boolean => {
      if (authenticated) return false;
      send(res, 401, { message: 'Requires authentication', documentation_url: COMMENT_DOCS, status: '401' });
      return true;
    };
    if (one) {
      if (req.method !== 'PATCH') {
        notFound(res);
        return true;
      }
      if (needsAuth()) return true;
      const all = commentsOf(fullName);
      const index = all.findIndex((c) => c.id === Number(one[2]));
      if (index < 0) {
        notFound(res);
        return true;
      }
      const body = parsed();
      if (invalidBody(res, body)) return true;
      all[index] = { ...all[index]!, body: (body as { body: string }).body, updatedAt: new Date().toISOString() };
      send(res, 200, commentJson(base, fullName, all[index]!));
      return true;
    }
    const issue = Number(list![3]);
    if (!repo.pulls.some((p) => p.number === issue)) {
        notFound(res);
        return true;
      }
    if (req.method === 'POST') {
      if (needsAuth()) return true;
      const body = parsed();
      if (invalidBody(res, body)) return true;
      const comment = newComment(fullName, issue, (body as { body: string }).body, 'github-actions[bot]');
      const json = commentJson(base, fullName, comment);
      send(res, 201, json, { location: json.url });
      return true;
    }
    if (req.method !== 'GET') {
        notFound(res);
        return true;
      }
    const since = url.searchParams.get('since');
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const matching = commentsOf(fullName)
      .filter((c) => c.issue === issue && (since === null || c.updatedAt >= since))
      .sort((a, b) => a.id - b.id);
    const lastPage = Math.max(1, Math.ceil(matching.length / perPage));
    const link = (n: number, rel: string) => {
      const target = new URL(`/repositories/${repo.id}/issues/${issue}/comments`, base);
      target.searchParams.set('per_page', String(perPage));
      target.searchParams.set('page', String(n));
      return `<${target.href}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'));
    if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    send(res, 200, matching.slice((page - 1) * perPage, page * perPage).map((c) => commentJson(base, fullName, c)), links.length ? { link: links.join(', ') } : {});
    return true;
  };

  const handle = (req: IncomingMessage, res: ServerResponse, base: string, rawBody: string) => {
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization, ...(rawBody ? { body: rawBody } : {}) });
    remaining = Math.max(0, remaining - 1);
    const url = new URL(req.url ?? '/', base);
    let authenticated = false;
    if (authorization !== undefined) {
      const match = /^(?:Bearer|token) (.+)$/i.exec(authorization);
      if (!match || match[1] !== options.token) return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      authenticated = true;
    }
    if (handleComments(req, res, base, url, authenticated, rawBody)) return;
    if (req.method !== 'GET') return notFound(res);

    let fullName: string | undefined;
    let rest: string;
    const byName = /^\/repos\/([^/]+\/[^/]+)\/pulls(\/\d+)?$/.exec(url.pathname);
    const byId = /^\/repositories\/(\d+)\/pulls(\/\d+)?$/.exec(url.pathname);
    if (byName) {
      fullName = [...repos.keys()].find((k) => k.toLowerCase() === byName[1]!.toLowerCase());
      rest = byName[2] ?? '';
    } else if (byId) {
      fullName = [...repos.entries()].find(([, r]) => String(r.id) === byId[1])?.[0];
      rest = byId[2] ?? '';
    } else return notFound(res);
    const repo = fullName === undefined ? undefined : repos.get(fullName);
    if (!repo || !fullName || (repo.private && !authenticated)) return notFound(res);

    if (rest) {
      const pull = repo.pulls.find((p) => p.number === Number(rest.slice(1)));
      return pull ? send(res, 200, pullJson(base, fullName, pull)) : notFound(res);
    }
    const state = url.searchParams.get('state') ?? 'open';
    if (!['open', 'closed', 'all'].includes(state)) {
      return send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'Issue', field: 'state', code: 'invalid' }], documentation_url: DOCS, status: '422' });
    }
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const matching = repo.pulls.filter((p) => state === 'all' || p.state === state).sort((a, b) => b.number - a.number);
    const lastPage = Math.max(1, Math.ceil(matching.length / perPage));
    const items = matching.slice((page - 1) * perPage, page * perPage);
    const link = (n: number, rel: string) => {
      const target = new URL(`/repositories/${repo.id}/pulls`, base);
      target.searchParams.set('state', state);
      target.searchParams.set('per_page', String(perPage));
      target.searchParams.set('page', String(n));
      return `<${target.href}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'));
    if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    send(res, 200, items.map((p) => pullJson(base, fullName, p)), links.length ? { link: links.join(', ') } : {});
  };

  let base = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, base, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    setRepo(fullName, repo) {
      repos.set(fullName, { ...repo, id: repos.get(fullName)?.id ?? nextId++ });
    },
    comments: (fullName, issue) => commentsOf(fullName).filter((c) => c.issue === issue),
    addComment: (fullName, issue, body, user = 'reviewer') => newComment(fullName, issue, body, user),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
