import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiffView } from '../branches/index.js';
import { sql } from '../test-support/host-invariants.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { createApiClient } from './index.js';
import { expectProblemShape, startApiFixture, type ApiFixture } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`API diff tests skipped: ${skip}`);

/** Timings are measured per call: everything else must be the same, remote or local. */
const stable = ({ timings: _t, ...rest }: DiffView) => rest;

describe.skipIf(skip !== undefined)('GET /v1/branches/{name}/diff', () => {
  let f: ApiFixture;
  const diffPath = (name: string, query = '') => `/v1/branches/${encodeURIComponent(name)}/diff${query}`;

  beforeAll(async () => {
    f = await startApiFixture();
    const main = (await f.t.host.connectionInfo('main')).url;
    await sql(main, "CREATE TABLE items (id int PRIMARY KEY, label text); INSERT INTO items SELECT g, 'i' || g FROM generate_series(1, 100) g");
    await f.t.host.createBranch('pr-7', { origin: { kind: 'parent', parent: 'main' } });
    await sql((await f.t.host.connectionInfo('pr-7')).url, "ALTER TABLE items ADD COLUMN tag text; UPDATE items SET label = 'changed' WHERE id <= 3; DELETE FROM items WHERE id = 100");
  });
  afterAll(async () => f?.cleanup());

  it('answers the diff of a branch against its branch point; the remote client and the remote CLI give what the host gives', async () => {
    const res = await f.call('GET', diffPath('pr-7', '?schema=true&rows=true'), { token: f.adminToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      from: { kind: 'branch-point', name: 'pr-7' },
      to: { kind: 'branch', name: 'pr-7' },
      database: 'app',
      schema: { matched_by: 'oid' },
      data: { method: 'blocks', totals: { inserted: 0, updated: 3, deleted: 1 } },
    });
    expect(res.body.schema.script).toContain('ADD COLUMN "tag" text');
    const items = res.body.data.tables.find((t: { name: string }) => t.name === 'items');
    // Column names of rows travel as they are: only pgbranch's own fields are snake_case.
    expect(items.rows).toContainEqual({ change: 'deleted', key: { id: 100 }, old: { id: 100, label: 'i100' } });
    expect(items).toMatchObject({ key_columns: ['id'], columns_added: ['tag'] });

    const client = createApiClient({ baseUrl: f.server.url, token: f.adminToken });
    const request = { to: { kind: 'name', name: 'pr-7' }, data: true, rows: true, verify: true } as const;
    const [remote, local] = [await client.diff(request), await f.t.host.diff(request)];
    expect(stable(remote)).toEqual(stable(local));
    expect(remote.schema!.verification!.proven).toBe(true);

    const env = { PGBRANCH_API_URL: f.server.url, PGBRANCH_TOKEN: f.adminToken };
    for (const args of [['diff', 'pr-7', '--rows'], ['diff', 'main', 'pr-7', '--schema', '-o', 'sql'], ['diff', 'pr-7', '--data', '-o', 'yaml']]) {
      const [viaApi, inProcess] = [await f.t.cliWithEnv(env, ...args), await f.t.cli(...args)];
      expect(viaApi.code, viaApi.stderr).toBe(0);
      // What is measured per call (durations, the branch point's exclusive bytes) may differ; nothing else.
      const measured = (text: string) => text.replace(/(prepare|schema|data|ranges|verify|total)(Ms|_ms): [\d.]+/g, '');
      expect(measured(viaApi.stdout), args.join(' ')).toEqual(measured(inProcess.stdout));
    }
  });

  it('needs read access to both sides', async () => {
    const { token } = await f.token('read', ['pr-*']);
    expect((await f.call('GET', diffPath('pr-7'), { token })).status).toBe(200);
    const against = await f.call('GET', diffPath('pr-7', '?against=main'), { token });
    expect(against.status).toBe(403);
    expectProblemShape(against);
    expect(against.body.code).toBe('PERMISSION_DENIED');
    expect((await f.call('GET', diffPath('main', '?against=pr-7'), { token })).status).toBe(403);
    await f.t.host.createSnapshot('main', 'main-snap');
    expect((await f.call('GET', diffPath('pr-7', `?against=${encodeURIComponent('snapshot:main-snap')}`), { token })).status).toBe(403);
    expect((await f.call('GET', diffPath('pr-7', `?against=main-snap`), { token })).status).toBe(403);
    await f.t.host.deleteSnapshot('main-snap');
  });

  it('bad input: problem+json with the catalogue codes and statuses', async () => {
    const cases: [string, number, string][] = [
      [diffPath('no-such'), 404, 'BRANCH_NOT_FOUND'],
      [diffPath('pr-7', '?against=no-such'), 404, 'BRANCH_NOT_FOUND'],
      [diffPath('pr-7', `?against=${encodeURIComponent('snapshot:gone')}`), 404, 'SNAPSHOT_NOT_FOUND'],
      [diffPath('main'), 409, 'BRANCH_POINT_UNAVAILABLE'],
      [diffPath('pr-7', '?against=Bad!'), 400, 'INVALID_BRANCH_NAME'],
      [diffPath('pr-7', '?against=tag:main'), 400, 'INVALID_ARGUMENT'],
      [diffPath('pr-7', '?limit=-1'), 400, 'INVALID_ARGUMENT'],
    ];
    for (const [path, status, code] of cases) {
      const res = await f.call('GET', path, { token: f.adminToken });
      expect(res.status, `${path}: ${res.text}`).toBe(status);
      expectProblemShape(res);
      expect(res.body.code, path).toBe(code);
    }
    const remote = await f.t.cliWithEnv({ PGBRANCH_API_URL: f.server.url, PGBRANCH_TOKEN: f.adminToken }, 'diff', 'snapshot:gone', 'pr-7');
    expect(remote.code).toBe(3);
    expect(remote.stderr).toContain('[SNAPSHOT_NOT_FOUND]');
  });
});
