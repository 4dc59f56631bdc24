import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { startServedHost, type ServedHost } from './test-support/serve.js';

const REPO = resolve(import.meta.dirname, '../..');
const TEMPLATE = join(REPO, 'ci', 'gitlab', 'pgbranch.gitlab-ci.yml');

interface Job {
  extends?: string;
  script?: string[];
  rules?: { if?: string; when?: string }[];
  environment?: { name: string; on_stop?: string; action?: string };
  artifacts?: { reports?: { dotenv?: string } };
  variables?: Record<string, string>;
  needs?: string[];
}
type Pipeline = Record<string, Job> & { variables: Record<string, string> };

const template = parseYaml(readFileSync(TEMPLATE, 'utf8')) as Pipeline;
const example = parseYaml(readFileSync(join(REPO, 'examples', 'node-app', '.gitlab-ci.yml'), 'utf8')) as Pipeline;

describe('GitLab include template (static)', () => {
  it('defines hidden create and delete jobs for merge request pipelines', () => {
    const create = template['.pgbranch-create']!;
    const remove = template['.pgbranch-delete']!;
    expect(template.variables.PGBRANCH_BRANCH).toBe('pr-$CI_MERGE_REQUEST_IID');
    expect(create.rules?.[0]?.if).toContain('merge_request_event');
    expect(create.artifacts?.reports?.dotenv).toBe('pgbranch.env');
    expect(create.environment).toMatchObject({ name: remove.environment?.name, on_stop: 'pgbranch-delete' });
    expect(remove.environment?.action).toBe('stop');
  });

  it('the example extends it with the job names the environment needs', () => {
    expect(example['pgbranch-create']?.extends).toBe('.pgbranch-create');
    expect(example['pgbranch-delete']?.extends).toBe('.pgbranch-delete');
    expect(example.test?.needs).toContain('pgbranch-create');
  });
});

const built = existsSync(join(REPO, 'dist', 'cli', 'index.js'));
const skip = (await testPoolSkipReason('btrfs')) ?? (built ? undefined : 'dist/ missing: run `npm run build` (npm test does)');
if (skip) console.warn(`GitLab template run skipped: ${skip}`);

/** The template's scripts run by `sh` as a GitLab runner would, with the real CLI against a real `pgbranch serve`. */
describe.skipIf(skip !== undefined)('GitLab include template (run)', () => {
  let served: ServedHost;
  let workdir: string;
  beforeAll(async () => {
    served = await startServedHost();
    workdir = mkdtempSync(join(tmpdir(), 'pgbranch-gitlab-'));
  });
  afterAll(async () => {
    await served?.stop();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  const runJob = (job: Job, extra: Record<string, string> = {}) => {
    const iid = '77';
    // GitLab expands $CI_MERGE_REQUEST_IID in variables before the job starts.
    const variables = Object.fromEntries(Object.entries({ ...template.variables, ...job.variables }).map(([k, v]) => [k, v.replace('$CI_MERGE_REQUEST_IID', iid)]));
    const result = spawnSync('sh', ['-c', job.script!.join('\n')], {
      cwd: workdir,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        CI_MERGE_REQUEST_IID: iid,
        ...variables,
        // The template's default is `npx @pgbranch/client`: run that package's CLI, as built here.
        PGBRANCH_CLI: `${process.execPath} ${join(REPO, 'packages', 'client', 'bin', 'pgbranch.js')}`,
        PGBRANCH_API_URL: served.apiUrl,
        PGBRANCH_TOKEN: served.ciToken,
        ...extra,
      },
    });
    return { code: result.status, out: `${result.stdout}${result.stderr}` };
  };

  it('runs the light client by default', () => {
    expect(template.variables!.PGBRANCH_CLI).toBe('npx --yes @pgbranch/client@latest');
  });

  it('create makes pr-<iid>, runs every PGBRANCH_RUN line once and writes the dotenv report', async () => {
    const hooks = `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc 'CREATE TABLE from_hook (id int)'\necho "second hook on $PGBRANCH_BRANCH"\n`;
    const first = runJob(template['.pgbranch-create']!, { PGBRANCH_RUN: hooks });
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain('second hook on pr-77');
    const dotenv = readFileSync(join(workdir, 'pgbranch.env'), 'utf8');
    const url = /^DATABASE_URL=(.+)$/m.exec(dotenv)?.[1];
    expect(url).toMatch(/^postgresql:\/\/postgres\.pr-77:/);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    expect((await client.query(`SELECT to_regclass('public.from_hook') IS NOT NULL AS ok`)).rows[0].ok).toBe(true);
    await client.end();
    // A retried pipeline reuses the branch: the CREATE TABLE hook would fail if it ran again.
    const again = runJob(template['.pgbranch-create']!, { PGBRANCH_RUN: hooks });
    expect(again.code, again.out).toBe(0);
    expect(again.out).not.toContain('second hook');
  });

  it('a failing hook fails the job with its output and leaves no branch', async () => {
    const failed = runJob(template['.pgbranch-create']!, { PGBRANCH_BRANCH: 'pr-78', PGBRANCH_RUN: 'echo "cannot seed: duplicate key" >&2; exit 2' });
    expect(failed.code).not.toBe(0);
    expect(failed.out).toContain('cannot seed: duplicate key');
    expect(failed.out).toContain('[HOOK_FAILED]');
    await expect(served.t.host.getBranch('pr-78')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
  });

  it('delete removes the branch, and stopping again is not an error', async () => {
    const removed = runJob(template['.pgbranch-delete']!);
    expect(removed.code, removed.out).toBe(0);
    await expect(served.t.host.getBranch('pr-77')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    const again = runJob(template['.pgbranch-delete']!);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain('already deleted');
  });
});
