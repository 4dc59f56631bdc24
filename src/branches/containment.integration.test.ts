import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolKind } from '../test-support/test-host.js';
import { waitFor } from '../util/index.js';
import { sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';

const MIB = 1024 * 1024;
/** One batch of new rows: about 8 MiB of heap, plus its WAL. */
const BATCH = "INSERT INTO filler SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 8000) g";

/** Inserts batches until the server refuses one; returns the error and how many batches went in. */
async function writeUntilRefused(url: string, maxBatches: number): Promise<{ error: (Error & { code?: string }) | undefined; batches: number }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('CREATE TABLE IF NOT EXISTS filler (id int, pad text)');
    for (let i = 0; i < maxBatches; i++) {
      try {
        await client.query(BATCH);
      } catch (err) {
        return { error: err as Error & { code?: string }, batches: i };
      }
    }
    return { error: undefined, batches: maxBatches };
  } finally {
    await client.end().catch(() => undefined);
  }
}

for (const kind of ['btrfs', 'xfs', 'ext4'] as const satisfies readonly PoolKind[]) {
  const skip = await testPoolSkipReason(kind);
  describe.skipIf(skip !== undefined)(`disk-full containment on ${kind}`, () => {
    let t: TestHost;
    beforeAll(async () => {
      t = await createTestHost(kind);
    });
    afterAll(async () => t?.cleanup());

    it('caps one branch: it gets disk full, root and sibling keep writing, space comes back on delete', async () => {
      const limits = (await t.host.status()).branchLimits;
      // btrfs can always cap (as root). XFS can where the kernel has XFS quota support (this CI
      // kernel has not: CONFIG_XFS_QUOTA is off, so the pool mounts without prjquota). The copy
      // driver shares nothing, so it has no own bytes to cap.
      const expected = { btrfs: ['exclusive'], xfs: ['growth', 'none'], ext4: ['none'] }[kind];
      expect(expected).toContain(limits.kind);
      if (limits.kind === 'none') {
        console.log(`${kind}: no size caps here: ${limits.reason}`);
        expect(limits.reason).toMatch(kind === 'xfs' ? /prjquota/ : /copy driver/);
        // An explicit cap the pool cannot enforce is refused rather than silently ignored.
        const r = await t.cli('branch', 'create', 'capped', '--from', 'main', '--max-own-bytes', '96M');
        expect(r.code).toBe(14);
        expect(r.stderr).toContain('[LIMIT_UNSUPPORTED]');
        expect((await t.host.listBranches({ withUsage: false })).map((b) => b.name)).toEqual(['main']);
        return;
      }
      const main = (await t.host.connectionInfo('main')).url;
      await sql(main, 'CREATE TABLE seed AS SELECT g AS id, repeat(md5(g::text), 30) AS pad FROM generate_series(1, 20000) g');
      await sql(main, 'CHECKPOINT');

      const cap = 96 * MIB;
      const made = await t.cli('branch', 'create', 'runaway', '--from', 'main', '--max-own-bytes', '96M', '-o', 'json');
      expect(made.code, made.stderr).toBe(0);
      expect(JSON.parse(made.stdout)).toMatchObject({ name: 'runaway', max_own_bytes: cap });
      await t.host.createBranch('sibling', { origin: { kind: 'parent', parent: 'main' } });
      const runaway = (await t.host.connectionInfo('runaway')).url;
      const sibling = (await t.host.connectionInfo('sibling')).url;

      // Far more than the cap: 60 batches are about 480 MiB of table data.
      const result = await writeUntilRefused(runaway, 60);
      expect(result.error, 'the capped branch accepted 480 MiB').toBeDefined();
      if (kind === 'xfs') {
        // A project quota answers ENOSPC, which PostgreSQL reports as disk full.
        expect(result.error).toMatchObject({ code: '53100', message: expect.stringContaining('No space left on device') });
      } else {
        // A qgroup answers EDQUOT; PostgreSQL maps only ENOSPC to 53100, so this is its
        // "could not extend file …: Disk quota exceeded" with SQLSTATE XX000 — or, when the
        // backend itself writes back a dirty page first (a busy machine, a full ring buffer),
        // "could not write blocks …: Disk quota exceeded": on btrfs an overwrite needs new space
        // too. Either is the branch's own write refused at its cap.
        expect(result.error).toMatchObject({
          code: 'XX000',
          message: expect.stringMatching(/^could not (extend file|write blocks \d+\.\.\d+ in file) .*: Disk quota exceeded$/),
        });
      }
      // Refused at about the cap: not before half of it, and no further than the cap allows.
      expect(result.batches * 8 * MIB).toBeGreaterThan(cap / 4);
      expect(result.batches * 8 * MIB).toBeLessThanOrEqual(cap);
      const own = (await t.host.getBranch('runaway')).ownBytes!;
      // Own bytes include the WAL, which is exempt from the cap (bounded by max_wal_size, 256 MB).
      expect(own).toBeGreaterThan(cap / 2);
      expect(own).toBeLessThanOrEqual(cap + 256 * MIB);
      // Raising the cap lets the branch work again at once. (Until then a btrfs branch at its cap
      // cannot write at all — every btrfs write needs new space, even writing back pages changed
      // before the refusal — so even new sessions may fail; an XFS branch can still rewrite.)
      const raised = await t.cli('branch', 'set', 'runaway', '--max-own-bytes', '192M', '-o', 'json');
      expect(raised.code, raised.stderr).toBe(0);
      expect(JSON.parse(raised.stdout).max_own_bytes).toBe(192 * MIB);
      expect(await sql(runaway, 'SELECT count(*)::int AS n FROM seed')).toEqual([{ n: 20000 }]);
      expect((await writeUntilRefused(runaway, 2)).error).toBeUndefined();

      // Root and sibling keep accepting writes (64 MiB each, more than the runaway could add).
      for (const url of [main, sibling]) expect((await writeUntilRefused(url, 8)).error).toBeUndefined();

      // Settle the other branches' writes first (checkpoint, then commit), so that what the pool
      // gains below is the runaway's space and not offset by their write-back.
      for (const url of [main, sibling]) await sql(url, 'CHECKPOINT');
      execFileSync('sync', ['-f', t.pool.mountPoint]);
      const freeBefore = (await t.host.status()).pool.freeBytes;
      const del = await t.cli('branch', 'delete', 'runaway');
      expect(del.code, del.stderr).toBe(0);
      // btrfs frees a deleted subvolume's extents in the background: wait for its cleaner, then
      // commit, so the free space is what the filesystem will report from now on.
      if (kind === 'btrfs') execFileSync('btrfs', ['subvolume', 'sync', t.pool.mountPoint]);
      execFileSync('sync', ['-f', t.pool.mountPoint]);
      const freed = await waitFor(
        async () => {
          const free = (await t.host.status()).pool.freeBytes;
          return free - freeBefore >= own / 2 ? free - freeBefore : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `the runaway branch's ${own} bytes to come back (free before: ${freeBefore})` },
      );
      console.log(`${kind}: refused after ${result.batches} batches, own ${own} bytes at refusal, ${freed} bytes came back on delete`);
    });
  });
}
