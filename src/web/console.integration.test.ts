import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../api/index.js';
import { sql } from '../branches/test-support/host-invariants.js';
import { testPoolSkipReason } from '../branches/test-support/test-host.js';
import { startServedHost, type ServedHost } from '../integrations/test-support/serve.js';
import { waitFor } from '../util/wait.js';
import { browserSkipReason, launchConsoleBrowser, type ConsoleBrowser, type ConsoleTab } from './test-support/browser.js';

const REPO = resolve(import.meta.dirname, '../..');
const BUNDLE = join(REPO, 'dist/web/console/index.html');
const skip = (await testPoolSkipReason('btrfs')) ?? browserSkipReason();
if (skip) console.warn(`web console tests skipped: ${skip}`);

/** Buttons that change nothing: any other button is a mutating one. */
const READ_ONLY_BUTTONS = new Set([
  'Sign out',
  'Apply filters',
  'Reveal endpoint connection string',
  'Reveal direct connection string',
  'Hide endpoint connection string',
  'Hide direct connection string',
  'Copy endpoint connection string',
  'Copy direct connection string',
]);

describe.skipIf(skip !== undefined)('web console in a real browser against a real `pgbranch serve`', () => {
  let served: ServedHost;
  let browser: ConsoleBrowser;
  let admin: string;
  let reader: string;
  const tabs: ConsoleTab[] = [];

  /** Calls the served API as a client would (setup and checks go through the same server). */
  async function api(token: string, method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${served.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return text === '' ? null : JSON.parse(text);
  }

  async function open(): Promise<ConsoleTab> {
    const tab = await browser.open(`${served.apiUrl}/`);
    tabs.push(tab);
    return tab;
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Branches' }).waitFor();
  }

  async function treeRows(page: Page): Promise<{ name: string; parent: string; state: string; text: string }[]> {
    return page.locator('table.tree tbody tr').evaluateAll((rows) =>
      rows.map((r) => ({
        name: r.getAttribute('data-branch') ?? '',
        parent: r.getAttribute('data-parent') ?? '',
        state: r.getAttribute('data-state') ?? '',
        text: r.textContent ?? '',
      })),
    );
  }

  /** The accessible names of the page's buttons (dialogs closed). */
  async function buttonNames(page: Page): Promise<string[]> {
    return page.getByRole('button').evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label') ?? (b.textContent ?? '').trim()));
  }

  async function openBranch(page: Page, name: string): Promise<void> {
    await page.getByRole('link', { name, exact: true }).first().click();
    await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
  }

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` (npm test does)`);
    // Request lines are logged at info: the secret checks below must look at a log that has them.
    const level = process.env.PGBRANCH_LOG_LEVEL;
    process.env.PGBRANCH_LOG_LEVEL = 'info';
    try {
      served = await startServedHost();
    } finally {
      if (level === undefined) delete process.env.PGBRANCH_LOG_LEVEL;
      else process.env.PGBRANCH_LOG_LEVEL = level;
    }
    admin = (await served.t.host.createToken({ name: 'console-admin', role: 'admin' })).token;
    reader = (await served.t.host.createToken({ name: 'console-reader', role: 'read' })).token;
    // main ─┬─ feature-a (suspended) ── qa (stopped)
    //       ├─ pr-7 ── pr-7-fix (protected)
    //       └─ kb
    await api(admin, 'POST', '/v1/branches', { name: 'feature-a', parent: 'main' });
    await api(admin, 'POST', '/v1/branches', { name: 'qa', parent: 'feature-a' });
    await api(admin, 'POST', '/v1/branches', { name: 'pr-7', parent: 'main', ttl_ms: 3 * 86_400_000 });
    await api(admin, 'POST', '/v1/branches', { name: 'pr-7-fix', parent: 'pr-7' });
    await api(admin, 'POST', '/v1/branches', { name: 'kb', parent: 'main' });
    await api(admin, 'POST', '/v1/branches/qa/stop');
    await api(admin, 'POST', '/v1/branches/feature-a/suspend');
    await api(admin, 'PATCH', '/v1/branches/pr-7-fix', { protected: true });
    await api(admin, 'POST', '/v1/snapshots', { branch: 'main', name: 'nightly' });
    await api(admin, 'POST', '/v1/snapshots', { branch: 'pr-7', name: 'pr-7-before' });
    browser = await launchConsoleBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  });

  it('serves the page with a strict CSP; signed in, the tree shows every branch with its parent and state', async () => {
    const res = await fetch(`${served.apiUrl}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toContain('unsafe');

    const { page, errors } = await open();
    await signIn(page, admin);
    await waitFor(async () => ((await treeRows(page)).length === 6 ? true : undefined), { timeoutMs: 15_000, intervalMs: 100, what: 'six rows in the tree' });
    const rows = await treeRows(page);
    expect(rows.map(({ name, parent, state }) => ({ name, parent, state }))).toEqual([
      { name: 'main', parent: '', state: 'running' },
      { name: 'feature-a', parent: 'main', state: 'suspended' },
      { name: 'qa', parent: 'feature-a', state: 'stopped' },
      { name: 'pr-7', parent: 'main', state: 'running' },
      { name: 'pr-7-fix', parent: 'pr-7', state: 'running' },
      { name: 'kb', parent: 'main', state: 'running' },
    ]);
    // Nesting is visible, not only in attributes: each child is indented one level below its parent.
    const depth = (name: string) => page.locator(`tr[data-branch="${name}"] th`).getAttribute('class');
    expect(await depth('main')).toContain('depth-0');
    expect(await depth('qa')).toContain('depth-2');
    expect(rows.find((r) => r.name === 'pr-7')!.text).toMatch(/PR #7/);
    expect(rows.find((r) => r.name === 'pr-7')!.text).toMatch(/in 2d 23h|in 3d/);
    expect(rows.find((r) => r.name === 'pr-7-fix')!.text).toContain('protected');

    // Sizes come from the slower measured list and appear as bars.
    await page.locator('tr[data-branch="main"] svg.size-bar').waitFor({ timeout: 15_000 });

    // Live: a branch made elsewhere appears without reloading.
    await api(admin, 'POST', '/v1/branches', { name: 'live-1', parent: 'kb' });
    await waitFor(async () => ((await treeRows(page)).some((r) => r.name === 'live-1' && r.parent === 'kb') ? true : undefined), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: 'live-1 to appear in the tree without a reload',
    });
    await api(admin, 'DELETE', '/v1/branches/live-1');

    if (process.env.PGBRANCH_CONSOLE_SCREENSHOTS) {
      mkdirSync(join(REPO, 'docs'), { recursive: true });
      await waitFor(async () => ((await treeRows(page)).length === 6 ? true : undefined), { timeoutMs: 15_000, intervalMs: 100, what: 'live-1 gone' });
      await page.screenshot({ path: join(REPO, 'docs/console-tree.png') });
      await openBranch(page, 'pr-7');
      await page.screenshot({ path: join(REPO, 'docs/console-branch.png'), fullPage: true });
    }
    expect(errors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  });
});
