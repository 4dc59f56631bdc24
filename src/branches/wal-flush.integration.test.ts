import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`WAL flush tests skipped: ${skip}`);

const checkpointLsn = async (url: string): Promise<string> => (await sql<{ lsn: string }>(url, 'SELECT checkpoint_lsn::text AS lsn FROM pg_control_checkpoint()'))[0]!.lsn;

/**
 * A create copies only WAL that is on disk. A transaction committed asynchronously is visible
 * before its WAL is: the create must flush that tail first, and does it with a commit of its own
 * (one WAL fsync), not with a CHECKPOINT of the parent.
 */
describe.skipIf(skip !== undefined)('a parent with an unflushed WAL tail (btrfs)', () => {
  let t: TestHost;
  let mainUrl: string;

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    mainUrl = (await t.host.connectionInfo('main')).url;
    await sql(mainUrl, 'CREATE TABLE items (id int PRIMARY KEY)');
    // The WAL writer flushes an asynchronous commit on its next round (every wal_writer_delay,
    // 200 ms by default): 10 s keeps the tail unflushed while the create runs. Restarted so that
    // the WAL writer is awake (a hibernating one is woken by the first asynchronous commit).
    await sql(mainUrl, "ALTER SYSTEM SET wal_writer_delay = '10s'");
    await t.host.stopBranch('main');
    await t.host.startBranch('main');
    await sql(mainUrl, 'CHECKPOINT');
  });
  afterAll(async () => t?.cleanup());

  it('a row committed asynchronously just before the create is in the branch, and the parent was not checkpointed', async () => {
    const before = await checkpointLsn(mainUrl);
    const client = new pg.Client({ connectionString: mainUrl });
    await client.connect();
    let tailUnflushed: boolean;
    try {
      await client.query('SET synchronous_commit = off');
      await client.query('INSERT INTO items VALUES (1)');
      const { rows } = await client.query<{ unflushed: boolean }>('SELECT pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn() AS unflushed');
      tailUnflushed = rows[0]!.unflushed;
    } finally {
      await client.end();
    }
    // The case under test is real: the commit's WAL was not on disk when the create began.
    expect(tailUnflushed).toBe(true);
    await t.host.createBranch('after-async', { origin: { kind: 'parent', parent: 'main' } });
    const branchUrl = (await t.host.connectionInfo('after-async')).url;
    expect(await sql(branchUrl, 'SELECT id FROM items')).toEqual([{ id: 1 }]);
    // No CHECKPOINT ran on the parent (its last checkpoint is the one before the insert).
    expect(await checkpointLsn(mainUrl)).toBe(before);
    await t.host.deleteBranch('after-async');
  });
});
