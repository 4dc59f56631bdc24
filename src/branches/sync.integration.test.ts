import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourcePrimary, type SourcePrimary } from '../postgres/replication/test-support/source-primary.js';
import { sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { waitFor } from '../util/index.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`sync tests skipped: ${skip}`);

/** A URL of the root with the source's own credentials (a following root has no password of its own). */
function rootUrl(port: number, primary: SourcePrimary): string {
  return `postgresql://postgres:${encodeURIComponent(primary.cluster.password)}@127.0.0.1:${port}/postgres`;
}

describe.skipIf(skip !== undefined)('a root that follows its source (PostgreSQL 18)', () => {
  let t: TestHost;
  let primary: SourcePrimary;

  beforeAll(async () => {
    primary = await createSourcePrimary(18);
    t = await createTestHost('btrfs');
  });
  afterAll(async () => {
    await t?.cleanup();
    await primary?.destroy();
  });

  it('follows the source and branches of it are writable primaries with the source data', async () => {
    await primary.sql("INSERT INTO t (id, pad) VALUES (1, 'before follow')");
    const { branch: root } = await t.host.createBranch('prod', { origin: { kind: 'source', source: { kind: 'follow', url: primary.url(), slot: true } } });
    expect(root).toMatchObject({ name: 'prod', state: 'running', parent: null });
    await primary.sql("INSERT INTO t (id, pad) VALUES (2, 'after follow')");
    await waitFor(async () => ((await sql(rootUrl(root.port, primary), 'SELECT id FROM t WHERE id = 2')).length === 1 ? true : undefined), {
      timeoutMs: 20_000,
      what: 'row 2 on the following root',
    });
    const { branch } = await t.host.createBranch('pr-1', { origin: { kind: 'parent', parent: 'prod' } });
    const url = (await t.host.connectionInfo('pr-1')).url;
    expect(await sql(url, 'SELECT id FROM t WHERE id IN (1, 2) ORDER BY id')).toEqual([{ id: '1' }, { id: '2' }]);
    await sql(url, "INSERT INTO t (id, pad) VALUES (3, 'only in pr-1')");
    expect(await sql(url, 'SELECT pg_is_in_recovery() AS r')).toEqual([{ r: false }]);
    expect(branch.parent).toBe('prod');
  });
});
