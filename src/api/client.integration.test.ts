import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BranchView } from '../branches/index.js';
import { sql } from '../test-support/host-invariants.js';
import { testPoolSkipReason } from '../test-support/test-host.js';
import { PgbranchError } from '../errors.js';
import { createApiClient, startApiServer, type ApiClient, type BranchService } from './index.js';
import { startApiFixture, type ApiFixture } from './test-support/api-fixture.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`API client tests skipped: ${skip}`);

/** Sizes are measured at call time and may move between two calls; everything else must match. */
// Sizes are measured (or not) per call: compare everything else.
const stable = ({ ownBytes: _o, sharedBytes: _s, totalBytes: _t, branchPointBytes: _b, ...rest }: BranchView) => rest;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(PgbranchError);
    return (err as PgbranchError).code;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(skip !== undefined)('remote client: the same BranchService over HTTP', () => {
  let f: ApiFixture;
  let client: ApiClient;

  beforeAll(async () => {
    f = await startApiFixture();
    client = createApiClient({ baseUrl: f.server.url, token: f.adminToken });
  });
  afterAll(async () => f?.cleanup());

  it('is a BranchService, like Host', () => {
    const asService: BranchService[] = [client, f.t.host];
    expect(asService).toHaveLength(2);
  });

  it('create / list / get / url / reset / delete give what the host gives', async () => {
    const made = await client.createBranch('feature/client', { origin: { kind: 'parent', parent: 'main' } });
    expect(made.created).toBe(true);
    expect(stable(made.branch)).toEqual(stable(await f.t.host.getBranch('feature/client')));
    const again = await client.createBranch('feature/client', { origin: { kind: 'parent', parent: 'main' }, ifNotExists: true });
    expect(again).toMatchObject({ created: false, branch: { name: 'feature/client', parent: 'main' } });

    const listed = await client.listBranches({ withUsage: false });
    expect(listed.map(stable)).toEqual((await f.t.host.listBranches({ withUsage: false })).map(stable));
    expect(listed.map((b) => b.name)).toEqual(expect.arrayContaining(['main', 'feature/client']));
    const withUsage = await client.listBranches();
    expect(withUsage.find((b) => b.name === 'main')!.totalBytes).toBeGreaterThan(0);

    const view = await client.getBranch('feature/client');
    expect(stable(view)).toEqual(stable(await f.t.host.getBranch('feature/client')));

    const info = await client.connectionInfo('feature/client');
    expect(info).toEqual(await f.t.host.connectionInfo('feature/client'));
    await sql(info.url, 'CREATE TABLE t (v int); INSERT INTO t VALUES (1)');

    const reset = await client.resetBranch('feature/client');
    expect(reset.resetAt).not.toBeNull();
    expect(await sql(info.url, "SELECT to_regclass('t') AS t")).toEqual([{ t: null }]);

    await client.deleteBranch('feature/client');
    expect(await codeOf(f.t.host.getBranch('feature/client'))).toBe('BRANCH_NOT_FOUND');
  });

  it('start / stop / suspend / set / rotate-password / status work the same', async () => {
    await client.createBranch('pr-ops', { origin: { kind: 'parent', parent: 'main' } });
    expect((await client.stopBranch('pr-ops')).state).toBe('stopped');
    expect((await client.startBranch('pr-ops')).state).toBe('running');
    expect((await client.suspendBranch('pr-ops')).state).toBe('suspended');
    expect((await client.updateBranch('pr-ops', { idleTimeoutMs: 0 })).idleTimeoutMs).toBe(0);
    expect((await client.updateBranch('pr-ops', {})).idleTimeoutMs).toBe(0);
    const before = await client.connectionInfo('pr-ops');
    const rotated = await client.rotatePassword('pr-ops');
    expect(rotated.password).not.toBe(before.password);
    expect(rotated.url).not.toBe(before.url);
    expect(rotated.endpoint?.url).toContain(encodeURIComponent(rotated.password));
    expect(await sql(rotated.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);

    const status = await client.status();
    const local = await f.t.host.status();
    expect({ ...status, pool: null }).toEqual({ ...local, pool: null });
    expect(status.pool.totalBytes).toBe(local.pool.totalBytes);
  });

  it('manages tokens: create (secret once), list, revoke', async () => {
    const { token, info } = await client.createToken({ name: 'via-client', role: 'read', branchPatterns: ['pr-*'] });
    expect(token).toMatch(/^pgb_/);
    expect(info).toMatchObject({ name: 'via-client', role: 'read', branchPatterns: ['pr-*'], lastUsedAt: null });
    expect(await client.listTokens()).toEqual(await f.t.host.listTokens());
    await client.revokeToken(info.tokenId);
    expect(await codeOf(client.revokeToken(info.tokenId))).toBe('TOKEN_NOT_FOUND');
  });

  it('throws the same error codes as the host, with message and details', async () => {
    expect(await codeOf(client.getBranch('no-such'))).toBe('BRANCH_NOT_FOUND');
    expect(await codeOf(f.t.host.getBranch('no-such'))).toBe('BRANCH_NOT_FOUND');
    await expect(client.getBranch('no-such')).rejects.toMatchObject({ message: 'no branch named "no-such"', details: { name: 'no-such' } });
    expect(await codeOf(client.createBranch('Bad!', { origin: { kind: 'parent', parent: 'main' } }))).toBe('INVALID_BRANCH_NAME');
    expect(await codeOf(client.createBranch('orphan', { origin: { kind: 'parent', parent: 'nope' } }))).toBe('PARENT_NOT_FOUND');
    expect(await codeOf(client.createBranch('main', { origin: { kind: 'parent', parent: 'main' } }))).toBe('BRANCH_EXISTS');
    expect(await codeOf(client.resetBranch('main'))).toBe('ROOT_BRANCH_RESET');
    // More than one origin cannot be expressed through the client; the API's body schema refuses it.
    const both = await fetch(`${f.server.url}/v1/branches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${f.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', parent: 'main', source: { kind: 'empty' } }),
    });
    expect(((await both.json()) as { code: string }).code).toBe('INVALID_ARGUMENT');
  });

  it('maps authentication and authorisation failures', async () => {
    expect(await codeOf(createApiClient({ baseUrl: f.server.url, token: 'pgb_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }).listBranches())).toBe('UNAUTHENTICATED');
    expect(await codeOf(createApiClient({ baseUrl: f.server.url }).listBranches())).toBe('UNAUTHENTICATED');
    const scoped = createApiClient({ baseUrl: f.server.url, token: (await f.token('write', ['pr-*'])).token });
    expect(await codeOf(scoped.getBranch('main'))).toBe('PERMISSION_DENIED');
    expect((await scoped.listBranches({ withUsage: false })).every((b) => b.name.startsWith('pr-'))).toBe(true);
  });

  it('reports API_UNREACHABLE when nothing listens, and when a proxy in front answers 502', async () => {
    const closed = await startApiServer({ host: f.t.host, listen: { host: '127.0.0.1', port: 0 } });
    await closed.close();
    const gone = createApiClient({ baseUrl: closed.url, token: f.adminToken });
    const err = await gone.status().catch((e: unknown) => e as PgbranchError);
    expect(err).toBeInstanceOf(PgbranchError);
    expect(err).toMatchObject({ code: 'API_UNREACHABLE', message: expect.stringContaining(closed.url) });
    expect((err as PgbranchError).spec.exitCode).toBe(9);

    const proxy = createApiClient({ baseUrl: 'http://proxy.invalid', token: 'x', fetch: async () => new Response('<html>Bad Gateway</html>', { status: 502 }) });
    expect(await codeOf(proxy.status())).toBe('API_UNREACHABLE');
    const odd = createApiClient({ baseUrl: 'http://odd.invalid', token: 'x', fetch: async () => new Response('teapot', { status: 418 }) });
    expect(await codeOf(odd.status())).toBe('INTERNAL');
  });

  it('a listen address in use is PORT_IN_USE', async () => {
    const port = Number(new URL(f.server.url).port);
    expect(await codeOf(startApiServer({ host: f.t.host, listen: { host: '127.0.0.1', port } }))).toBe('PORT_IN_USE');
  });
});
