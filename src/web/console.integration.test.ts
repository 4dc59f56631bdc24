import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../api/index.js';
import { createTestCluster } from '../postgres/test-support/instance-fixture.js';
import { sql } from '../test-support/host-invariants.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { startServedHost, type ServedHost } from '../integrations/test-support/serve.js';
import { waitFor } from '../util/index.js';
import { browserSkipReason, launchConsoleBrowser, type ConsoleBrowser, type ConsoleTab } from './test-support/browser.js';

const REPO = resolve(import.meta.dirname, '../..');
const BUNDLE = join(REPO, 'dist/web/console/index.html');
const skip = (await testPoolSkipReason('btrfs')) ?? browserSkipReason();
if (skip) console.warn(`web console tests skipped: ${skip}`);

// In-page snippets are strings: this file is type-checked for Node, without the DOM library.
/** What the page keeps besides its markup: field values, storage, cookies. */
const IN_PAGE_STORED = `[
  ...[...document.querySelectorAll('input')].map((i) => i.value),
  JSON.stringify({ ...localStorage }),
  JSON.stringify({ ...sessionStorage }),
  document.cookie,
  String(localStorage.length + sessionStorage.length),
]`;

interface Focused {
  readonly tag: string;
  readonly name: string;
  readonly id: string;
  readonly inDialog: boolean;
  readonly outline: string;
}
/** The focused element: its tag, accessible name (label or text), whether a dialog holds it, its outline. */
const IN_PAGE_FOCUSED = `(() => {
  const el = document.activeElement;
  return {
    tag: el ? el.tagName.toLowerCase() : '',
    name: el ? el.getAttribute('aria-label') ?? (el.textContent ?? '').trim() : '',
    id: el ? el.id : '',
    inDialog: !!(el && el.closest('dialog')),
    outline: el ? getComputedStyle(el).outlineStyle : '',
  };
})()`;

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
  'Show changes',
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

  /** Waits until the locator's text contains `text` (playwright-core has no web-first assertions). */
  async function waitForText(locator: Locator, text: string, timeoutMs = 15_000): Promise<void> {
    await waitFor(async () => ((await locator.count()) > 0 && ((await locator.first().textContent()) ?? '').includes(text) ? true : undefined), {
      timeoutMs,
      intervalMs: 50,
      what: `"${text}" on the page`,
    });
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

    // A masked branch says so in the tree (badge with its rules and time in the title).
    const { url: kbUrl } = await served.t.host.connectionInfo('kb');
    await sql(kbUrl, `CREATE TABLE people (id int PRIMARY KEY, email text NOT NULL); INSERT INTO people SELECT g, 'p' || g || '@people.test' FROM generate_series(1, 50) g`);
    const masked = await api(admin, 'POST', '/v1/branches', { name: 'kb-masked', parent: 'kb', mask: 'version: 1\ntables:\n  people:\n    email: { fake: email }\n' });
    const badge = page.locator('tr[data-branch="kb-masked"] .badge.masked');
    await badge.waitFor({ timeout: 20_000 });
    expect(await badge.getAttribute('title')).toContain((masked.masked.rules_sha256 as string).slice(0, 12));
    expect(await page.locator('tr[data-branch="kb"] .badge.masked').count()).toBe(0);
    await api(admin, 'PATCH', '/v1/branches/kb-masked', { protected: false });
    await api(admin, 'DELETE', '/v1/branches/kb-masked');
    await sql(kbUrl, 'DROP TABLE people');

    if (process.env.PGBRANCH_CONSOLE_SCREENSHOTS) {
      mkdirSync(join(REPO, 'docs'), { recursive: true });
      await waitFor(async () => ((await treeRows(page)).length === 6 ? true : undefined), { timeoutMs: 15_000, intervalMs: 100, what: 'live-1 gone' });
      await page.screenshot({ path: join(REPO, 'docs/console-tree.png') });
      await openBranch(page, 'pr-7');
      await page.screenshot({ path: join(REPO, 'docs/console-branch.png'), fullPage: true });
    }
    expect(errors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  });

  it('creates a child, resets it, snapshots it and deletes it from the UI; the host and the CLI see each step', async () => {
    const writer = (await served.t.host.createToken({ name: 'console-writer', role: 'write' })).token;
    const { page, errors } = await open();
    await signIn(page, writer);
    await openBranch(page, 'kb');

    // Create a child: the dialog shows the equivalent command before anything is sent.
    await page.getByRole('button', { name: 'Create child branch' }).click();
    let dialog = page.getByRole('dialog');
    await dialog.getByLabel('New branch name').fill('ui-child');
    await dialog.getByLabel('Expires after (optional)').fill('2d');
    expect(await dialog.locator('.cli code').textContent()).toBe('pgbranch branch create ui-child --from kb --ttl 2d');
    await dialog.getByRole('button', { name: 'Create branch' }).click();
    await page.getByRole('heading', { level: 1, name: 'ui-child', exact: true }).waitFor();
    const created = await served.t.host.getBranch('ui-child');
    expect(created).toMatchObject({ name: 'ui-child', parent: 'kb', state: 'running' });
    expect(Math.abs(Date.parse(created.expiresAt!) - Date.parse(created.createdAt) - 2 * 86_400_000)).toBeLessThan(60_000);
    const listed = JSON.parse((await served.t.cli('branch', 'list', '--no-size', '-o', 'json')).stdout) as { name: string; parent: string | null }[];
    expect(listed.find((b) => b.name === 'ui-child')).toMatchObject({ parent: 'kb' });

    // Reset: what was written in the branch is gone, and the command shown is a real one.
    const { url } = await served.t.host.connectionInfo('ui-child');
    await sql(url, 'CREATE TABLE scratch (id int)');
    await page.getByRole('button', { name: 'Reset', exact: true }).click();
    dialog = page.getByRole('dialog');
    const resetCommand = (await dialog.locator('.cli code').textContent())!;
    expect(resetCommand).toBe('pgbranch branch reset ui-child');
    await dialog.getByRole('button', { name: 'Reset ui-child' }).click();
    await dialog.waitFor({ state: 'detached' });
    await waitForText(page.locator('.status-line'), 'done: pgbranch branch reset ui-child');
    const reset = await served.t.host.getBranch('ui-child');
    expect(reset.resetAt).not.toBeNull();
    expect(await sql(url, "SELECT to_regclass('scratch') AS t")).toEqual([{ t: null }]);
    const again = await served.t.cli(...resetCommand.split(' ').slice(1));
    expect(again.code, again.stderr).toBe(0);

    // Snapshot.
    await page.getByRole('button', { name: 'Snapshot', exact: true }).click();
    dialog = page.getByRole('dialog');
    await dialog.getByLabel('Snapshot name').fill('ui-snap');
    expect(await dialog.locator('.cli code').textContent()).toBe('pgbranch snapshot create ui-child ui-snap');
    await dialog.getByRole('button', { name: 'Take snapshot' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await served.t.host.getSnapshot('ui-snap')).toMatchObject({ name: 'ui-snap', branch: 'ui-child' });
    await page.locator('tr[data-snapshot="ui-snap"]').waitFor({ timeout: 20_000 });

    // A branch from the snapshot, then back to ui-child.
    await page.getByRole('button', { name: 'Create branch from snapshot ui-snap' }).click();
    dialog = page.getByRole('dialog');
    await dialog.getByLabel('New branch name').fill('ui-from-snap');
    expect(await dialog.locator('.cli code').textContent()).toBe('pgbranch branch create ui-from-snap --from-snapshot ui-snap');
    await dialog.getByRole('button', { name: 'Create branch' }).click();
    await page.getByRole('heading', { level: 1, name: 'ui-from-snap', exact: true }).waitFor();
    expect((await served.t.host.getBranch('ui-from-snap')).source).toMatchObject({ kind: 'snapshot', snapshot: 'ui-snap' });
    await api(admin, 'DELETE', '/v1/branches/ui-from-snap');
    await page.getByRole('link', { name: 'Branches', exact: true }).first().click();
    await openBranch(page, 'ui-child');

    // Delete the snapshot, then the branch: back on the tree, which no longer lists it.
    await page.locator('tr[data-snapshot="ui-snap"]').waitFor();
    await page.getByRole('button', { name: 'Delete snapshot ui-snap' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete ui-snap' }).click();
    await page.locator('tr[data-snapshot="ui-snap"]').waitFor({ state: 'detached', timeout: 20_000 });
    await expect(served.t.host.getSnapshot('ui-snap')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    dialog = page.getByRole('dialog');
    expect(await dialog.locator('.cli code').textContent()).toBe('pgbranch branch delete ui-child');
    await dialog.getByRole('button', { name: 'Delete ui-child' }).click();
    await page.getByRole('heading', { level: 1, name: 'Branches' }).waitFor();
    await expect(served.t.host.getBranch('ui-child')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    await waitFor(async () => ((await treeRows(page)).some((r) => r.name === 'ui-child') ? undefined : true), {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'ui-child to leave the tree',
    });
    const audit = (await api(admin, 'GET', '/v1/audit?branch=ui-child')).entries as { operation: string; actor_name: string }[];
    expect(audit.filter((e) => e.actor_name === 'console-writer').map((e) => e.operation)).toEqual(expect.arrayContaining(['create', 'reset', 'delete']));

    // The audit log, filtered by branch and actor: the UI's steps, and the CLI's reset (local:…) left out.
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.getByLabel('Branch').fill('ui-child');
    await page.getByLabel('Actor').fill('console-writer');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitFor(
      async () => {
        const rows = await page.locator('tr[data-audit]').evaluateAll((r) => r.map((e) => e.textContent ?? ''));
        return rows.length > 0 && rows.every((t) => t.includes('ui-child') && t.includes('console-writer')) && rows.some((t) => t.includes('reset')) ? rows : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: 'the filtered audit log' },
    );
    expect(errors.filter((e) => /Content Security Policy|Refused to/i.test(e))).toEqual([]);
  });

  it('a pr-* write token sees only pr-* branches and only the buttons it may use; a read token sees no mutating button; a wrong token is told so', async () => {
    const mutating = async (page: Page) => (await buttonNames(page)).filter((n) => !READ_ONLY_BUTTONS.has(n));

    // A write token limited to pr-*.
    const { page: ci } = await open();
    await signIn(ci, served.ciToken);
    await waitFor(async () => ((await treeRows(ci)).length > 0 ? true : undefined), { timeoutMs: 15_000, intervalMs: 100, what: 'the tree' });
    const rows = await treeRows(ci);
    expect(rows.map((r) => r.name)).toEqual(['pr-7', 'pr-7-fix']);
    expect(rows[0]!.text).toContain('from main');
    expect(await mutating(ci)).toEqual(['New branch']);
    await openBranch(ci, 'pr-7-fix');
    // Protected: no reset or delete; unprotecting is the admin's.
    expect(await mutating(ci)).toEqual(['Create child branch', 'Snapshot', 'Set expiry', 'Suspend', 'Stop']);
    await ci.getByRole('link', { name: 'pr-7', exact: true }).first().click();
    await ci.getByRole('heading', { level: 1, name: 'pr-7', exact: true }).waitFor();
    expect(await mutating(ci)).toEqual([
      'Create child branch',
      'Snapshot',
      'Set expiry',
      'Suspend',
      'Stop',
      'Reset',
      'Protect',
      'Delete',
      'Create branch from snapshot pr-7-before',
      'Delete snapshot pr-7-before',
      'Preview',
      'Rebase pr-7',
      'Undo last rebase',
    ]);
    // A new branch must match its patterns; it may still branch from main, which it cannot see.
    await ci.getByRole('link', { name: 'Branches', exact: true }).first().click();
    await ci.getByRole('button', { name: 'New branch' }).click();
    const dialog = ci.getByRole('dialog');
    await dialog.getByLabel('New branch name').fill('main-copy');
    await dialog.getByText('your token may only act on branches matching pr-*').waitFor();
    expect(await dialog.getByRole('button', { name: 'Create branch' }).isDisabled()).toBe(true);
    await dialog.getByLabel('New branch name').fill('pr-9');
    expect(await dialog.getByLabel('Parent branch').inputValue()).toBe('main');
    await dialog.getByRole('button', { name: 'Create branch' }).click();
    await ci.getByRole('heading', { level: 1, name: 'pr-9', exact: true }).waitFor();
    expect((await served.t.host.getBranch('pr-9')).parent).toBe('main');
    await api(admin, 'DELETE', '/v1/branches/pr-9');
    await ci.getByRole('link', { name: 'Snapshots', exact: true }).click();
    await ci.locator('tr[data-snapshot]').first().waitFor();
    expect(await ci.locator('tr[data-snapshot]').evaluateAll((r) => r.map((e) => e.getAttribute('data-snapshot')))).toEqual(['pr-7-before']);

    // The admin may unprotect what the pr-* token may not.
    const { page: adm } = await open();
    await signIn(adm, admin);
    await openBranch(adm, 'pr-7-fix');
    expect(await mutating(adm)).toContain('Unprotect');

    // A read token: every page, no mutating button.
    const { page: ro } = await open();
    await signIn(ro, reader);
    await waitFor(async () => ((await treeRows(ro)).length >= 6 ? true : undefined), { timeoutMs: 15_000, intervalMs: 100, what: 'the tree' });
    expect(await mutating(ro)).toEqual([]);
    await openBranch(ro, 'pr-7');
    expect(await mutating(ro)).toEqual([]);
    await ro.getByText('Your token (read) may not change this branch.').waitFor();
    for (const section of ['Snapshots', 'Audit log', 'Host']) {
      await ro.getByRole('link', { name: section, exact: true }).click();
      await ro.getByRole('heading', { level: 1, name: section }).waitFor();
      if (section === 'Snapshots') await ro.locator('tr[data-snapshot]').first().waitFor();
      if (section === 'Audit log') await ro.locator('tr[data-audit]').first().waitFor();
      if (section === 'Host') await ro.getByText('PostgreSQL', { exact: true }).waitFor();
      expect(await mutating(ro), section).toEqual([]);
    }

    // A token revoked while signed in: the next poll signs the console out, saying why.
    const revocable = await served.t.host.createToken({ name: 'console-revoked', role: 'read' });
    const { page: gone } = await open();
    await signIn(gone, revocable.token);
    await api(admin, 'DELETE', `/v1/tokens/${revocable.info.tokenId}`);
    await waitForText(gone.locator('.notice'), 'The API no longer accepts this token (revoked?). Sign in again.');
    await gone.getByLabel('API token').waitFor();

    // A wrong token: a clear message, and the field is emptied.
    const { page: bad } = await open();
    const wrong = `pgb_${'a'.repeat(12)}_${'b'.repeat(43)}`;
    for (const token of [wrong, 'not-a-token']) {
      await bad.getByLabel('API token').fill(token);
      await bad.getByRole('button', { name: 'Sign in' }).click();
      await waitForText(bad.getByRole('alert'), 'This token was not accepted: it is unknown, revoked or mistyped.');
      expect(await bad.getByLabel('API token').inputValue()).toBe('');
    }
    expect(await bad.content()).not.toContain('b'.repeat(43));
  });

  it('keeps secrets out of the DOM, URL, storage and logs; the password is fetched only on reveal or copy', async () => {
    const { page, requests } = await open();
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: served.apiUrl });
    // pgb_<12-character id>_<secret>; the secret itself may contain "_".
    const tokenSecret = admin.slice(17);
    expect(tokenSecret).toHaveLength(43);
    const { password, url: direct } = await served.t.host.connectionInfo('pr-7');
    const secrets = [tokenSecret, password];

    /** Everything a page leaks to: its markup, its fields' values, its URL, storage and cookies. */
    const exposed = async (): Promise<string> =>
      [
        await page.content(),
        page.url(),
        ...(await page.evaluate<string[]>(IN_PAGE_STORED)),
        JSON.stringify(await browser.context.cookies()),
      ].join('\n');
    const connectionRequests = () => requests.filter((r) => /\/v1\/branches\/[^/]+\/connection$/.test(new URL(r.url).pathname));

    await signIn(page, admin);
    await openBranch(page, 'pr-7');
    await page.getByRole('heading', { name: 'Connect' }).waitFor();
    for (const secret of secrets) expect(await exposed()).not.toContain(secret);
    expect(connectionRequests()).toEqual([]);

    // Reveal: one request, the string on the page until hidden.
    await page.getByRole('button', { name: 'Reveal direct connection string' }).click();
    await waitForText(page.locator('[data-connection="direct"] .secret code'), direct);
    expect(connectionRequests()).toHaveLength(1);
    expect(await page.content()).toContain(password);
    await page.getByRole('button', { name: 'Hide direct connection string' }).click();
    await page.locator('[data-connection="direct"] .secret').waitFor({ state: 'detached' });
    for (const secret of secrets) expect(await exposed()).not.toContain(secret);

    // Copy: a fresh request, the clipboard holds the string, the page does not.
    await page.getByRole('button', { name: 'Copy endpoint connection string' }).click();
    await waitForText(page.locator('.status-line'), 'Endpoint connection string copied to the clipboard');
    expect(connectionRequests()).toHaveLength(2);
    const copied = await page.evaluate<string>('navigator.clipboard.readText()');
    expect(copied).toMatch(/^postgres(ql)?:\/\//);
    expect(copied).toContain(password);
    for (const secret of secrets) expect(await exposed()).not.toContain(secret);

    // Elsewhere in the console nothing asks for a connection.
    for (const section of ['Branches', 'Snapshots', 'Audit log', 'Host']) {
      await page.getByRole('link', { name: section, exact: true }).first().click();
      await page.getByRole('heading', { level: 1, name: section }).waitFor();
    }
    expect(connectionRequests()).toHaveLength(2);
    for (const secret of secrets) expect(await exposed()).not.toContain(secret);

    // The token went only to /v1, as a header; never in a URL.
    expect(requests.filter((r) => r.authorization !== undefined).every((r) => new URL(r.url).pathname.startsWith('/v1/'))).toBe(true);
    expect(requests.filter((r) => r.authorization === `Bearer ${admin}`).length).toBeGreaterThan(3);
    expect(requests.some((r) => r.url.includes(tokenSecret))).toBe(false);

    // Reloading forgets the token: the sign-in page again, nothing kept.
    await page.reload();
    await page.getByLabel('API token').waitFor();
    for (const secret of secrets) expect(await exposed()).not.toContain(secret);

    const log = served.log();
    expect(log).toMatch(/"path":"\/v1\/branches\/pr-7\/connection"/);
    for (const secret of secrets) expect(log).not.toContain(secret);
  });

  it('works from the keyboard alone: sign in, open a branch, reset it through a dialog that keeps focus', async () => {
    const writer = (await served.t.host.createToken({ name: 'console-keyboard', role: 'write' })).token;
    const { page } = await open();
    await page.getByLabel('API token').waitFor();
    const focused = () => page.evaluate<Focused>(IN_PAGE_FOCUSED);
    const tabTo = async (tag: string, name: string, maxTabs = 60) => {
      const trail: string[] = [];
      for (let i = 0; i < maxTabs; i++) {
        await page.keyboard.press('Tab');
        const f = await focused();
        trail.push(`${f.tag}:${f.name}`);
        if (f.tag === tag && f.name === name) return trail;
      }
      throw new Error(`${tag} "${name}" not reached by Tab: ${trail.join(' → ')}`);
    };

    expect((await focused()).id).toBe('token');
    await page.keyboard.type(writer);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Branches' }).waitFor();
    await page.locator('tr[data-branch="kb"]').waitFor();

    const trail = await tabTo('a', 'kb');
    // Header navigation first, then the page's own controls, then the tree in order.
    expect(trail.indexOf('a:Branches')).toBeLessThan(trail.indexOf('button:New branch'));
    expect(trail.indexOf('button:New branch')).toBeLessThan(trail.indexOf('a:main'));
    expect(trail.indexOf('a:main')).toBeLessThan(trail.indexOf('a:pr-7'));
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'kb', exact: true }).waitFor();
    expect(await focused()).toMatchObject({ tag: 'h1', name: 'kb' });

    await tabTo('button', 'Reset');
    const focus = await focused();
    expect(focus.outline).not.toBe('none');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    // A destructive dialog starts on Cancel; Tab cycles inside it; Escape closes it.
    expect(await focused()).toMatchObject({ tag: 'button', name: 'Cancel', inDialog: true });
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('Tab');
      expect((await focused()).inDialog).toBe(true);
    }
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    // Focus goes back to the button that opened the dialog.
    await waitFor(async () => ((await focused()).name === 'Reset' ? true : undefined), { timeoutMs: 5_000, intervalMs: 20, what: 'focus back on Reset' });

    const before = (await served.t.host.getBranch('kb')).resetAt;
    await page.keyboard.press('Enter');
    await dialog.waitFor();
    await page.keyboard.press('Tab');
    expect(await focused()).toMatchObject({ tag: 'button', name: 'Reset kb', inDialog: true });
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await waitFor(async () => ((await served.t.host.getBranch('kb')).resetAt !== before ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: 'kb to be reset',
    });
  });

  it("shows a root's source: its generations and schedule (a root made from a live server)", async () => {
    const source = await createTestCluster({ major: 15, database: 'shop', password: 'console-src-Pw1' });
    try {
      await source.start();
      const url = `postgresql://postgres:${source.password}@127.0.0.1:${source.port}/shop`;
      await api(admin, 'POST', '/v1/branches', { name: 'shop', source: { kind: 'url', url } });
      await api(admin, 'PATCH', '/v1/branches/shop/source', { refresh_cron: '0 3 * * *' });
      const { page } = await open();
      await signIn(page, admin);
      await waitFor(async () => ((await treeRows(page)).find((r) => r.name === 'shop')?.text.includes('generation 1') ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: 'the source summary of shop in the tree',
      });
      const row = (await treeRows(page)).find((r) => r.name === 'shop')!;
      expect(row.text).toMatch(/generation 1, imported once, next \d{4}-\d\d-\d\d 03:00:00/);
      expect(await page.content()).not.toContain(source.password);
      await api(admin, 'PATCH', '/v1/branches/shop', { protected: false });
      await api(admin, 'DELETE', '/v1/branches/shop');
    } finally {
      await source.destroy();
    }
  });

  it('shows what a branch changed (schema script, row counts and rows) to a read token, as the CLI prints it', async () => {
    await api(admin, 'POST', '/v1/branches', { name: 'diff-base', parent: 'main' });
    const base = (await served.t.host.connectionInfo('diff-base')).url;
    await sql(base, 'CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
    await sql(base, "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g");
    await api(admin, 'POST', '/v1/branches', { name: 'diff-me', parent: 'diff-base' });
    const url = (await served.t.host.connectionInfo('diff-me')).url;
    await sql(url, 'ALTER TABLE items ADD COLUMN price numeric');
    await sql(url, "INSERT INTO items VALUES (51, 'item 51', 9.5), (52, 'item 52', 7)");
    await sql(url, "UPDATE items SET label = 'renamed' WHERE id = 7");
    await sql(url, 'DELETE FROM items WHERE id = 9');
    try {
      const { page } = await open();
      await signIn(page, reader);
      await openBranch(page, 'diff-me');
      const panel = page.locator('section.diff');
      expect(await panel.locator('.cli code').textContent()).toBe('pgbranch diff diff-me');
      await panel.getByLabel('with the changed rows').check();
      expect(await panel.locator('.cli code').textContent()).toBe('pgbranch diff diff-me --schema --rows');
      await panel.getByRole('button', { name: 'Show changes' }).click();
      const result = panel.locator('.diff-result');
      await result.waitFor({ timeout: 30_000 });
      expect(await result.getAttribute('data-diff-from')).toBe('branch-point:diff-me');
      expect(await result.locator('.diff-summary').textContent()).toContain('1 schema statement, 2 inserted, 1 updated, 1 deleted rows');
      expect(await result.locator('pre.sql').textContent()).toContain('ALTER TABLE "public"."items" ADD COLUMN "price" numeric;');
      const counts = await result.locator('tr[data-table="public.items"] td').allTextContents();
      expect(counts).toEqual(['2', '1', '1']);
      const rows = await result.locator('.diff-rows li').allTextContents();
      expect(rows).toContain('~ id=7: label item 7 → renamed');
      expect(rows).toContain('− id=9');
      // Rows are compared on the columns both sides have; the added column is the schema's part.
      expect(rows).toContain('+ id=51, label=item 51');
      expect(rows).toHaveLength(4);

      // The CLI's JSON for the same diff carries the same totals and script.
      const cli = await served.t.cli('diff', 'diff-me', '--schema', '--rows', '-o', 'json');
      expect(cli.code, cli.stderr).toBe(0);
      const printed = JSON.parse(cli.stdout) as { data: { totals: unknown }; schema: { script: string } };
      expect(printed.data.totals).toEqual({ inserted: 2, updated: 1, deleted: 1 });
      expect(await result.locator('pre.sql').textContent()).toBe(printed.schema.script);
      if (process.env.PGBRANCH_CONSOLE_SCREENSHOTS) await panel.screenshot({ path: join(REPO, 'docs/console-changes.png') });

      // A root has no branch point: the page says so and compares against a named side instead.
      await page.getByRole('link', { name: 'Branches', exact: true }).first().click();
      await openBranch(page, 'diff-base');
      await page.locator('section.diff').getByRole('button', { name: 'Show changes' }).click();
      await waitForText(page.locator('section.diff .diff-summary'), 'branch-point:diff-base');
      await page.getByRole('link', { name: 'Branches', exact: true }).first().click();
      await openBranch(page, 'main');
      const rootPanel = page.locator('section.diff');
      expect(await rootPanel.locator('.hint').textContent()).toContain('A root has no branch point');
      await rootPanel.getByRole('button', { name: 'Show changes' }).click();
      await waitForText(rootPanel.getByRole('alert'), 'BRANCH_POINT_UNAVAILABLE');
      await rootPanel.getByLabel('Compare against').fill('diff-base');
      expect(await rootPanel.locator('.cli code').textContent()).toBe('pgbranch diff diff-base main');
      await rootPanel.getByRole('button', { name: 'Show changes' }).click();
      await waitForText(rootPanel.locator('.diff-summary'), 'main against diff-base');
      expect(await rootPanel.locator('pre.sql').textContent()).toContain('DROP TABLE "public"."items"');
    } finally {
      await api(admin, 'DELETE', '/v1/branches/diff-me');
      await api(admin, 'DELETE', '/v1/branches/diff-base');
    }
  });

  it('rebases a branch from its page: a preview, the conflicts with both values, a side chosen, and undo, as the CLI would', async () => {
    await api(admin, 'POST', '/v1/branches', { name: 'rb-base', parent: 'main' });
    const base = (await served.t.host.connectionInfo('rb-base')).url;
    await sql(base, 'CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)');
    await sql(base, "INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 20) g");
    await api(admin, 'POST', '/v1/branches', { name: 'rb-me', parent: 'rb-base' });
    const url = (await served.t.host.connectionInfo('rb-me')).url;
    // The branch: one row changed (also changed on the parent: a conflict) and one added.
    await sql(url, "UPDATE notes SET body = 'from the branch' WHERE id = 3");
    await sql(url, "INSERT INTO notes VALUES (21, 'new on the branch')");
    // The parent moves on: a new column, and the same row changed differently.
    await sql(base, 'ALTER TABLE notes ADD COLUMN tag text');
    await sql(base, "UPDATE notes SET body = 'from the parent' WHERE id = 3");
    const rowsOf = async (): Promise<string> =>
      JSON.stringify(await sql(url, "SELECT id, body, to_jsonb(notes) ? 'tag' AS has_tag FROM notes WHERE id IN (3, 21) ORDER BY id"));
    const before = await rowsOf();
    try {
      const { page } = await open();
      await signIn(page, admin);
      await openBranch(page, 'rb-me');
      const panel = page.locator('section.rebase');
      expect(await panel.locator('.cli code').textContent()).toBe('pgbranch branch rebase rb-me --dry-run');

      // Preview: the conflict, both values, nothing changed.
      await panel.getByRole('button', { name: 'Preview' }).click();
      const result = panel.locator('.rebase-result');
      // A rebase builds a clone and replays: on a busy machine that takes tens of seconds.
      await result.waitFor({ timeout: 180_000 });
      expect(await result.getAttribute('data-dry-run')).toBe('true');
      expect(await result.locator('.rebase-summary').textContent()).toContain('Preview: nothing was changed.');
      expect(await result.locator('.rebase-summary').textContent()).toContain('1 inserted, 0 updated, 0 deleted row; 1 conflict');
      const conflict = await result.locator('table.rebase-conflicts tbody tr').first().locator('td').allTextContents();
      expect(conflict[0]).toBe('public.notes');
      expect(conflict[1]).toBe('id=3');
      expect(conflict[3]).toContain('body=from the parent');
      expect(conflict[4]).toContain('body=from the branch');
      expect(await rowsOf()).toBe(before);

      // Rebase without choosing: refused (409 with its report), the branch unchanged.
      await panel.getByRole('button', { name: 'Rebase rb-me' }).click();
      await waitForText(panel.getByRole('alert'), 'REBASE_CONFLICT', 180_000);
      expect(await panel.locator('table.rebase-conflicts tbody tr').count()).toBe(1);
      expect(await panel.locator('.cli code').textContent()).toBe('pgbranch branch rebase rb-me');
      expect(await rowsOf()).toBe(before);

      // Keep the branch's version: rebased, the parent's column and the branch's rows both there.
      await panel.getByLabel('On conflict').selectOption('branch');
      expect(await panel.locator('.cli code').textContent()).toBe('pgbranch branch rebase rb-me --prefer branch');
      await panel.getByRole('button', { name: 'Rebase rb-me' }).click();
      await waitForText(panel.locator('.rebase-summary'), 'Rebased onto', 180_000);
      expect(await panel.locator('.rebase-result').getAttribute('data-applied')).toBe('true');
      expect(await panel.locator('table.rebase-conflicts tbody tr td').last().textContent()).toBe('branch');
      expect(await panel.locator('.rebase-result .hint code').textContent()).toBe('rb-me.pre-rebase');
      expect(JSON.parse(await rowsOf())).toEqual([
        { id: 3, body: 'from the branch', has_tag: true },
        { id: 21, body: 'new on the branch', has_tag: true },
      ]);
      // The CLI sees the same: the undo snapshot exists.
      const snaps = await served.t.cli('snapshot', 'list', '-o', 'json');
      expect(snaps.code, snaps.stderr).toBe(0);
      expect((JSON.parse(snaps.stdout) as { name: string }[]).map((x) => x.name)).toContain('rb-me.pre-rebase');

      // Undo: exactly the state before.
      await panel.getByRole('button', { name: 'Undo last rebase' }).click();
      await waitForText(panel.locator('.rebase-summary'), 'Back to the state before the last rebase.', 180_000);
      expect(await panel.locator('.cli code').textContent()).toBe('pgbranch branch rebase rb-me --undo');
      expect(await rowsOf()).toBe(before);
    } finally {
      await api(admin, 'DELETE', '/v1/snapshots/rb-me.pre-rebase').catch(() => undefined);
      await api(admin, 'DELETE', '/v1/branches/rb-me');
      await api(admin, 'DELETE', '/v1/branches/rb-base');
    }
  }, 600_000);
});
