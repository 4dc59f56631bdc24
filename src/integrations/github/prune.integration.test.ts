import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, testPoolSkipReason, type TestHost } from '../../test-support/test-host.js';
import { pruneClosedPullRequestBranches } from './index.js';
import { startFakeGitHub, type FakeGitHub, type FakePull } from './test-support/fake-github.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`GitHub prune tests skipped: ${skip}`);

/** PR-aware cleanup on a real host against the fake GitHub API (several pages of open PRs). */
describe.skipIf(skip !== undefined)('pruneClosedPullRequestBranches', () => {
  let t: TestHost;
  let gh: FakeGitHub;
  const names = async () => (await t.host.listBranches({ withUsage: false })).map((b) => b.name).sort();

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    gh = await startFakeGitHub({ token: 'ghs_t' });
    const pulls: FakePull[] = [];
    // 230 open PRs (3 pages), and 3, 150 and 231 closed.
    for (let n = 1; n <= 233; n++) pulls.push({ number: n, state: [3, 150, 231].includes(n) ? 'closed' : 'open', merged: n === 150 });
    gh.setRepo('acme/shop', { pulls, private: true });
    for (const name of ['pr-2', 'pr-3', 'pr-150', 'pr-200', 'pr-231', 'pr-999', 'staging']) await t.host.createBranch(name, { origin: { kind: 'parent', parent: 'main' } });
  });
  afterAll(async () => {
    await gh?.close();
    await t?.cleanup();
  });

  it('a dry run lists exactly the closed PRs and deletes nothing', async () => {
    const before = await names();
    const report = await pruneClosedPullRequestBranches(t.host, { repo: 'acme/shop', token: 'ghs_t', apiUrl: gh.url, dryRun: true });
    expect(report.closed.map((c) => c.branch)).toEqual(['pr-3', 'pr-150', 'pr-231']);
    expect(report.deleted).toEqual([]);
    expect(await names()).toEqual(before);
  });

  it('then deletes exactly those branches', async () => {
    const report = await pruneClosedPullRequestBranches(t.host, { repo: 'acme/shop', token: 'ghs_t', apiUrl: gh.url, dryRun: false });
    expect(report.deleted).toEqual(['pr-3', 'pr-150', 'pr-231']);
    expect(report.failed).toEqual([]);
    // pr-999 is unknown to GitHub: kept, like open PRs and non-PR branches.
    expect(await names()).toEqual(['main', 'pr-2', 'pr-200', 'pr-999', 'staging']);
  });

  it('`pgbranch gc --github` does the same from the CLI: dry run first, then deletes exactly the closed PRs', async () => {
    await t.host.createBranch('pr-232', { origin: { kind: 'parent', parent: 'main' } });
    await t.host.createBranch('pr-3', { origin: { kind: 'parent', parent: 'main' } });
    gh.setRepo('acme/shop', {
      pulls: Array.from({ length: 233 }, (_, i) => ({ number: i + 1, state: [3, 150, 231, 232].includes(i + 1) ? 'closed' : 'open', merged: false })),
      private: true,
    });
    const env = { GITHUB_TOKEN: 'ghs_t', GITHUB_API_URL: gh.url };
    const dry = await t.cliWithEnv(env, 'gc', '--github', 'acme/shop', '--dry-run', '-o', 'json');
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).closed.map((c: { branch: string }) => c.branch)).toEqual(['pr-3', 'pr-232']);
    expect(await names()).toContain('pr-232');
    const real = await t.cliWithEnv(env, 'gc', '--github', 'acme/shop');
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toMatch(/pr-232\s+#232\s+deleted/);
    expect(await names()).toEqual(['main', 'pr-2', 'pr-200', 'pr-999', 'staging']);
    const badToken = await t.cliWithEnv({ ...env, GITHUB_TOKEN: 'wrong' }, 'gc', '--github', 'acme/shop', '-o', 'json');
    expect(badToken.code).not.toBe(0);
    expect(badToken.stderr).not.toContain('ghs_t');
  });
});
