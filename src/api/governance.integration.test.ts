import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { expectProblemShape, startApiFixture, type ApiFixture } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`API governance tests skipped: ${skip}`);

const branch = (name: string, suffix = '') => `/v1/branches/${encodeURIComponent(name)}${suffix}`;

/** Protection, expiry, audit visibility and gc over the REST API (and the remote CLI). */
describe.skipIf(skip !== undefined)('REST API governance', () => {
  let f: ApiFixture;
  let ci: { token: string; tokenId: string };

  beforeAll(async () => {
    f = await startApiFixture();
    const created = await f.token('write', ['pr-*']);
    ci = { token: created.token, tokenId: created.info.tokenId };
  });
  afterAll(async () => f?.cleanup());

  it('creates with a TTL; write tokens protect, only admin tokens unprotect; protected branches refuse delete with 409', async () => {
    const created = await f.call('POST', '/v1/branches', { token: ci.token, body: { name: 'pr-9', parent: 'main', ttl_ms: 86_400_000 } });
    expect(created.status, created.text).toBe(201);
    expect(Date.parse(created.body.expires_at) - Date.now()).toBeGreaterThan(86_400_000 - 60_000);
    expect(created.body.protected).toBe(false);

    const both = await f.call('POST', '/v1/branches', { token: ci.token, body: { name: 'pr-10', parent: 'main', ttl_ms: 1, expires_at: '2030-01-01T00:00:00Z' } });
    expect(both.status).toBe(400);

    const protect = await f.call('PATCH', branch('pr-9'), { token: ci.token, body: { protected: true, ttl_ms: null } });
    expect(protect.status, protect.text).toBe(200);
    expect(protect.body).toMatchObject({ protected: true, expires_at: null });

    const del = await f.call('DELETE', branch('pr-9'), { token: ci.token });
    expect(del.status).toBe(409);
    expectProblemShape(del);
    expect(del.body).toMatchObject({ code: 'BRANCH_PROTECTED', branch: 'pr-9' });

    const unprotectByCi = await f.call('PATCH', branch('pr-9'), { token: ci.token, body: { protected: false } });
    expect(unprotectByCi.status).toBe(403);
    const unprotect = await f.call('PATCH', branch('pr-9'), { token: f.adminToken, body: { protected: false } });
    expect(unprotect.status, unprotect.text).toBe(200);
    expect((await f.call('DELETE', branch('pr-9'), { token: ci.token })).status).toBe(204);
  });

  it('names the token in the audit log; a scoped token sees only its branches, never token entries', async () => {
    const mine = await f.call('GET', '/v1/audit?limit=1000', { token: ci.token });
    expect(mine.status, mine.text).toBe(200);
    const entries = mine.body.entries as { target_kind: string; target: string; actor: string; actor_name: string | null; operation: string; result: string }[];
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.target_kind === 'branch' && e.target.startsWith('pr-'))).toBe(true);
    expect(entries.find((e) => e.operation === 'delete' && e.result === 'error')).toMatchObject({ actor: `token:${ci.tokenId}`, target: 'pr-9' });

    const all = await f.call('GET', '/v1/audit', { token: f.adminToken });
    expect((all.body.entries as { target_kind: string }[]).some((e) => e.target_kind === 'token')).toBe(true);
    const badTime = await f.call('GET', '/v1/audit?since=yesterday', { token: f.adminToken });
    expect(badTime.status).toBe(400);

    // The remote CLI goes through the same route.
    const cli = await f.t.cliWithEnv({ PGBRANCH_API_URL: f.server.url, PGBRANCH_TOKEN: ci.token }, 'audit', '--branch', 'pr-9', '-o', 'json');
    expect(cli.code, cli.stderr).toBe(0);
    expect((JSON.parse(cli.stdout) as unknown[]).length).toBe(entries.filter((e) => e.target === 'pr-9').length);
  });

  it('runs gc for admin tokens only', async () => {
    expect((await f.call('POST', '/v1/gc', { token: ci.token, body: { dry_run: true } })).status).toBe(403);
    const dry = await f.call('POST', '/v1/gc', { token: f.adminToken, body: { dry_run: true } });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body).toEqual({ dry_run: true, actions: [] });
    const cli = await f.t.cliWithEnv({ PGBRANCH_API_URL: f.server.url, PGBRANCH_TOKEN: f.adminToken }, 'gc', '-o', 'json');
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toEqual({ dry_run: false, actions: [] });
  });
});
