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

export interface FakeGitHub {
  readonly url: string;
  /** Every request as received: method, path with query, Authorization header. */
  readonly requests: { method: string; url: string; authorization: string | undefined }[];
  setRepo(fullName: string, repo: FakeRepo): void;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest/pulls/pulls';

/**
 * The part of the GitHub REST API pgbranch uses, as documented:
 * - `GET /repos/{owner}/{repo}/pulls`: `state` (open|closed|all, default open), `per_page`
 *   (default 30, max 100), `page` (default 1), newest first; `Link` header with next/last (and
 *   prev/first after page 1) pointing at `/repositories/{id}/pulls?…` like GitHub does.
 * - `GET /repos/{owner}/{repo}/pulls/{number}`: one pull request, 404 if there is none.
 * - 401 "Bad credentials" for an invalid token; 404 for unknown (or hidden private) repositories;
 *   `x-ratelimit-*` headers on every answer.
 */
export async function startFakeGitHub(options: { token?: string } = {}): Promise<FakeGitHub> {
  const repos = new Map<string, FakeRepo & { id: number }>();
  const requests: FakeGitHub['requests'] = [];
  let nextId = 1000;
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

  const handle = (req: IncomingMessage, res: ServerResponse, base: string) => {
    const authorization = req.headers.authorization;
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization });
    remaining = Math.max(0, remaining - 1);
    const url = new URL(req.url ?? '/', base);
    let authenticated = false;
    if (authorization !== undefined) {
      const match = /^(?:Bearer|token) (.+)$/i.exec(authorization);
      if (!match || match[1] !== options.token) return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
      authenticated = true;
    }
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
  const server = createServer((req, res) => handle(req, res, base));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    setRepo(fullName, repo) {
      repos.set(fullName, { ...repo, id: repos.get(fullName)?.id ?? nextId++ });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
