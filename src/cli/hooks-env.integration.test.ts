import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { mergeDotenv } from '../integrations/index.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`hook/env tests skipped: ${skip}`);

/** `branch create --run`, `env` and `psql` on a real host. */
describe.skipIf(skip !== undefined)('post-create hooks, env and psql', () => {
  let t: TestHost;
  let work: string;

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    work = mkdtempSync(join(tmpdir(), 'pgbranch-hooks-'));
  });
  afterAll(async () => {
    await t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs migrate then seed with DATABASE_URL and reports each step as ready', async () => {
    const migrate = `psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qc 'CREATE TABLE items (id int primary key, name text)'`;
    const seed = `psql "$DATABASE_URL_UNPOOLED" -v ON_ERROR_STOP=1 -qc "INSERT INTO items VALUES (1, 'seeded')" && echo "seeded $PGBRANCH_BRANCH"`;
    const r = await t.cli('branch', 'create', 'pr-10', '--from', 'main', '--run', migrate, '--run', seed, '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ name: 'pr-10', created: true, ready: true });
    expect(out.hooks.map((h: { command: string; exit_code: number }) => [h.command, h.exit_code])).toEqual([
      [migrate, 0],
      [seed, 0],
    ]);
    for (const h of out.hooks) expect(h.duration_ms).toBeGreaterThanOrEqual(0);
    // The hook's own output is streamed to stderr; stdout stays parseable data.
    expect(r.stderr).toContain('seeded pr-10');
    const info = await t.host.connectionInfo('pr-10');
    const client = new pg.Client({ connectionString: info.url });
    await client.connect();
    expect((await client.query('SELECT name FROM items')).rows).toEqual([{ name: 'seeded' }]);
    await client.end();
    // main is untouched by the branch's hooks.
    const main = new pg.Client({ connectionString: (await t.host.connectionInfo('main')).url });
    await main.connect();
    expect((await main.query(`SELECT to_regclass('public.items') AS t`)).rows[0].t).toBeNull();
    await main.end();
  });

  it('does not run hooks again for an existing branch (--if-not-exists)', async () => {
    const r = await t.cli('branch', 'create', 'pr-10', '--from', 'main', '--if-not-exists', '--run', 'exit 1', '-o', 'json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.created).toBe(false);
    expect(out.hooks).toBeUndefined();
  });

  it('a failing hook deletes the branch, stops later hooks and reports the output', async () => {
    const marker = join(work, 'second-ran');
    const r = await t.cli('branch', 'create', 'pr-11', '--from', 'main', '--run', 'echo about to fail; echo "boom: relation missing" >&2; exit 3', '--run', `touch ${marker}`, '-o', 'json');
    expect(r.code).toBe(13);
    const err = JSON.parse(r.stderr.trim().split('\n').at(-1)!).error;
    expect(err.code).toBe('HOOK_FAILED');
    expect(err.message).toContain('boom: relation missing');
    expect(err.details).toMatchObject({ branch: 'pr-11', exit_code: 3, branch_kept: false });
    expect(err.details.output).toContain('about to fail');
    await expect(t.host.getBranch('pr-11')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
    expect((await t.host.listBranches({ withUsage: false })).map((b) => b.name)).not.toContain('pr-11');
    expect(() => statSync(marker)).toThrow();
  });

  it('--keep-on-failure keeps the branch for debugging', async () => {
    const r = await t.cli('branch', 'create', 'pr-12', '--from', 'main', '--run', 'false', '--keep-on-failure');
    expect(r.code).toBe(13);
    expect(r.stderr).toMatch(/kept \(--keep-on-failure\).*\[HOOK_FAILED\]/s);
    expect((await t.host.getBranch('pr-12')).name).toBe('pr-12');
  });

  it('env prints the variables and merges them into a dotenv file, keeping other keys', async () => {
    const info = await t.host.connectionInfo('pr-10');
    const printed = await t.cli('env', 'pr-10');
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toContain(`DATABASE_URL=${info.url}\n`);
    expect(printed.stdout).toContain(`DATABASE_URL_UNPOOLED=${info.url}\n`);
    expect(printed.stdout).toContain(`PGPORT=${info.port}\n`);

    const file = join(work, '.env');
    writeFileSync(file, '# app settings\nPORT=3000\nDATABASE_URL=postgres://old\nexport SECRET_KEY="a b"\n\nDATABASE_URL=postgres://dupe\n');
    const written = await t.cli('env', 'pr-10', '--write', file, '--prefix', '');
    expect(written.code, written.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith(`# app settings\nPORT=3000\nDATABASE_URL=${info.url}\nexport SECRET_KEY="a b"\n\n`)).toBe(true);
    expect(text.match(/^DATABASE_URL=/gm)).toHaveLength(1);
    expect(text).toContain(`DATABASE_URL_UNPOOLED=${info.url}\n`);
    expect(text).toContain(`PGPASSWORD=${info.password}\n`);

    const fresh = join(work, 'fresh.env');
    expect((await t.cli('env', 'pr-10', '--write', fresh, '--prefix', 'TEST_')).code).toBe(0);
    expect(readFileSync(fresh, 'utf8')).toContain(`TEST_DATABASE_URL=${info.url}\n`);
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });

  it('psql runs against the branch and passes arguments through', async () => {
    const r = await t.cli('psql', 'pr-10', '--', '-Atc', 'SELECT count(*) FROM items');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('1');
    const bad = await t.cli('psql', 'pr-10', '--', '-v', 'ON_ERROR_STOP=1', '-c', 'SELECT * FROM nope');
    expect(bad.code).toBe(11);
    expect(bad.stderr).toContain('nope');
  });
});

describe('mergeDotenv', () => {
  it('replaces in place, drops duplicates, appends new keys, quotes when needed', () => {
    expect(mergeDotenv('A=1\n# c\nB=2\nB=3\n', { B: 'x y', C: 'postgresql://u:p%40@h:1/d' })).toBe('A=1\n# c\nB="x y"\nC=postgresql://u:p%40@h:1/d\n');
    expect(mergeDotenv('', { A: '1' })).toBe('A=1\n');
  });
});
