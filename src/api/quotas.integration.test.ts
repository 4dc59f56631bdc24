import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../util/index.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { expectProblemShape, startApiFixture, type ApiFixture } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`quota tests skipped: ${skip}`);

const MIB = 1024 * 1024;
const branch = (name: string) => `/v1/branches/${encodeURIComponent(name)}`;

/** Quotas through the local CLI and the REST API, with their stable codes (exit 14, HTTP 422/507). */
describe.skipIf(skip !== undefined)('quotas', () => {
  let f: ApiFixture;
  let ci: { token: string; tokenId: string };
  const floor = 256 * MIB;

  beforeAll(async () => {
    f = await startApiFixture({
      config: (c) => ({ ...c, quotas: { maxBranches: 6, maxBranchesPerToken: 2, maxOwnBytesPerBranch: 256 * MIB, minPoolFreeBytes: floor } }),
    });
    const created = await f.token('write', ['pr-*']);
    ci = { token: created.token, tokenId: created.info.tokenId };
  });
  afterAll(async () => f?.cleanup());

  it('shows the quotas and what the pool enforces', async () => {
    const status = await f.call('GET', '/v1/host', { token: f.adminToken });
    expect(status.body).toMatchObject({
      branch_limits: { kind: 'exclusive', reason: null },
      quotas: { max_branches: 6, max_branches_per_token: 2, max_own_bytes_per_branch: 256 * MIB, min_pool_free_bytes: floor },
    });
    const info = await f.t.cli('status');
    expect(info.stdout).toMatch(/size caps enforced:\s+yes \(btrfs qgroups/);
  });

  it('limits branches per token (422 QUOTA_EXCEEDED), gives each the default cap, and lets CI retries through', async () => {
    for (const name of ['pr-1', 'pr-2']) {
      const r = await f.call('POST', '/v1/branches', { token: ci.token, body: { name, parent: 'main' } });
      expect(r.status, r.text).toBe(201);
      expect(r.body).toMatchObject({ max_own_bytes: 256 * MIB, created_by: `token:${ci.tokenId}` });
    }
    const third = await f.call('POST', '/v1/branches', { token: ci.token, body: { name: 'pr-3', parent: 'main' } });
    expect(third.status).toBe(422);
    expectProblemShape(third);
    expect(third.body).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'maxBranchesPerToken', limit: 2, count: 2 });
    expect((await f.call('GET', branch('pr-3'), { token: f.adminToken })).status).toBe(404);

    const retry = await f.call('POST', '/v1/branches', { token: ci.token, body: { name: 'pr-1', parent: 'main', if_not_exists: true } });
    expect(retry.status, retry.text).toBe(200);

    // The remote CLI gets the same code and its exit code.
    const remote = await f.t.cliWithEnv({ PGBRANCH_API_URL: f.server.url, PGBRANCH_TOKEN: ci.token }, 'branch', 'create', 'pr-4', '--from', 'main', '-o', 'json');
    expect(remote.code).toBe(14);
    expect(JSON.parse(remote.stderr.trim().split('\n').at(-1)!)).toMatchObject({ error: { code: 'QUOTA_EXCEEDED' } });

    // Deleting one frees a slot.
    expect((await f.call('DELETE', branch('pr-2'), { token: ci.token })).status).toBe(204);
    expect((await f.call('POST', '/v1/branches', { token: ci.token, body: { name: 'pr-3', parent: 'main' } })).status).toBe(201);
  });

  it('bounds the per-branch cap by the host ceiling; changing it needs an admin token', async () => {
    const tooBig = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'big', parent: 'main', max_own_bytes: 512 * MIB } });
    expect(tooBig.status).toBe(422);
    expect(tooBig.body).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'maxOwnBytesPerBranch', limit: 256 * MIB });
    const unlimited = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'big', parent: 'main', max_own_bytes: null } });
    expect(unlimited.status).toBe(422);
    const tiny = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'big', parent: 'main', max_own_bytes: MIB } });
    expect(tiny.status).toBe(400);
    expect(tiny.body).toMatchObject({ code: 'INVALID_ARGUMENT' });

    const byWriter = await f.call('PATCH', branch('pr-1'), { token: ci.token, body: { max_own_bytes: 200 * MIB } });
    expect(byWriter.status).toBe(403);
    const byAdmin = await f.call('PATCH', branch('pr-1'), { token: f.adminToken, body: { max_own_bytes: 128 * MIB } });
    expect(byAdmin.status, byAdmin.text).toBe(200);
    expect(byAdmin.body.max_own_bytes).toBe(128 * MIB);

    // The local CLI: same codes, exit 14.
    const cliTooBig = await f.t.cli('branch', 'create', 'feat-1', '--from', 'main', '--max-own-bytes', '1G');
    expect(cliTooBig.code).toBe(14);
    expect(cliTooBig.stderr).toContain('[QUOTA_EXCEEDED]');
    const cliOk = await f.t.cli('branch', 'create', 'feat-1', '--from', 'main', '--max-own-bytes', '100M', '-o', 'json');
    expect(cliOk.code, cliOk.stderr).toBe(0);
    expect(JSON.parse(cliOk.stdout)).toMatchObject({ max_own_bytes: 100 * MIB, created_by: expect.stringMatching(/^local:/) });
    const cliSet = await f.t.cli('branch', 'set', 'feat-1', '--max-own-bytes', 'none');
    expect(cliSet.code).toBe(14);
    expect(cliSet.stderr).toContain('[QUOTA_EXCEEDED]');
  });

  it('limits branches per host, through the CLI and the API', async () => {
    // main, pr-1, pr-3, feat-1 exist: two more reach the limit of 6.
    expect((await f.t.cli('branch', 'create', 'feat-2', '--from', 'main')).code).toBe(0);
    expect((await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'feat-3', parent: 'main' } })).status).toBe(201);
    const cli = await f.t.cli('branch', 'create', 'feat-4', '--from', 'main');
    expect(cli.code).toBe(14);
    expect(cli.stderr).toMatch(/6 branches.*quotas\.maxBranches.*\[QUOTA_EXCEEDED\]/);
    const api = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'feat-4', parent: 'main' } });
    expect(api.status).toBe(422);
    expect(api.body).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'maxBranches', limit: 6 });
    expect((await f.t.cli('branch', 'delete', 'feat-3')).code).toBe(0);
  });

  it('refuses new branches and snapshots under the pool free-space floor (507 POOL_FULL) until space comes back', async () => {
    const { pool } = (await f.t.host.status());
    // Ballast outside the pool directory, on the same filesystem: leaves 64 MiB under the floor.
    const ballast = join(f.t.pool.mountPoint, 'ballast');
    execFileSync('fallocate', ['-l', String(pool.freeBytes - floor + 64 * MIB), ballast]);
    try {
      const api = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'feat-5', parent: 'main' } });
      expect(api.status).toBe(507);
      expectProblemShape(api);
      expect(api.body).toMatchObject({ code: 'POOL_FULL', min_pool_free_bytes: floor });
      const snap = await f.call('POST', '/v1/snapshots', { token: f.adminToken, body: { branch: 'main', name: 'snap-1' } });
      expect(snap.status).toBe(507);
      const cli = await f.t.cli('branch', 'create', 'feat-5', '--from', 'main');
      expect(cli.code).toBe(14);
      expect(cli.stderr).toContain('[POOL_FULL]');
      expect((await f.t.host.listBranches({ withUsage: false })).map((b) => b.name)).not.toContain('feat-5');
    } finally {
      rmSync(ballast, { force: true });
      // btrfs frees the extents when it commits; syncfs commits now.
      execFileSync('sync', ['-f', f.t.pool.mountPoint]);
    }
    await waitFor(async () => ((await f.t.host.status()).pool.freeBytes >= floor ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: 'the ballast space to come back',
    });
    const after = await f.t.cli('branch', 'create', 'feat-5', '--from', 'main');
    expect(after.code, after.stderr).toBe(0);
  });
});

describe.skipIf(skip !== undefined)('the default pool floor', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await startApiFixture();
  });
  afterAll(async () => f?.cleanup());

  it('keeps 5% of the pool (at least 64 MiB) free without any configuration: a create that would eat into it is refused', async () => {
    const status = await f.call('GET', '/v1/host', { token: f.adminToken });
    const floor = status.body.quotas.min_pool_free_bytes as number;
    expect(floor).toBe(Math.max(64 * MIB, Math.round(status.body.pool.total_bytes * 0.05)));
    const ballast = join(f.t.pool.mountPoint, 'ballast');
    execFileSync('fallocate', ['-l', String(status.body.pool.free_bytes - floor + 16 * MIB), ballast]);
    try {
      const api = await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'near-full', parent: 'main' } });
      expect(api.status).toBe(507);
      expect(api.body).toMatchObject({ code: 'POOL_FULL', min_pool_free_bytes: floor });
      expect(api.body.detail).toContain('by default 5% of the pool');
    } finally {
      rmSync(ballast, { force: true });
      execFileSync('sync', ['-f', f.t.pool.mountPoint]);
    }
    await waitFor(async () => ((await f.t.host.status()).pool.freeBytes >= floor ? true : undefined), { timeoutMs: 30_000, intervalMs: 100, what: 'space back' });
    expect((await f.call('POST', '/v1/branches', { token: f.adminToken, body: { name: 'near-full', parent: 'main' } })).status).toBe(201);
  });
});
