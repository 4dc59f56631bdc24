import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { assertHostConsistent, sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';

/**
 * Acceptance of `rebase` (issue 12) through the domain, on real PostgreSQL and a real btrfs pool:
 * 1. both sides' changes are present after a rebase (parent: a column and rows; branch: a table,
 *    rows, updates of rows the parent did not touch), the URL is unchanged, the branch point moves;
 * 2. the same column added with different types on both sides is a schema conflict, the branch unchanged;
 * 3. row conflicts (both updated; deleted on one side, updated on the other) with both values,
 *    settled by --prefer parent and --prefer branch as documented;
 * and --undo returns the exact pre-rebase data. The host holds nothing else afterwards.
 */

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`rebase tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)('rebase on btrfs', () => {
  let t: TestHost;
  const url = async (name: string): Promise<string> => (await t.host.connectionInfo(name)).url;
  const rows = async (name: string, text: string) => sql(await url(name), text);
  const items = (name: string) => rows(name, 'SELECT * FROM items ORDER BY id');

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    await sql(
      await url('main'),
      `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0, code char(6) NOT NULL DEFAULT 'ab');
       INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 6) g;`,
    );
  });
  afterAll(async () => t?.cleanup());

  it('1: both sides’ changes are present after a rebase; same URL; --undo returns the exact pre-rebase data', async () => {
    await t.host.createBranch('pr-1', { origin: { kind: 'parent', parent: 'main' } });
    const before = await t.host.connectionInfo('pr-1');
    await sql(await url('main'), `ALTER TABLE items ADD COLUMN price numeric(10,2); INSERT INTO items (id, name, qty, price) VALUES (7, 'item 7', 7, 1.50), (8, 'item 8', 8, 2.50);`);
    await sql(
      await url('pr-1'),
      `CREATE TABLE tags (id serial PRIMARY KEY, item_id int NOT NULL REFERENCES items (id), label text NOT NULL);
       INSERT INTO items VALUES (10, 'branch item', 1);
       UPDATE items SET name = 'renamed on branch' WHERE id = 2;
       DELETE FROM items WHERE id = 3;
       INSERT INTO tags (item_id, label) VALUES (10, 'new'), (2, 'old');`,
    );
    const preItems = await items('pr-1');
    const preTags = await rows('pr-1', 'SELECT * FROM tags ORDER BY id');

    const dry = await t.host.rebaseBranch('pr-1', { dryRun: true });
    expect(dry).toMatchObject({ applied: false, dryRun: true, conflictCount: 0, onto: 'main' });
    expect(await items('pr-1')).toEqual(preItems);

    const report = await t.host.rebaseBranch('pr-1');
    expect(report, JSON.stringify(report.conflicts)).toMatchObject({ applied: true, conflictCount: 0, undoSnapshot: 'pr-1.pre-rebase' });
    expect(report.schema.statements.some((s) => s.identity === 'public.tags')).toBe(true);
    expect(report.data.tables.find((x) => x.name === 'items')).toMatchObject({ inserted: 1, updated: 1, deleted: 1 });
    expect(report.data.tables.find((x) => x.name === 'tags')).toMatchObject({ inserted: 2, copied: true });

    const after = await t.host.connectionInfo('pr-1');
    expect(after.url).toBe(before.url);
    const got = await items('pr-1');
    expect(got.map((r) => r.id)).toEqual([1, 2, 4, 5, 6, 7, 8, 10]);
    // char(n) keeps its padding through the comparison with the parent's row and the write.
    expect(got.find((r) => r.id === 2)).toMatchObject({ name: 'renamed on branch', price: null, code: 'ab    ' });
    expect(got.find((r) => r.id === 7)).toMatchObject({ name: 'item 7', price: '1.50' });
    expect(await rows('pr-1', 'SELECT * FROM tags ORDER BY id')).toEqual(preTags);
    // The sequence moved with the rows: the next tag does not collide.
    await sql(await url('pr-1'), `INSERT INTO tags (item_id, label) VALUES (1, 'later')`);
    // The branch point moved to the parent: a diff shows the branch's own changes only.
    const diff = await t.host.diff({ to: { kind: 'branch', name: 'pr-1' }, data: true });
    const itemsDiff = diff.data!.tables.find((x) => x.name === 'items');
    expect(itemsDiff).toMatchObject({ counts: { inserted: 1, updated: 1, deleted: 1 } });

    const undone = await t.host.rebaseBranch('pr-1', { undo: true });
    expect(undone).toMatchObject({ action: 'undo', applied: true });
    expect(await items('pr-1')).toEqual(preItems);
    expect(await rows('pr-1', 'SELECT * FROM tags ORDER BY id')).toEqual(preTags);
    expect((await t.host.connectionInfo('pr-1')).url).toBe(before.url);
    await expect(t.host.rebaseBranch('pr-1', { undo: true })).rejects.toMatchObject({ code: 'REBASE_UNDO_UNAVAILABLE' });
    await assertHostConsistent(t.home, t.pool.poolPath);
  });

  it('2: the same column added with different types is a schema conflict; the branch is unchanged', async () => {
    await t.host.createBranch('pr-2', { origin: { kind: 'parent', parent: 'main' } });
    await t.host.createBranch('pr-2b', { origin: { kind: 'parent', parent: 'main' } });
    await sql(await url('main'), 'ALTER TABLE items ADD COLUMN colour text');
    for (const b of ['pr-2', 'pr-2b']) await sql(await url(b), `ALTER TABLE items ADD COLUMN colour int; UPDATE items SET colour = 1 WHERE id = 1`);
    const pre = await items('pr-2');
    const dry = await t.host.rebaseBranch('pr-2', { dryRun: true });
    expect(dry.conflicts).toEqual([expect.objectContaining({ kind: 'schema', reason: 'both-changed', object: 'public.items.colour' })]);
    const err = await t.host.rebaseBranch('pr-2').catch((e: unknown) => e);
    expect(isPgbranchError(err, 'REBASE_CONFLICT')).toBe(true);
    expect((err as { spec: { exitCode: number; httpStatus: number } }).spec).toMatchObject({ exitCode: 17, httpStatus: 409 });
    expect(await items('pr-2')).toEqual(pre);
    const audit = await t.host.listAudit({ branch: 'pr-2' });
    expect(audit.filter((e) => e.operation === 'rebase').map((e) => [e.result, e.errorCode ?? null])).toEqual(expect.arrayContaining([['error', 'REBASE_CONFLICT'], ['ok', null]]));
    const cli = await t.cli('branch', 'rebase', 'pr-2');
    expect(cli.code).toBe(17);
    expect(cli.stderr).toContain('[REBASE_CONFLICT]');
    // --prefer branch: the column becomes the branch's (the diff parent → branch for that object), with the branch's values.
    const preferred = await t.host.rebaseBranch('pr-2b', { prefer: 'branch' });
    expect(preferred.conflicts).toEqual([expect.objectContaining({ object: 'public.items.colour', chosen: 'branch' })]);
    expect(await rows('pr-2b', `SELECT data_type FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'colour'`)).toEqual([{ data_type: 'integer' }]);
    expect(await rows('pr-2b', 'SELECT colour FROM items WHERE id = 1')).toEqual([{ colour: 1 }]);
    await assertHostConsistent(t.home, t.pool.poolPath);
  });

  it('3: row conflicts carry both values; --prefer parent and --prefer branch settle them', async () => {
    await t.host.createBranch('pr-3a', { origin: { kind: 'parent', parent: 'main' } });
    await t.host.createBranch('pr-3b', { origin: { kind: 'parent', parent: 'main' } });
    for (const b of ['pr-3a', 'pr-3b']) {
      await sql(await url(b), `UPDATE items SET name = 'branch 4' WHERE id = 4; UPDATE items SET qty = 99 WHERE id = 5; DELETE FROM items WHERE id = 6`);
    }
    await sql(await url('main'), `UPDATE items SET name = 'parent 4' WHERE id = 4; DELETE FROM items WHERE id = 5; UPDATE items SET qty = 66 WHERE id = 6`);
    const dry = await t.host.rebaseBranch('pr-3a', { dryRun: true });
    const byKey = Object.fromEntries(dry.conflicts.map((c) => [JSON.stringify(c.key), c]));
    expect(byKey['{"id":4}']).toMatchObject({ kind: 'row', reason: 'both-updated', object: 'public.items', parent: { name: 'parent 4' }, branch: { name: 'branch 4' } });
    expect(byKey['{"id":5}']).toMatchObject({ reason: 'deleted-on-parent', parent: null, branch: { qty: 99 } });
    expect(byKey['{"id":6}']).toMatchObject({ reason: 'deleted-on-branch', parent: { qty: 66 }, branch: null });
    expect(dry.conflictCount).toBe(3);

    const parentWins = await t.host.rebaseBranch('pr-3a', { prefer: 'parent' });
    expect(parentWins.conflicts.every((c) => c.chosen === 'parent')).toBe(true);
    const a = await items('pr-3a');
    expect(a.find((r) => r.id === 4)?.name).toBe('parent 4');
    expect(a.find((r) => r.id === 5)).toBeUndefined();
    expect(a.find((r) => r.id === 6)?.qty).toBe(66);

    const branchWins = await t.host.rebaseBranch('pr-3b', { prefer: 'branch' });
    expect(branchWins.conflicts.every((c) => c.chosen === 'branch')).toBe(true);
    const b = await items('pr-3b');
    expect(b.find((r) => r.id === 4)?.name).toBe('branch 4');
    expect(b.find((r) => r.id === 5)?.qty).toBe(99);
    expect(b.find((r) => r.id === 6)).toBeUndefined();
    await assertHostConsistent(t.home, t.pool.poolPath);
  });

  it('a reapplied change that fails (a referenced row the parent deleted) is a conflict with its error; --prefer parent drops it', async () => {
    await sql(await url('main'), `CREATE TABLE owners (id int PRIMARY KEY); CREATE TABLE pets (id int PRIMARY KEY, owner_id int NOT NULL REFERENCES owners (id)); INSERT INTO owners VALUES (1), (2);`);
    await t.host.createBranch('pr-6', { origin: { kind: 'parent', parent: 'main' } });
    await sql(await url('main'), 'DELETE FROM owners WHERE id = 2');
    await sql(await url('pr-6'), 'INSERT INTO pets VALUES (1, 1), (2, 2)');
    const dry = await t.host.rebaseBranch('pr-6', { dryRun: true });
    expect(dry.conflicts).toEqual([expect.objectContaining({ kind: 'failed', reason: 'row-failed', object: 'public.pets', key: { id: 2 }, branch: { id: 2, owner_id: 2 } })]);
    expect(dry.conflicts[0]!.error).toMatch(/foreign key/);
    await expect(t.host.rebaseBranch('pr-6')).rejects.toMatchObject({ code: 'REBASE_CONFLICT' });
    const report = await t.host.rebaseBranch('pr-6', { prefer: 'parent' });
    expect(report.conflicts).toEqual([expect.objectContaining({ reason: 'row-failed', chosen: 'parent' })]);
    expect(await rows('pr-6', 'SELECT id, owner_id FROM pets ORDER BY id')).toEqual([{ id: 1, owner_id: 1 }]);
  });

  it('migration history merges like data: the same migration on both sides is no conflict, each side\'s own is kept', async () => {
    const history = `CREATE TABLE _prisma_migrations (id varchar(36) PRIMARY KEY, migration_name text NOT NULL, finished_at timestamptz);`;
    await sql(await url('main'), history);
    await t.host.createBranch('pr-5', { origin: { kind: 'parent', parent: 'main' } });
    const migrate = (id: string, name: string, ddl: string) => `${ddl}; INSERT INTO _prisma_migrations VALUES ('${id}', '${name}', now())`;
    // The same migration (another row id and time: each side ran it itself), and one of each side's own.
    await sql(await url('main'), migrate('a1', '01_flags', 'CREATE TABLE flags (id int PRIMARY KEY)'));
    await sql(await url('main'), migrate('a2', '02_main_only', 'CREATE TABLE main_only (id int)'));
    await sql(await url('pr-5'), migrate('b1', '01_flags', 'CREATE TABLE flags (id int PRIMARY KEY)'));
    await sql(await url('pr-5'), migrate('b2', '03_branch_only', 'CREATE TABLE branch_only (id int)'));
    const report = await t.host.rebaseBranch('pr-5');
    expect(report, JSON.stringify(report.conflicts)).toMatchObject({ applied: true, conflictCount: 0, schema: { alreadyOnParent: 2 } }); // flags and its key
    expect(report.schema.statements.map((s) => s.identity)).toEqual(['public.branch_only']);
    expect(report.data.tables.find((x) => x.name === '_prisma_migrations')).toMatchObject({ inserted: 1, alreadyOnParent: 1 });
    expect((await rows('pr-5', 'SELECT migration_name FROM _prisma_migrations ORDER BY 1')).map((r) => r.migration_name)).toEqual(['01_flags', '02_main_only', '03_branch_only']);
    expect((await rows('pr-5', `SELECT tablename FROM pg_tables WHERE tablename IN ('flags', 'main_only', 'branch_only') ORDER BY 1`)).map((r) => r.tablename)).toEqual(['branch_only', 'flags', 'main_only']);
  });

  it('--onto a snapshot of the parent: its state, not the parent\'s later changes; a snapshot of another branch is refused', async () => {
    await t.host.createBranch('pr-4', { origin: { kind: 'parent', parent: 'main' } });
    await sql(await url('pr-4'), `INSERT INTO items (id, name) VALUES (40, 'pr-4')`);
    await sql(await url('main'), `INSERT INTO items (id, name) VALUES (41, 'in the snapshot')`);
    await t.host.createSnapshot('main', 'main-at-41');
    await sql(await url('main'), `INSERT INTO items (id, name) VALUES (42, 'after the snapshot')`);
    await t.host.createSnapshot('pr-4', 'pr-4-snap');
    await expect(t.host.rebaseBranch('pr-4', { onto: 'pr-4-snap' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // A stopped branch is read through a throwaway clone and stays stopped.
    await t.host.stopBranch('pr-4');
    const report = await t.host.rebaseBranch('pr-4', { onto: 'main-at-41' });
    expect(report).toMatchObject({ applied: true, onto: 'snapshot:main-at-41' });
    expect((await t.host.getBranch('pr-4')).state).toBe('stopped');
    await assertHostConsistent(t.home, t.pool.poolPath);
    await t.host.startBranch('pr-4');
    const ids = (await rows('pr-4', 'SELECT id FROM items WHERE id >= 40 ORDER BY id')).map((r) => r.id);
    expect(ids).toEqual([40, 41]);
    await t.host.deleteSnapshot('pr-4-snap');
    // A branch made from a snapshot moves onto the snapshot's branch's newer state.
    await t.host.createBranch('pr-4s', { origin: { kind: 'snapshot', snapshot: 'main-at-41' } });
    await sql(await url('pr-4s'), `INSERT INTO items (id, name) VALUES (43, 'pr-4s')`);
    expect(await t.host.rebaseBranch('pr-4s')).toMatchObject({ applied: true, onto: 'main' });
    expect((await rows('pr-4s', 'SELECT id FROM items WHERE id >= 40 ORDER BY id')).map((r) => r.id)).toEqual([41, 42, 43]);
    await assertHostConsistent(t.home, t.pool.poolPath);
  });

  it('refuses a protected branch like reset, and a root', async () => {
    await expect(t.host.rebaseBranch('main')).rejects.toMatchObject({ code: 'BRANCH_PROTECTED' });
    await t.host.updateBranch('main', { protected: false });
    await expect(t.host.rebaseBranch('main')).rejects.toMatchObject({ code: 'ROOT_BRANCH_RESET' });
    await t.host.updateBranch('main', { protected: true });
    await t.host.updateBranch('pr-4', { protected: true });
    await expect(t.host.rebaseBranch('pr-4')).rejects.toMatchObject({ code: 'BRANCH_PROTECTED' });
    await expect(t.host.rebaseBranch('pr-4', { undo: true })).rejects.toMatchObject({ code: 'BRANCH_PROTECTED' });
    // A dry run changes nothing, so a protected branch allows it.
    expect(await t.host.rebaseBranch('pr-4', { dryRun: true })).toMatchObject({ applied: false });
  });
});
