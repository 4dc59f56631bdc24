import Database from 'better-sqlite3';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageCapabilities } from '../storage/index.js';
import { CRASH_POINTS } from './index.js';
import { readStoredState, sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type PoolKind, type TestHost } from '../test-support/test-host.js';

/**
 * Snapshots on an atomic-snapshot pool (btrfs) and a per-file one (XFS reflink, backup_label
 * path): consistency under writes, isolation, reset to the snapshot, independence from the
 * source branch, errors, and crash safety of snapshot create/delete.
 */

const KINDS: readonly PoolKind[] = ['btrfs', 'xfs'];

async function ids(url: string, table = 'items'): Promise<number[]> {
  return (await sql<{ id: number }>(url, `SELECT id FROM ${table} ORDER BY id`)).map((r) => r.id);
}

/** Pool entries must be exactly the volumes of branches and snapshots in metadata. */
function assertNoOrphans(t: TestHost): { snapshots: string[] } {
  const db = new Database(join(t.home, 'state.db'), { readonly: true });
  try {
    const branchVolumes = (db.prepare('SELECT volume FROM branches').all() as { volume: string }[]).map((r) => r.volume);
    const snapshots = db.prepare('SELECT name, volume FROM snapshots').all() as { name: string; volume: string }[];
    const operations = db.prepare('SELECT * FROM operations').all();
    expect(operations, 'interrupted operations left in the intent log').toEqual([]);
    const { branchPointVolumes } = readStoredState(t.home);
    expect(readdirSync(t.pool.poolPath).sort()).toEqual([...branchVolumes, ...branchPointVolumes, ...snapshots.map((s) => s.volume)].sort());
    return { snapshots: snapshots.map((s) => s.name) };
  } finally {
    db.close();
  }
}

for (const kind of KINDS) {
  const skip = await testPoolSkipReason(kind);
  if (skip) console.warn(`snapshot tests on ${kind} skipped: ${skip}`);

  describe.skipIf(skip !== undefined)(`snapshots (${kind})`, () => {
    let t: TestHost;
    let caps: StorageCapabilities;
    const url = async (name: string): Promise<string> => (await t.host.connectionInfo(name)).url;

    beforeAll(async () => {
      t = await createTestHost(kind);
      caps = (await t.host.status()).capabilities;
      await t.host.createBranch('src', { origin: { kind: 'parent', parent: 'main' } });
      await sql(await url('src'), 'CREATE TABLE items (id int PRIMARY KEY, label text)');
    });
    afterAll(async () => t?.cleanup());

    it('snapshots a running branch while it is being written to, consistently', async () => {
      const client = new pg.Client({ connectionString: await url('src') });
      await client.connect();
      let next = 1;
      let stop = false;
      // One committed row per statement, continuously, while the snapshot is taken.
      const writer = (async () => {
        while (!stop) {
          await client.query('INSERT INTO items VALUES ($1, $2)', [next, 'before']);
          next++;
        }
      })();
      try {
        while (next < 50) await new Promise((r) => setImmediate(r));
        const snap = await t.host.createSnapshot('src', 'snap-1');
        expect(snap).toMatchObject({ name: 'snap-1', branch: 'src', branchDeleted: false });
        expect(snap.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      } finally {
        stop = true;
        await writer;
        await client.end();
      }
      const committed = next - 1;
      const made = await t.host.createBranch('from-snap', { origin: { kind: 'snapshot', snapshot: 'snap-1' } });
      expect(made.created).toBe(true);
      expect(made.branch).toMatchObject({ parent: null, source: { kind: 'snapshot', snapshot: 'snap-1', branch: 'src' } });
      const seen = await ids(await url('from-snap'));
      // A prefix of what was committed, with no gap: exactly the committed data at one point.
      expect(seen.length).toBeGreaterThanOrEqual(49);
      expect(seen.length).toBeLessThanOrEqual(committed);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    });

    it('a branch from the snapshot does not see later writes to the source; two such branches are isolated', async () => {
      const before = await ids(await url('from-snap'));
      await sql(await url('src'), "INSERT INTO items VALUES (100000, 'after')");
      const second = await t.host.createBranch('from-snap-2', { origin: { kind: 'snapshot', snapshot: 'snap-1' } });
      expect(second.created).toBe(true);
      expect(await ids(await url('from-snap-2'))).toEqual(before);
      await sql(await url('from-snap'), "INSERT INTO items VALUES (200000, 'only in from-snap')");
      expect(await ids(await url('from-snap-2'))).toEqual(before);
      expect(await ids(await url('from-snap'))).toEqual([...before, 200000]);
      expect(await ids(await url('src'))).not.toContain(200000);
    });

    it('--if-not-exists returns the branch made from the same snapshot', async () => {
      const again = await t.host.createBranch('from-snap', { origin: { kind: 'snapshot', snapshot: 'snap-1' }, ifNotExists: true });
      expect(again.created).toBe(false);
      await expect(t.host.createBranch('from-snap', { origin: { kind: 'parent', parent: 'main' }, ifNotExists: true })).rejects.toMatchObject({ code: 'BRANCH_EXISTS' });
    });

    it('reset of a branch made from a snapshot returns it to the snapshot (same URL)', async () => {
      const before = await ids(await url('from-snap-2'));
      const oldUrl = await url('from-snap');
      const reset = await t.host.resetBranch('from-snap');
      expect(reset.resetAt).not.toBeNull();
      expect(await url('from-snap')).toBe(oldUrl);
      expect(await ids(oldUrl)).toEqual(before);
    });

    it('a stopped source works too; deleting the source keeps the snapshot usable', async () => {
      await t.host.createBranch('doomed', { origin: { kind: 'parent', parent: 'src' } });
      await t.host.stopBranch('doomed');
      const snap = await t.host.createSnapshot('doomed', 'snap-doomed');
      expect(snap.lsn).toBeNull();
      await t.host.deleteBranch('doomed');
      expect(await t.host.getSnapshot('snap-doomed')).toMatchObject({ branch: 'doomed', branchDeleted: true });
      await t.host.createBranch('orphan-child', { origin: { kind: 'snapshot', snapshot: 'snap-doomed' } });
      expect(await ids(await url('orphan-child'))).toContain(100000);
      // gc must not take snapshot volumes for orphans.
      const gc = await t.host.gc({ dryRun: true });
      expect(gc.actions.filter((a) => a.kind === 'orphan-volume' || a.kind === 'orphan-instance')).toEqual([]);
      assertNoOrphans(t);
    });

    it('lists, deletes, and reports errors with stable codes', async () => {
      expect((await t.host.listSnapshots()).map((s) => s.name).sort()).toEqual(['snap-1', 'snap-doomed']);
      await expect(t.host.createSnapshot('src', 'snap-1')).rejects.toMatchObject({ code: 'SNAPSHOT_EXISTS' });
      await expect(t.host.createSnapshot('src', 'Bad Name!')).rejects.toMatchObject({ code: 'INVALID_BRANCH_NAME' });
      await expect(t.host.createSnapshot('nope', 'snap-x')).rejects.toMatchObject({ code: 'BRANCH_NOT_FOUND' });
      await expect(t.host.getSnapshot('nope')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
      await expect(t.host.createBranch('x', { origin: { kind: 'snapshot', snapshot: 'nope' } })).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
      // Exactly one origin is decided where the request is parsed (here the CLI's flags).
      const both = await t.cli('branch', 'create', 'x', '--from-snapshot', 'snap-1', '--from', 'main');
      expect(both.code).toBe(2);
      expect(both.stderr).toContain('[INVALID_ARGUMENT]');
      const cliMissing = await t.cli('snapshot', 'get', 'nope');
      expect(cliMissing.code).toBe(3);
      expect(cliMissing.stderr).toContain('[SNAPSHOT_NOT_FOUND]');
      const cliDup = await t.cli('snapshot', 'create', 'src', 'snap-1');
      expect(cliDup.code).toBe(4);
      await t.host.deleteSnapshot('snap-doomed');
      await expect(t.host.deleteSnapshot('snap-doomed')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
      // Its branch keeps working; only its reset has nothing to return to.
      expect(await ids(await url('orphan-child'))).toContain(100000);
      await expect(t.host.resetBranch('orphan-child')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
      const audit = await t.host.listAudit({ limit: 50 });
      expect(audit.map((e) => e.operation)).toEqual(expect.arrayContaining(['snapshot-create', 'snapshot-delete']));
      assertNoOrphans(t);
    });

    it('CLI: snapshot create/list/get/delete and branch create --from-snapshot', async () => {
      const made = await t.cli('snapshot', 'create', 'src', 'cli-snap', '-o', 'json');
      expect(made.code, made.stderr).toBe(0);
      expect(JSON.parse(made.stdout)).toMatchObject({ name: 'cli-snap', branch: 'src' });
      const list = await t.cli('snapshot', 'list', '-o', 'json');
      expect((JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name)).toContain('cli-snap');
      expect((await t.cli('snapshot', 'list')).stdout).toContain('cli-snap');
      const branch = await t.cli('branch', 'create', 'cli-child', '--from-snapshot', 'cli-snap', '-o', 'json');
      expect(branch.code, branch.stderr).toBe(0);
      expect(JSON.parse(branch.stdout)).toMatchObject({ name: 'cli-child', created: true });
      const again = await t.cli('branch', 'create', 'cli-child', '--from-snapshot', 'cli-snap', '--if-not-exists', '-o', 'json');
      expect(JSON.parse(again.stdout)).toMatchObject({ name: 'cli-child', created: false });
      const del = await t.cli('snapshot', 'delete', 'cli-snap');
      expect(del.code, del.stderr).toBe(0);
    });

    describe('crash safety', () => {
      const reachedOn = (point: string): boolean => point !== 'clone:after-backup-stop' || !caps.atomicSnapshot;

      it.each(CRASH_POINTS.snapshotCreate.map((point) => ({ point })))('snapshot create killed at $point: complete or absent, no orphan', async ({ point }) => {
        const name = `crash-${point.replace(/[^a-z]+/g, '-')}`.replace(/-+$/, '');
        const r = await t.cliProcess(['snapshot', 'create', 'src', name], { PGBRANCH_FAILPOINT: point });
        expect(r.signal, r.stderr).toBe(reachedOn(point) ? 'SIGKILL' : null);
        // The next command reconciles.
        const next = await t.cliProcess(['snapshot', 'list', '-o', 'json']);
        expect(next.code, next.stderr).toBe(0);
        const { snapshots } = assertNoOrphans(t);
        const committed = point === 'snapshot-create:committed' || !reachedOn(point);
        expect(snapshots.includes(name)).toBe(committed);
        if (committed) {
          await t.host.createBranch(`${name}-b`, { origin: { kind: 'snapshot', snapshot: name } });
          expect((await ids(await url(`${name}-b`))).length).toBeGreaterThan(0);
        }
      });

      it.each(CRASH_POINTS.snapshotDelete.map((point) => ({ point })))('snapshot delete killed at $point rolls forward', async ({ point }) => {
        const name = `del-${point.replace(/[^a-z]+/g, '-')}`.replace(/-+$/, '');
        await t.host.createSnapshot('src', name);
        const r = await t.cliProcess(['snapshot', 'delete', name], { PGBRANCH_FAILPOINT: point });
        expect(r.signal, r.stderr).toBe('SIGKILL');
        const next = await t.cliProcess(['snapshot', 'list', '-o', 'json']);
        expect(next.code, next.stderr).toBe(0);
        expect((JSON.parse(next.stdout) as { name: string }[]).map((s) => s.name)).not.toContain(name);
        assertNoOrphans(t);
      });
    });
  });
}
