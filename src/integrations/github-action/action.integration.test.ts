import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPoolSkipReason } from '../../test-support/test-host.js';
import { startFakeGitHub } from '../github/test-support/fake-github.js';
import { startServedHost, type ServedHost } from '../test-support/serve.js';

const REPO = resolve(import.meta.dirname, '../../..');
const ACTION_DIR = join(REPO, 'actions', 'branch');
const built = existsSync(join(REPO, 'dist', 'cli', 'index.js'));
const skip = (await testPoolSkipReason('btrfs')) ?? (built ? undefined : 'dist/ missing: run `npm run build` (npm test does)');
if (skip) console.warn(`GitHub Action tests skipped: ${skip}`);

interface ActionRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly outputs: Record<string, string>;
  readonly summary: string;
}

/** GitHub's file-command format: `name<<delimiter`, value lines, `delimiter`. */
function parseGithubOutput(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!match) continue;
    const end = lines.indexOf(match[2]!, i + 1);
    outputs[match[1]!] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return outputs;
}

/** The bundled entrypoint as the runner starts it: INPUT_* (name upper-cased, dashes kept), file commands, event payload. */
async function runAction(inputs: Record<string, string>, prNumber = 42, extraEnv: NodeJS.ProcessEnv = {}): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pgbranch-action-'));
  const files = { output: join(dir, 'output'), summary: join(dir, 'summary'), event: join(dir, 'event.json') };
  writeFileSync(files.output, '');
  writeFileSync(files.summary, '');
  writeFileSync(files.event, JSON.stringify({ action: 'opened', number: prNumber, pull_request: { number: prNumber, state: 'open', head: { ref: 'feature' } } }));
  const action = parseYaml(readFileSync(join(ACTION_DIR, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }>; runs: { main: string } };
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_ACTIONS: 'true', GITHUB_OUTPUT: files.output, GITHUB_STEP_SUMMARY: files.summary, GITHUB_EVENT_PATH: files.event, GITHUB_EVENT_NAME: 'pull_request', ...extraEnv };
  // The runner sets every declared input, with its default when the workflow gives none.
  for (const [name, spec] of Object.entries(action.inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = inputs[name] ?? spec.default ?? '';
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(ACTION_DIR, action.runs.main)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stdout += String(d)));
    child.on('error', fail);
    child.on('close', (code) => {
      const run = { code, stdout, outputs: parseGithubOutput(readFileSync(files.output, 'utf8')), summary: readFileSync(files.summary, 'utf8') };
      // The runner's file-command files are throwaway: leave nothing in /tmp.
      rmSync(dir, { recursive: true, force: true });
      done(run);
    });
  });
}

/** Each secret's `::add-mask::` line comes before any other line that contains it. */
function expectMaskedFirst(stdout: string, secrets: string[]): void {
  const lines = stdout.split('\n');
  for (const secret of secrets) {
    const maskAt = lines.indexOf(`::add-mask::${secret}`);
    expect(maskAt, `no ::add-mask:: for a secret`).toBeGreaterThanOrEqual(0);
    const firstUse = lines.findIndex((l) => l.includes(secret) && !l.startsWith('::add-mask::'));
    if (firstUse !== -1) expect(firstUse, 'a secret was printed before it was masked').toBeGreaterThan(maskAt);
  }
}

describe.skipIf(skip !== undefined)('GitHub Action (bundled entrypoint)', () => {
  let served: ServedHost;

  beforeAll(async () => {
    // The committed bundle must be what the sources say: rebuild it (esbuild takes a second).
    const r = spawnSync('npm', ['run', 'build:action'], { cwd: REPO, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build:action failed: ${r.stderr}`);
    served = await startServedHost();
  });
  afterAll(async () => {
    await served?.stop();
  });

  it('creates pr-<n> from main, runs the hooks, writes outputs and masks every secret first', async () => {
    const run = await runAction({
      'api-url': served.apiUrl,
      token: served.ciToken,
      run: [`psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc 'CREATE TABLE migrated (id int)'`, 'echo "seed sees $DATABASE_URL"'].join('\n'),
    });
    expect(run.code, run.stdout).toBe(0);
    const view = await served.t.host.getBranch('pr-42');
    const info = await served.t.host.connectionInfo('pr-42');
    expect(run.outputs).toMatchObject({ branch: 'pr-42', 'branch-id': view.id, created: 'true', db_url_unpooled: info.url, port: expect.stringMatching(/^\d+$/) });
    expect(run.outputs.db_url).toMatch(/^postgresql:\/\/postgres\.pr-42:/);
    expect(run.outputs.password).toBe(info.password);
    expect(run.stdout).toContain('seed sees postgresql://');
    expectMaskedFirst(run.stdout, [served.ciToken, info.password, run.outputs.db_url!, run.outputs.db_url_unpooled!]);
    // The URL works from outside (through the endpoint) and the hook's migration is there.
    const client = new pg.Client({ connectionString: run.outputs.db_url });
    await client.connect();
    expect((await client.query(`SELECT to_regclass('public.migrated') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
    await client.end();
    expect(run.summary).toContain('pr-42');
    expect(run.summary).toContain('main');
    expect(run.summary).toContain(view.branchPoint.lsn!);
    expect(run.summary).toMatch(/hook: psql[^<]*<\/td><td>\d+ ms/);
    expect(run.summary).toMatch(/create<\/td><td>\d+ ms/);
    expect(run.summary).not.toContain(info.password);
  });

  it('a second run for the same PR reuses the branch and does not re-run hooks', async () => {
    const run = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, run: 'echo must-not-run; exit 1' });
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs.created).toBe('false');
    expect(run.outputs['branch-id']).toBe((await served.t.host.getBranch('pr-42')).id);
    expect(run.stdout).not.toContain('must-not-run');
    expect(run.summary).toContain('no (reused)');
  });

  it('a failed create deletes the branch and reports the hook output', async () => {
    const run = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, run: 'echo "migration 003 failed: syntax error" >&2; exit 4' }, 43);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/::error::hook .*exit code 4.*migration 003 failed: syntax error/s);
    expect(run.outputs.db_url).toBeUndefined();
    await expect(served.t.host.getBranch('pr-43')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    expect(run.summary).toContain('failed');
  });

  it('creates pr-<n> from a snapshot when the snapshot input is set', async () => {
    const main = (await served.t.host.connectionInfo('main')).url;
    const seed = new pg.Client({ connectionString: main });
    await seed.connect();
    await seed.query("CREATE TABLE IF NOT EXISTS fixture (v text); INSERT INTO fixture VALUES ('nightly')");
    await served.t.host.createSnapshot('main', 'nightly');
    await seed.query("INSERT INTO fixture VALUES ('after the snapshot')");
    await seed.end();
    const run = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, snapshot: 'nightly' }, 45);
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs).toMatchObject({ branch: 'pr-45', created: 'true' });
    expect((await served.t.host.getBranch('pr-45')).source).toMatchObject({ kind: 'snapshot', snapshot: 'nightly' });
    const client = new pg.Client({ connectionString: run.outputs.db_url });
    await client.connect();
    expect((await client.query('SELECT v FROM fixture ORDER BY v')).rows).toEqual([{ v: 'nightly' }]);
    await client.end();
  });

  it('expires and suspend-timeout set the new branch\'s expiry and idle timeout, like Neon\'s expires input', async () => {
    const before = Date.now();
    const run = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, expires: '2d', 'suspend-timeout': '7m' }, 46);
    expect(run.code, run.stdout).toBe(0);
    const view = await served.t.host.getBranch('pr-46');
    expect(view.idleTimeoutMs).toBe(7 * 60_000);
    const expiresMs = Date.parse(view.expiresAt!);
    expect(expiresMs).toBeGreaterThanOrEqual(before + 2 * 86_400_000);
    expect(expiresMs).toBeLessThanOrEqual(Date.now() + 2 * 86_400_000);
    expectMaskedFirst(run.stdout, [run.outputs.password!]);

    const at = '2099-01-02T03:04:05.000Z';
    const second = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, expires: at, 'suspend-timeout': 'never' }, 47);
    expect(second.code, second.stdout).toBe(0);
    expect(await served.t.host.getBranch('pr-47')).toMatchObject({ expiresAt: at, idleTimeoutMs: 0 });

    const bad = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, expires: 'soon' }, 48);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('input "expires" must be a duration');
    await expect(served.t.host.getBranch('pr-48')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
  });

  it('keep-on-failure keeps the branch', async () => {
    const run = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, run: 'exit 1', 'keep-on-failure': 'true' }, 44);
    expect(run.code).toBe(1);
    expect((await served.t.host.getBranch('pr-44')).name).toBe('pr-44');
  });

  it('diff: comments the migration script and the rows changed per table on the pull request, updated in place on the next push', async () => {
    const githubToken = 'ghs_fakeInstallationToken0123456789';
    const github = await startFakeGitHub({ token: githubToken });
    github.setRepo('acme/app', { pulls: [{ number: 45, state: 'open' }] });
    const review = github.addComment('acme/app', 45, 'LGTM, but see the migration below', 'reviewer');
    const env = { GITHUB_REPOSITORY: 'acme/app', GITHUB_API_URL: github.url };
    const inputs = { 'api-url': served.apiUrl, token: served.ciToken, command: 'diff', verify: 'true', 'github-token': githubToken };
    const info = await served.t.host.connectionInfo('pr-45');
    const push = async (statements: string) => {
      const client = new pg.Client({ connectionString: info.url });
      await client.connect();
      await client.query(statements);
      await client.end();
    };
    try {
      // pr-45 was made from the `nightly` snapshot (a `fixture` table); the PR's migration adds a
      // column and a table, its code writes rows.
      await push("ALTER TABLE fixture ADD COLUMN note text; CREATE TABLE audit_log (id int PRIMARY KEY); INSERT INTO fixture VALUES ('one'), ('two')");
      const first = await runAction(inputs, 45, env);
      expect(first.code, first.stdout).toBe(0);
      const afterFirst = github.comments('acme/app', 45);
      expect(afterFirst).toHaveLength(2);
      const ours = afterFirst.find((c) => c.id !== review.id)!;
      expect(ours.user).toBe('github-actions[bot]');
      expect(ours.body.startsWith('<!-- pgbranch-diff:pr-45 -->\n')).toBe(true);
      expect(ours.body).toContain('### pgbranch diff: `branch-point:pr-45` → `pr-45`');
      expect(ours.body).toMatch(/```sql\n[^]*```/);
      expect(ours.body).toContain('ADD COLUMN "note" text');
      expect(ours.body).toContain('CREATE TABLE "public"."audit_log"');
      expect(ours.body).toContain('✅ proven');
      expect(ours.body).toContain('| `public.fixture` | 2 | 0 | 0 |');
      expect(ours.body).toContain('| `public.audit_log` | table added | | |');
      expect(first.outputs).toMatchObject({ 'comment-id': String(ours.id), 'rows-changed': '2', proven: 'true' });
      expect(Number(first.outputs['schema-changes'])).toBeGreaterThan(0);
      expect(first.summary).toContain('public.fixture');

      // The next push: the same comment, edited (PATCH), the reviewer's left alone.
      await push("INSERT INTO fixture VALUES ('three'); DELETE FROM fixture WHERE v = 'nightly'");
      const second = await runAction(inputs, 45, env);
      expect(second.code, second.stdout).toBe(0);
      const afterSecond = github.comments('acme/app', 45);
      expect(afterSecond.map((c) => c.id)).toEqual([review.id, ours.id]);
      expect(afterSecond[0]!.body).toBe(review.body);
      expect(afterSecond[1]!.body).toContain('| `public.fixture` | 3 | 0 | 1 |');
      expect(second.outputs['comment-id']).toBe(String(ours.id));
      const writes = github.requests.filter((r) => r.method !== 'GET');
      expect(writes.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /repos/acme/app/issues/45/comments', `PATCH /repos/acme/app/issues/comments/${ours.id}`]);
      expect(github.requests.every((r) => r.authorization === `Bearer ${githubToken}`)).toBe(true);

      // Never a credential or a connection string in what went to GitHub.
      const sent = github.requests.map((r) => r.body ?? '').join('\n');
      for (const secret of [served.ciToken, githubToken, info.password, info.url, 'postgresql://']) expect(sent.includes(secret), 'a secret reached GitHub').toBe(false);
      expectMaskedFirst(first.stdout, [served.ciToken, githubToken]);
    } finally {
      await github.close();
    }
  });

  it('reset and delete; deleting again is not an error', async () => {
    const reset = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, command: 'reset' });
    expect(reset.code, reset.stdout).toBe(0);
    const client = new pg.Client({ connectionString: reset.outputs.db_url });
    await client.connect();
    expect((await client.query(`SELECT to_regclass('public.migrated') IS NULL AS gone`)).rows[0].gone).toBe(true);
    await client.end();
    const deleted = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, command: 'delete' });
    expect(deleted.code, deleted.stdout).toBe(0);
    expect(deleted.outputs.deleted).toBe('true');
    await expect(served.t.host.getBranch('pr-42')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    const again = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, command: 'delete' });
    expect(again.code, again.stdout).toBe(0);
    expect(again.outputs.deleted).toBe('false');
  });

  it('rejects an unknown command with a clear error', async () => {
    const run = await runAction({ 'api-url': served.apiUrl, token: served.ciToken, command: 'bogus' });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('::error::input "command" must be one of create, reset, delete, diff');
  });
});
