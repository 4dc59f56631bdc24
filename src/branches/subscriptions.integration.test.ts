import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';
import { waitFor } from '../util/index.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`subscription tests skipped: ${skip}`);

type SlotRow = { active: boolean };

/**
 * A branch is a copy of a database that may subscribe to a publisher elsewhere. Started with apply
 * workers, the copy would connect to that publisher with the copied credentials and take the real
 * subscriber's changes from its slot. Here the publisher is another branch of the same host and
 * the subscriber is `main`.
 */
describe.skipIf(skip !== undefined)('copied subscriptions (btrfs)', () => {
  let t: TestHost;
  let pubUrl: string;
  const slotActive = async (): Promise<boolean> => (await sql<SlotRow>(pubUrl, "SELECT active FROM pg_replication_slots WHERE slot_name = 'copied'"))[0]!.active;

  const setHostSettings = async (settings: Record<string, string>): Promise<void> => {
    const configFile = join(t.home, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    writeFileSync(configFile, JSON.stringify({ ...config, postgres: { ...config.postgres, settings } }));
    await t.reopen();
  };

  beforeAll(async () => {
    t = await createTestHost('btrfs');
    // A publisher needs logical WAL; every instance of this host starts with it.
    await setHostSettings({ wal_level: 'logical' });
    await t.host.stopBranch('main');
    await t.host.startBranch('main');
    await t.host.createBranch('publisher', { origin: { kind: 'parent', parent: 'main' } });
    const pub = await t.host.connectionInfo('publisher');
    pubUrl = pub.url;
    await sql(pubUrl, 'CREATE TABLE items (id int PRIMARY KEY); CREATE PUBLICATION items_pub FOR TABLE items');
    // main subscribes (its own backend creates the slot on the publisher): what an import of a
    // subscribing production database brings along.
    const mainUrl = (await t.host.connectionInfo('main')).url;
    const conninfo = `host=127.0.0.1 port=${pub.port} user=${pub.user} password=${pub.password} dbname=${pub.database}`;
    await sql(mainUrl, 'CREATE TABLE items (id int PRIMARY KEY)');
    await sql(mainUrl, `CREATE SUBSCRIPTION copied CONNECTION '${conninfo.replaceAll("'", "''")}' PUBLICATION items_pub WITH (copy_data = false)`);
  });
  afterAll(async () => t?.cleanup());

  it('a branch of a subscriber runs no apply worker: the publisher\'s slot stays free', async () => {
    await t.host.createBranch('child', { origin: { kind: 'parent', parent: 'main' } });
    const childUrl = (await t.host.connectionInfo('child')).url;
    expect(await sql(childUrl, "SELECT subname FROM pg_subscription WHERE subenabled")).toEqual([{ subname: 'copied' }]);
    // With no workers allowed the launcher is never registered: nothing can connect out.
    expect((await sql<{ v: string }>(childUrl, 'SELECT current_setting(\'max_logical_replication_workers\') AS v'))[0]!.v).toBe('0');
    expect(await sql(childUrl, "SELECT pid FROM pg_stat_activity WHERE backend_type IN ('logical replication launcher', 'logical replication worker')")).toEqual([]);
    expect(await slotActive()).toBe(false);
  });

  it('the host can allow them again (postgres.settings), and then the copy does take the slot', async () => {
    // The counter-proof: what the default prevents happens as soon as workers are allowed.
    await setHostSettings({ wal_level: 'logical', max_logical_replication_workers: '4' });
    await t.host.stopBranch('child');
    await t.host.startBranch('child');
    await waitFor(async () => ((await slotActive()) ? true : undefined), { timeoutMs: 30_000, what: "the branch's apply worker on the publisher's slot" });
    await t.host.stopBranch('child');
  });
});
