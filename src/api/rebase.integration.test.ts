import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../test-support/host-invariants.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { createApiClient } from './index.js';
import { expectProblemShape, startApiFixture, type ApiFixture } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`API rebase tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)('POST /v1/branches/{name}/rebase', () => {
  let f: ApiFixture;
  const url = async (name: string) => (await f.t.host.connectionInfo(name)).url;
  const path = (name: string) => `/v1/branches/${encodeURIComponent(name)}/rebase`;

  beforeAll(async () => {
    f = await startApiFixture();
    await sql(await url('main'), "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, 'i' || g FROM generate_series(1, 10) g");
    await f.t.host.createBranch('pr-9', { origin: { kind: 'parent', parent: 'main' } });
    await sql(await url('pr-9'), "UPDATE items SET label = 'branch' WHERE id = 1; INSERT INTO items VALUES (11, 'new')");
    await sql(await url('main'), "UPDATE items SET label = 'parent' WHERE id = 1; INSERT INTO items VALUES (12, 'main')");
  });
  afterAll(async () => f?.cleanup());

  it('reports a conflict as 409 REBASE_CONFLICT with the report; dry run, remote client and remote CLI agree with the host', async () => {
    const conflict = await f.call('POST', path('pr-9'), { token: f.adminToken, body: {} });
    expect(conflict.status, conflict.text).toBe(409);
    expectProblemShape(conflict);
    expect(conflict.body).toMatchObject({ code: 'REBASE_CONFLICT', report: { dry_run: false, applied: false, conflict_count: 1 } });

    const dry = await f.call('POST', path('pr-9'), { token: f.adminToken, body: { dry_run: true } });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body).toMatchObject({ dry_run: true, applied: false, conflict_count: 1 });
    expect(dry.body.conflicts[0]).toMatchObject({ kind: 'row', reason: 'both-updated', key: { id: 1 }, parent: { label: 'parent' }, branch: { label: 'branch' } });

    const env = { PGBRANCH_API_URL: f.server.url, PGBRANCH_TOKEN: f.adminToken };
    const refused = await f.t.cliWithEnv(env, 'branch', 'rebase', 'pr-9');
    expect(refused.code, refused.stderr).toBe(17);
    expect(refused.stderr).toContain('[REBASE_CONFLICT]');

    const client = createApiClient({ baseUrl: f.server.url, token: f.adminToken });
    const report = await client.rebaseBranch('pr-9', { prefer: 'branch' });
    expect(report).toMatchObject({ applied: true, prefer: 'branch', undoSnapshot: 'pr-9.pre-rebase', conflictCount: 1 });
    expect(report.conflicts[0]).toMatchObject({ chosen: 'branch' });
    expect(await sql(await url('pr-9'), 'SELECT id, label FROM items WHERE id IN (1, 11, 12) ORDER BY id')).toEqual([
      { id: 1, label: 'branch' },
      { id: 11, label: 'new' },
      { id: 12, label: 'main' },
    ]);
    const undo = await f.t.cliWithEnv(env, 'branch', 'rebase', 'pr-9', '--undo', '-o', 'json');
    expect(undo.code, undo.stderr).toBe(0);
    expect(JSON.parse(undo.stdout)).toMatchObject({ action: 'undo', applied: true });
    expect(await sql(await url('pr-9'), 'SELECT id FROM items WHERE id = 12')).toEqual([]);
  });

  it('needs write access to the branch', async () => {
    const { token } = await f.token('read', ['pr-*']);
    const res = await f.call('POST', path('pr-9'), { token, body: { dry_run: true } });
    expect(res.status, res.text).toBe(403);
    expectProblemShape(res);
  });
});
