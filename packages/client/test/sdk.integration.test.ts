import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { startApiFixture, type ApiFixture } from '../../../src/api/test-support/api-fixture.js';
import { testPoolSkipReason } from '../../../src/test-support/test-host.js';
import { sql } from '../../../src/test-support/host-invariants.js';
import { PgbranchApiError, createClient, type Branch, type CreatedBranch, type PgbranchClient } from '../src/index.js';

const skip = await testPoolSkipReason('btrfs');

/** The typed SDK against a real host and its real API server (no mock of either). */
describe.skipIf(skip !== undefined)('@pgbranch/client SDK', () => {
  let f: ApiFixture;
  let client: PgbranchClient;

  beforeAll(async () => {
    f = await startApiFixture();
    client = createClient({ baseUrl: f.server.url, token: f.adminToken });
  });
  afterAll(async () => f?.cleanup());

  it('lists, creates and deletes branches, typed from the OpenAPI document', async () => {
    const before = await client.branches.list({ with_usage: false });
    expectTypeOf(before).toEqualTypeOf<Branch[]>();
    expect(before.map((b) => b.name)).toEqual(['main']);

    const created = await client.branches.create({ name: 'sdk-1', parent: 'main', ttl_ms: 3_600_000 });
    expectTypeOf(created).toEqualTypeOf<CreatedBranch>();
    expect(created).toMatchObject({ name: 'sdk-1', parent: 'main', created: true });
    expect(created.expires_at).not.toBeNull();

    const connection = await client.branches.connection('sdk-1');
    // The fixture runs the API without the endpoint: connect directly.
    expect(await sql(connection.url_unpooled, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);

    // The generic, path-typed call reaches any operation.
    const got = await client.request('get', '/v1/branches/{name}', { path: { name: 'sdk-1' } });
    expect(got.name).toBe('sdk-1');

    expect((await client.branches.list({ with_usage: false })).map((b) => b.name).sort()).toEqual(['main', 'sdk-1']);
    await client.branches.delete('sdk-1');
    expect((await client.branches.list({ with_usage: false })).map((b) => b.name)).toEqual(['main']);
  });

  it('turns problem+json into PgbranchApiError with the stable code', async () => {
    const err = await client.branches.get('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgbranchApiError);
    expect(err).toMatchObject({ status: 404, code: 'BRANCH_NOT_FOUND' });
    const anonymous = createClient({ baseUrl: f.server.url });
    await expect(anonymous.branches.list()).rejects.toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('fetches the OpenAPI document without a token', async () => {
    const anonymous = createClient({ baseUrl: f.server.url });
    const doc = (await anonymous.request('get', '/v1/openapi.json')) as unknown as { servers?: unknown[]; paths: Record<string, unknown> };
    expect(doc.servers).toHaveLength(1);
    expect(Object.keys(doc.paths)).toContain('/metrics');
  });
});
