import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPullRequestBranches, createGitHubClient, nextLink } from './index.js';
import { startFakeGitHub, type FakeGitHub, type FakePull } from './test-support/fake-github.js';

const TOKEN = 'ghs_faketoken123';

describe('closedPullRequestBranches against the documented GitHub API', () => {
  let gh: FakeGitHub;
  beforeAll(async () => {
    gh = await startFakeGitHub({ token: TOKEN });
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('finds exactly the branches of closed PRs, across several pages of open PRs', async () => {
    // 250 open PRs → 3 pages of 100; closed ones interleaved, some merged.
    const pulls: FakePull[] = [];
    for (let n = 1; n <= 300; n++) pulls.push(n % 6 === 0 ? { number: n, state: 'closed', merged: n % 12 === 0 } : { number: n, state: 'open' });
    gh.setRepo('acme/shop', { pulls, private: true });
    gh.requests.length = 0;
    const branches = ['main', 'staging', 'pr-5', 'pr-6', 'pr-12', 'pr-299', 'pr-300', 'pr-9999', 'pr-abc', 'pr-007', 'qa-6'];
    const closed = await closedPullRequestBranches({ repo: 'acme/shop', token: TOKEN, apiUrl: gh.url, branches });
    expect(closed.map((c) => c.branch)).toEqual(['pr-6', 'pr-12', 'pr-300']);
    expect(closed.find((c) => c.pr === 12)?.mergedAt).not.toBeNull();
    expect(closed.find((c) => c.pr === 6)?.mergedAt).toBeNull();
    // pr-9999 is unknown to GitHub: looked up, not taken for closed.
    const listing = gh.requests.filter((r) => r.url.includes('pulls?'));
    expect(listing).toHaveLength(3);
    expect(listing[0]!.url).toBe('/repos/acme/shop/pulls?state=open&per_page=100');
    expect(listing[1]!.url).toMatch(/^\/repositories\/\d+\/pulls\?state=open&per_page=100&page=2$/);
    expect(listing[2]!.url).toMatch(/page=3$/);
    expect(gh.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(gh.requests.map((r) => r.url).filter((u) => /pulls\/\d+$/.test(u)).sort()).toEqual(
      ['/repos/acme/shop/pulls/12', '/repos/acme/shop/pulls/300', '/repos/acme/shop/pulls/6', '/repos/acme/shop/pulls/9999'].sort(),
    );
  });

  it('asks nothing when no branch looks like a PR branch', async () => {
    gh.requests.length = 0;
    expect(await closedPullRequestBranches({ repo: 'acme/shop', token: TOKEN, apiUrl: gh.url, branches: ['main', 'dev'] })).toEqual([]);
    expect(gh.requests).toHaveLength(0);
  });

  it('honours a custom prefix', async () => {
    gh.setRepo('acme/site', { pulls: [{ number: 1, state: 'closed' }, { number: 2, state: 'open' }] });
    const closed = await closedPullRequestBranches({ repo: 'acme/site', apiUrl: gh.url, branches: ['review-1', 'review-2', 'pr-1'], prefix: 'review-' });
    expect(closed).toEqual([{ branch: 'review-1', pr: 1, mergedAt: null, closedAt: '2026-01-01T00:00:00Z' }]);
  });

  it('reports an unknown or hidden repository and a bad token with stable codes', async () => {
    await expect(closedPullRequestBranches({ repo: 'acme/nope', token: TOKEN, apiUrl: gh.url, branches: ['pr-1'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Private repository without a token: GitHub answers 404, not 403.
    await expect(closedPullRequestBranches({ repo: 'acme/shop', apiUrl: gh.url, branches: ['pr-1'] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(closedPullRequestBranches({ repo: 'acme/shop', token: 'wrong', apiUrl: gh.url, branches: ['pr-1'] })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
      message: expect.stringContaining('Bad credentials'),
    });
    expect(() => createGitHubClient({ repo: 'not a repo' })).toThrow(/owner\/repo/);
  });
});

describe('nextLink', () => {
  it('reads rel="next" from a GitHub Link header', () => {
    const header =
      '<https://api.github.com/repositories/1300192/pulls?page=1>; rel="prev", <https://api.github.com/repositories/1300192/pulls?page=3>; rel="next", <https://api.github.com/repositories/1300192/pulls?page=5>; rel="last"';
    expect(nextLink(header)).toBe('https://api.github.com/repositories/1300192/pulls?page=3');
    expect(nextLink('<https://x/?page=4>; rel="last"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });
});
