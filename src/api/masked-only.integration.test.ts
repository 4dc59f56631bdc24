import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../test-support/host-invariants.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { expectProblemShape, startApiFixture, type ApiFixture } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`masked-only API tests skipped: ${skip}`);

const RULES = 'version: 1\ntables:\n  customers:\n    email: { fake: email }\n    full_name: { fake: name }\n';

/** Issue 13, acceptance 4: masked branches over the API, and tokens limited to them. */
describe.skipIf(skip !== undefined)('masked branches over the API', () => {
  let f: ApiFixture;
  let token: string;
  /** main-masked's `masked` field, which its branches inherit. */
  let mark: unknown;

  beforeAll(async () => {
    f = await startApiFixture();
    const main = (await f.t.host.connectionInfo('main')).url;
    await sql(
      main,
      `CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE NOT NULL, full_name text, plan text);
       INSERT INTO customers SELECT g, 'person' || g || '.' || md5(g::text) || '@corp.test', 'Gwendolyn Throckmorton ' || g, 'pro' FROM generate_series(1, 500) g`,
    );
  }, 120_000);
  afterAll(async () => f?.cleanup());

  it('POST /v1/branches with mask makes a masked, protected branch; mask-check names what is uncovered', async () => {
    const bad = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'bad', parent: 'main', mask: 'version: 1\ntables:\n  customers:\n    email: { fake: emial }\n', mask_file: 'm.yaml' } });
    expect(bad.status, bad.text).toBe(422);
    expectProblemShape(bad);
    expect(bad.body).toMatchObject({ code: 'MASK_RULES_INVALID', problems: [expect.objectContaining({ file: 'm.yaml', line: 4, code: 'unknown-fake' })] });

    const partial = 'version: 1\ntables:\n  customers:\n    full_name: { fake: name }\n';
    const check = await f.call('POST', '/v1/branches/main/mask-check', { token: f.adminToken, body: { rules: partial } });
    expect(check.status, check.text).toBe(422);
    expect(check.body).toMatchObject({ code: 'MASK_UNCOVERED_COLUMNS', columns: [expect.objectContaining({ table: 'customers', column: 'email' })] });
    const refused = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'masked-partial', parent: 'main', mask: partial } });
    expect(refused.status, refused.text).toBe(422);
    expect((await f.t.host.listBranches({ withUsage: false })).map((b) => b.name)).toEqual(['main']);

    const ok = await f.call('POST', '/v1/branches/main/mask-check', { token: f.adminToken, body: { rules: RULES, file: 'masking.yaml' } });
    expect(ok.status, ok.text).toBe(200);
    const made = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'main-masked', parent: 'main', mask: RULES, mask_file: 'masking.yaml' } });
    expect(made.status, made.text).toBe(201);
    expect(made.body).toMatchObject({ protected: true, masked: { rules_sha256: ok.body.rules_sha256 } });
    mark = made.body.masked;
    const conn = await f.call('GET', '/v1/branches/main-masked/connection', { token: f.adminToken });
    const rows = await sql<{ n: number }>(conn.body.url_unpooled as string, `SELECT count(*)::int AS n FROM customers WHERE email LIKE '%@corp.test' OR full_name LIKE 'Gwendolyn%'`);
    expect(rows).toEqual([{ n: 0 }]);
  }, 120_000);

  it('a masked-only token cannot branch from or connect to main, and sees masked branches only', async () => {
    const created = await f.call('POST', '/v1/tokens', { token: f.adminToken, body: { name: 'ci-masked', role: 'write', branch_patterns: ['pr-*', 'main*'], masked_only: true } });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ masked_only: true });
    token = created.body.token as string;
    const whoami = await f.call('GET', '/v1/token', { token });
    expect(whoami.status, whoami.text).toBe(200);
    expect(whoami.body).toMatchObject({ masked_only: true });

    const denied = async (method: string, path: string, body?: unknown) => {
      const res = await f.call(method, path, { token, body });
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(403);
      expect(res.body).toMatchObject({ code: 'PERMISSION_DENIED' });
    };
    await denied('POST', '/v1/branches', { name: 'pr-main', parent: 'main' });
    await denied('POST', '/v1/branches', { name: 'pr-main', parent: 'main', mask: RULES });
    await denied('POST', '/v1/branches', { name: 'pr-root' });
    await denied('GET', '/v1/branches/main');
    await denied('GET', '/v1/branches/main/connection');
    await denied('POST', '/v1/branches/main/rotate-password');
    await denied('POST', '/v1/branches/main/stop');
    await denied('POST', '/v1/branches/main/mask-check', { rules: RULES });
    await denied('GET', '/v1/branches/nope');
    // It hands out masked-only tokens only.
    await denied('POST', '/v1/tokens', { name: 'wider', role: 'read' });

    const list = await f.call('GET', '/v1/branches?with_usage=false', { token });
    expect(list.status, list.text).toBe(200);
    expect((list.body.branches as { name: string }[]).map((b) => b.name)).toEqual(['main-masked']);
    const metrics = await f.call('GET', '/metrics', { token });
    expect(metrics.status, metrics.text).toBe(200);
    expect(metrics.text).not.toMatch(/branch="main"/);

    const child = await f.call('POST', '/v1/branches', { token, body: { name: 'pr-1', parent: 'main-masked' } });
    expect(child.status, child.text).toBe(201);
    expect(child.body.masked).toEqual(mark);
    const conn = await f.call('GET', '/v1/branches/pr-1/connection', { token });
    expect(conn.status, conn.text).toBe(200);
    expect(await sql(conn.body.url_unpooled as string, 'SELECT count(*)::int AS n FROM customers')).toEqual([{ n: 500 }]);
    // The endpoint authenticates with the branch's own password (it takes no API token): the API
    // gives such a token connection details of masked branches only (…/main/connection above).
    const nested = await f.call('GET', '/v1/branches', { token: f.adminToken });
    expect((nested.body.branches as { name: string }[]).map((b) => b.name).sort()).toEqual(['main', 'main-masked', 'pr-1']);
  }, 120_000);

  it('a masked-only token diffs, rebases and snapshots masked branches, and branches from their snapshots; never main or its snapshots', async () => {
    const call = async (method: string, path: string, status: number, body?: unknown, as = token) => {
      const res = await f.call(method, path, { token: as, body });
      expect(res.status, `${method} ${path}: ${res.text}`).toBe(status);
      if (status === 403) expect(res.body).toMatchObject({ code: 'PERMISSION_DENIED' });
      return res;
    };
    await sql((await f.t.host.connectionInfo('pr-1')).url, `UPDATE customers SET plan = 'free' WHERE id <= 3`);
    // Snapshots: of its masked branches (marked masked), not of main; a snapshot of main is hidden.
    const snap = await call('POST', '/v1/snapshots', 201, { branch: 'pr-1', name: 'pr-1-snap' });
    expect(snap.body.masked).toEqual(mark);
    await call('POST', '/v1/snapshots', 403, { branch: 'main', name: 'main-snap' });
    expect((await call('POST', '/v1/snapshots', 201, { branch: 'main', name: 'main-snap' }, f.adminToken)).body.masked).toBeNull();
    expect(((await call('GET', '/v1/snapshots', 200)).body.snapshots as { name: string }[]).map((s) => s.name)).toEqual(['pr-1-snap']);
    await call('GET', '/v1/snapshots/main-snap', 403);
    await call('DELETE', '/v1/snapshots/main-snap', 403);
    // A branch of a masked snapshot is masked; one of main's snapshot is refused.
    expect((await call('POST', '/v1/branches', 201, { name: 'pr-2', snapshot: 'pr-1-snap' })).body.masked).toEqual(mark);
    await call('POST', '/v1/branches', 403, { name: 'pr-3', snapshot: 'main-snap' });
    // Diff: its branch against its branch point, or another masked branch; never main.
    const diff = await call('GET', '/v1/branches/pr-1/diff?data=true', 200);
    expect(JSON.stringify(diff.body)).toMatch(/customers/);
    await call('GET', '/v1/branches/pr-1/diff?against=main-masked', 200);
    await call('GET', '/v1/branches/pr-1/diff?against=main', 403);
    await call('GET', '/v1/branches/pr-1/diff?against=main-snap', 403);
    // Rebase onto its (masked) parent.
    const rebase = await call('POST', '/v1/branches/pr-1/rebase', 200, { dry_run: true });
    expect(rebase.body).toMatchObject({ branch: 'pr-1', onto: 'main-masked', dry_run: true });
    await call('POST', '/v1/branches/pr-1/rebase', 403, { dry_run: true, onto: 'main-snap' });
    await call('DELETE', '/v1/snapshots/pr-1-snap', 204);
  }, 120_000);

  it('giving rules is the admin\'s: a write token cannot mask or change the rules, but re-masks with the same rules', async () => {
    const made = await f.call('POST', '/v1/tokens', { token: f.adminToken, body: { name: 'ci-write', role: 'write' } });
    const writer = made.body.token as string;
    const keepAll = 'version: 1\ntables:\n  customers:\n    email: keep\n    full_name: keep\n';
    for (const [path, body] of [
      ['/v1/branches', { name: 'leaky', parent: 'main', mask: keepAll }],
      ['/v1/branches/main-masked/reset', { mask: keepAll }],
    ] as const) {
      const res = await f.call('POST', path, { token: writer, body });
      expect(res.status, `${path}: ${res.text}`).toBe(403);
      expect(res.body).toMatchObject({ code: 'PERMISSION_DENIED', needs: 'admin' });
    }
    // Same rules, or none (the kept ones): a re-mask from main's current data.
    await sql((await f.t.host.connectionInfo('main')).url, `INSERT INTO customers VALUES (501, 'late.comer@corp.test', 'Gwendolyn Late', 'pro')`);
    const same = await f.call('POST', '/v1/branches/main-masked/reset', { token: writer, body: { mask: RULES } });
    expect(same.status, same.text).toBe(200);
    const plain = await f.call('POST', '/v1/branches/main-masked/reset', { token: writer });
    expect(plain.status, plain.text).toBe(200);
    expect(plain.body).toMatchObject({ protected: true, masked: { rules_sha256: (mark as { rules_sha256: string }).rules_sha256 } });
    const conn = await f.call('GET', '/v1/branches/main-masked/connection', { token: f.adminToken });
    expect(await sql(conn.body.url_unpooled as string, `SELECT count(*)::int AS n, count(*) FILTER (WHERE email LIKE '%@corp.test')::int AS raw FROM customers`)).toEqual([{ n: 501, raw: 0 }]);
  }, 180_000);
});
