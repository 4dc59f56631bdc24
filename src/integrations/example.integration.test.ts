import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';

const REPO = resolve(import.meta.dirname, '../..');
const EXAMPLE = join(REPO, 'examples', 'node-app');
const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`example tests skipped: ${skip}`);

const sh = (command: string, cwd: string, env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync('sh', ['-c', command], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};

/** Two different, conflicting versions of the same third migration. */
const TAGS_WITH_LABEL = `export const up = (pgm) => { pgm.createTable('tags', { id: 'id', label: { type: 'text', notNull: true } }); };\n`;
const TAGS_WITH_COLOR = `export const up = (pgm) => { pgm.createTable('tags', { id: 'id', name: { type: 'text', notNull: true }, color: { type: 'text' } }); };\n`;

/**
 * The example app's full lifecycle on a real host: a PR branch made with the migrate and seed
 * hooks, the app's own tests on it, `main` untouched; conflicting migrations on two PR branches.
 */
describe.skipIf(skip !== undefined)('examples/node-app on pr-* branches', () => {
  let t: TestHost;
  let work: string;
  const apps: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    work = mkdtempSync(join(tmpdir(), 'pgbranch-example-'));
    // A checkout of the example: committed files only, dependencies from its lock file.
    apps.base = join(work, 'app');
    cpSync(EXAMPLE, apps.base, { recursive: true, filter: (src) => !src.includes('node_modules') });
    const install = sh('npm ci --no-audit --no-fund --prefer-offline', apps.base);
    if (install.code !== 0) throw new Error(`npm ci of the example failed:\n${install.out}`);
    for (const [name, migration] of [['label', TAGS_WITH_LABEL], ['color', TAGS_WITH_COLOR]] as const) {
      apps[name] = join(work, `app-${name}`);
      expect(sh(`cp -a "${apps.base}" "${apps[name]}"`, work).code).toBe(0);
      writeFileSync(join(apps[name], 'migrations', '1735000000002_create-tags.js'), migration);
    }
  });
  afterAll(async () => {
    await t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Creates the branch the way CI does: migrate, then seed, as post-create hooks. */
  const createPrBranch = async (name: string, app: string) => {
    const r = await t.cli('branch', 'create', name, '--from', 'main', '--run', `cd "${app}" && npm run migrate`, '--run', `cd "${app}" && npm run seed`, '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { ready: boolean; hooks: { command: string; exit_code: number }[] };
  };

  const tables = async (branch: string): Promise<string[]> => {
    const client = new pg.Client({ connectionString: (await t.host.connectionInfo(branch)).url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
      return rows.map((r) => r.name);
    } finally {
      await client.end();
    }
  };

  const columns = async (branch: string, table: string): Promise<string[]> => {
    const client = new pg.Client({ connectionString: (await t.host.connectionInfo(branch)).url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>(`SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, [table]);
      return rows.map((r) => r.name);
    } finally {
      await client.end();
    }
  };

  it('migrations, seed and the app tests pass on a fresh pr-1 while main is unchanged', async () => {
    const mainBefore = await tables('main');
    const created = await createPrBranch('pr-1', apps.base!);
    expect(created.ready).toBe(true);
    expect(created.hooks.map((h) => h.exit_code)).toEqual([0, 0]);
    expect(await tables('pr-1')).toEqual(['authors', 'pgmigrations', 'posts']);
    const tested = sh('npm test', apps.base!, { DATABASE_URL: (await t.host.connectionInfo('pr-1')).url });
    expect(tested.code, tested.out).toBe(0);
    expect(tested.out).toMatch(/# pass 3/);
    expect(tested.out).toMatch(/# fail 0/);
    expect(await tables('main')).toEqual(mainBefore);
    expect(mainBefore).not.toContain('authors');
  });

  it('two PR branches with conflicting migrations both pass in isolation', async () => {
    await createPrBranch('pr-2', apps.label!);
    await createPrBranch('pr-3', apps.color!);
    for (const [branch, app] of [['pr-2', apps.label!], ['pr-3', apps.color!]] as const) {
      const tested = sh('npm test', app, { DATABASE_URL: (await t.host.connectionInfo(branch)).url });
      expect(tested.code, `${branch}: ${tested.out}`).toBe(0);
    }
    expect(await columns('pr-2', 'tags')).toEqual(['id', 'label']);
    expect(await columns('pr-3', 'tags')).toEqual(['id', 'name', 'color']);
    expect(await tables('pr-1')).not.toContain('tags');
    expect(await tables('main')).not.toContain('tags');
  });

  it('a migration that fails on the branch leaves no branch behind and shows the migration error', async () => {
    const broken = join(work, 'app-broken');
    expect(sh(`cp -a "${apps.base}" "${broken}"`, work).code).toBe(0);
    writeFileSync(join(broken, 'migrations', '1735000000002_broken.js'), `export const up = (pgm) => { pgm.sql('ALTER TABLE no_such_table ADD COLUMN x int'); };\n`);
    const r = await t.cli('branch', 'create', 'pr-4', '--from', 'main', '--run', `cd "${broken}" && npm run migrate`, '--run', `cd "${broken}" && npm run seed`);
    expect(r.code).toBe(13);
    expect(r.stderr).toContain('no_such_table');
    await expect(t.host.getBranch('pr-4')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
  });

  it('rebase: a PR branch with one migration, rebased after main got another PR\'s migration, holds both in its history table and passes the app tests', async () => {
    const mainUrl = (await t.host.connectionInfo('main')).url;
    // main as production would have it: the base migrations and the seed.
    for (const step of ['npm run migrate', 'npm run seed']) {
      const r = sh(step, apps.base!, { DATABASE_URL: mainUrl });
      expect(r.code, `${step} on main: ${r.out}`).toBe(0);
    }
    // pr-5 adds the tags migration; meanwhile another PR's migration (a column on posts) is merged and run on main.
    await t.host.createBranch('pr-5', { origin: { kind: 'parent', parent: 'main' } });
    const prUrl = (await t.host.connectionInfo('pr-5')).url;
    expect(sh('npm run migrate', apps.label!, { DATABASE_URL: prUrl }).code).toBe(0);
    const merged = join(work, 'app-merged');
    expect(sh(`cp -a "${apps.base}" "${merged}"`, work).code).toBe(0);
    writeFileSync(join(merged, 'migrations', '1735000000003_add-post-summary.js'), `export const up = (pgm) => { pgm.addColumn('posts', { summary: { type: 'text' } }); };\n`);
    const onMain = sh('npm run migrate', merged, { DATABASE_URL: mainUrl });
    expect(onMain.code, onMain.out).toBe(0);

    const cli = await t.cli('branch', 'rebase', 'pr-5', '-o', 'json');
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ applied: true, conflict_count: 0 });
    expect(await tables('pr-5')).toEqual(['authors', 'pgmigrations', 'posts', 'tags']);
    expect(await columns('pr-5', 'posts')).toContain('summary');
    const client = new pg.Client({ connectionString: prUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(['1735000000000_create-authors', '1735000000001_create-posts', '1735000000002_create-tags', '1735000000003_add-post-summary']);
    } finally {
      await client.end();
    }
    // The app with both migrations: nothing left to migrate, and its tests pass on the rebased branch.
    writeFileSync(join(merged, 'migrations', '1735000000002_create-tags.js'), TAGS_WITH_LABEL);
    const again = sh('npm run migrate', merged, { DATABASE_URL: prUrl });
    expect(again.code, again.out).toBe(0);
    expect(again.out).toMatch(/No migrations to run/);
    const tested = sh('npm test', merged, { DATABASE_URL: prUrl });
    expect(tested.code, tested.out).toBe(0);
    expect(tested.out).toMatch(/# fail 0/);
  });
});
