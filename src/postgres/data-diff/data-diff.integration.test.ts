import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../../errors.js';
import {
  diffData,
  diffTableData,
  fullDiffTableData,
  withClient,
  type ChangedBlocks,
  type ComparedTable,
  type ConnectionTarget,
  type DataDiff,
  type TableDataDiff,
} from '../index.js';
import { blockRanges } from './blocks.js';
import { blockReadSql, keyLookupSql } from './table-diff.js';
import { createPair, pageDiffBlocks, type Head, type Pair } from './test-support/pair-fixture.js';

/**
 * Real PostgreSQL 18 on both sides: a base cluster, and a head made from it by a plain copy of
 * its data directory. The block-level diff (fed with the blocks that really differ, found by
 * comparing the files page by page) must give exactly what the full comparison gives.
 */

const BASE_SQL = `
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL, note text, updated_at timestamptz NOT NULL);
INSERT INTO accounts SELECT g, 'owner-' || g, (g * 1.25)::numeric(12,2), CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ' || g END,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute' FROM generate_series(1, 20000) g;

-- Random hex does not compress: 8000 characters go out of line into the TOAST table.
CREATE TABLE docs (id bigint PRIMARY KEY, title text, body text);
INSERT INTO docs SELECT g, 'doc ' || g, (SELECT string_agg(md5(g || '-' || i), '') FROM generate_series(1, 250) i) FROM generate_series(1, 40) g;

-- No key; every row appears four or five times.
CREATE TABLE events (kind text, payload jsonb, n int);
INSERT INTO events SELECT 'k' || (g % 50), jsonb_build_object('g', g % 700), g % 7 FROM generate_series(1, 3000) g;
INSERT INTO events VALUES (NULL, NULL, NULL), (NULL, NULL, NULL);

CREATE TABLE wipe (id int PRIMARY KEY, v text);
INSERT INTO wipe SELECT g, 'v' || g FROM generate_series(1, 1000) g;

CREATE TABLE legacy (id int PRIMARY KEY);
INSERT INTO legacy VALUES (1), (2);

CREATE TABLE widened (id int PRIMARY KEY, a int, b text);
INSERT INTO widened SELECT g, g, 'b' || g FROM generate_series(1, 2000) g;

CREATE TABLE typed (id int PRIMARY KEY, big bigint, num numeric, f float8, flag boolean, raw bytea, doc jsonb, at timestamptz, tags int[], d date);
INSERT INTO typed SELECT g, 9007199254740993 + g, 1.10 * g, g / 4.0, g % 2 = 0, decode(md5(g::text), 'hex'), jsonb_build_object('n', g),
       '2024-05-01 12:00:00+02', ARRAY[g, g + 1], date '2024-01-01' + g FROM generate_series(1, 500) g;

CREATE TABLE "Mixed Case" ("Region" text, "n" int, val text, PRIMARY KEY ("Region", "n"));
INSERT INTO "Mixed Case" SELECT 'r' || (g % 10), g, 'x' || g FROM generate_series(1, 3000) g;

CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, v int);
INSERT INTO scratch SELECT g, g FROM generate_series(1, 100) g;

CREATE TABLE quiet (id int PRIMARY KEY, v text);
INSERT INTO quiet SELECT g, 'q' || g FROM generate_series(1, 1000) g;

CREATE SCHEMA other;
CREATE TABLE other.accounts (id int PRIMARY KEY, v int);
INSERT INTO other.accounts SELECT g, g FROM generate_series(1, 100) g;

-- For the randomised runs.
CREATE TABLE rp_keyed (id int PRIMARY KEY, v int, s text, big text);
INSERT INTO rp_keyed SELECT g, g % 97, CASE WHEN g % 5 = 0 THEN NULL ELSE 's' || g END, NULL FROM generate_series(1, 30000) g;
CREATE TABLE rp_bag (a int, b text);
INSERT INTO rp_bag SELECT g % 40, 'b' || (g % 40) FROM generate_series(1, 4000) g;
`;

const HEAD_SQL = `
INSERT INTO accounts SELECT g, 'new-' || g, 1.00, NULL, '2025-01-01' FROM generate_series(20001, 20005) g;
UPDATE accounts SET balance = balance + 10 WHERE id IN (7, 10, 500, 5000, 10000, 15000, 19999);
UPDATE accounts SET id = id + 1000000 WHERE id IN (42, 4242);
DELETE FROM accounts WHERE id IN (1, 2, 3000, 20000);
UPDATE accounts SET note = NULL WHERE id IN (100, 101);
UPDATE accounts SET note = 'now set' WHERE id = 99;
UPDATE accounts SET balance = balance WHERE id = 300;

UPDATE docs SET body = body || 'tail' WHERE id = 5;
UPDATE docs SET title = 'retitled' WHERE id = 6;
DELETE FROM docs WHERE id = 7;
INSERT INTO docs VALUES (41, 'doc 41', repeat('z', 5000));

DELETE FROM events WHERE ctid = (SELECT ctid FROM events WHERE kind = 'k1' AND n = 1 AND payload = '{"g": 1}' LIMIT 1);
INSERT INTO events VALUES ('k2', '{"g": 2}', 2), ('brand', '{"new": true}', 0), (NULL, NULL, NULL);
UPDATE events SET n = 99 WHERE ctid = (SELECT ctid FROM events WHERE kind = 'k3' AND n = 3 AND payload = '{"g": 3}' LIMIT 1);

TRUNCATE wipe;
INSERT INTO wipe SELECT g, CASE WHEN g <= 400 THEN 'v' || g ELSE 'changed' END FROM generate_series(1, 500) g;

DROP TABLE legacy;
CREATE TABLE fresh (id int);

ALTER TABLE widened ADD COLUMN c int DEFAULT 7;
ALTER TABLE widened DROP COLUMN b;
UPDATE widened SET a = -a WHERE id IN (5, 6, 7);

UPDATE typed SET raw = '\\xdeadbeef', big = big + 1, f = 'NaN' WHERE id = 3;

UPDATE "Mixed Case" SET val = 'y' WHERE "Region" = 'r1' AND "n" = 11;
DELETE FROM "Mixed Case" WHERE "n" = 20;
INSERT INTO "Mixed Case" VALUES ('r0', 99999, 'new');

UPDATE scratch SET v = 0 WHERE id = 1;
UPDATE other.accounts SET v = -1 WHERE id = 1;
`;

async function exec(target: ConnectionTarget, sql: string): Promise<void> {
  await withClient(target, async (client) => {
    await client.query(sql);
  });
}

/** What both methods must agree on: everything but how it was computed. */
function outcome(table: TableDataDiff): unknown {
  if (table.status !== 'compared') return table;
  const { method: _method, fullReason: _reason, scanned: _scanned, ...rest } = table;
  return rest;
}

function compared(diff: DataDiff, name: string, schema = 'public'): ComparedTable {
  const table = diff.tables.find((t) => t.schema === schema && t.name === name);
  if (table?.status !== 'compared') throw new Error(`${schema}.${name} was not compared: ${JSON.stringify(table)}`);
  return table;
}

describe('data diff on real PostgreSQL 18', () => {
  let pair: Pair;
  let head: Head;
  let blocks: Map<string, ChangedBlocks>;
  let byBlocks: DataDiff;
  let byFull: DataDiff;
  const changedBlocksFor = (map: Map<string, ChangedBlocks>) => (r: { schema: string; name: string }) => map.get(`${r.schema}.${r.name}`);

  beforeAll(async () => {
    pair = await createPair(async (target) => {
      await exec(target, BASE_SQL);
      // Frozen and all-visible from the start, as a long-lived table would be: otherwise the
      // head's first reads (hint bits) and VACUUMs (visibility map) touch every page.
      await exec(target, 'VACUUM (FREEZE) rp_keyed');
      await exec(target, 'VACUUM (FREEZE) rp_bag');
    });
    head = await pair.branch();
    await exec(head.target, HEAD_SQL);
    blocks = await pageDiffBlocks(pair.base.dataDir, pair.baseFiles(), head);
    await pair.startBase();
    byBlocks = await diffData({ base: pair.baseTarget, head: head.target, rows: true, limit: 10_000, changedBlocksFor: changedBlocksFor(blocks) });
    byFull = await diffData({ base: pair.baseTarget, head: head.target, rows: true, limit: 10_000 });
  });
  afterAll(async () => {
    await pair?.destroy();
  });

  it('the block-level diff equals the full diff, table by table, row by row', () => {
    expect(byBlocks.tables.map(outcome)).toEqual(byFull.tables.map(outcome));
    expect(byBlocks.totals).toEqual(byFull.totals);
    // The full diff really read everything and the block diff really did not.
    for (const table of byFull.tables) if (table.status === 'compared') expect(table.method).toBe('full');
    expect(compared(byBlocks, 'accounts').method).toBe('blocks');
  });

  it('reads only the changed blocks', async () => {
    const accounts = compared(byBlocks, 'accounts');
    const totalBlocks = await withClient(head.target, async (c) => Number((await c.query("SELECT pg_relation_size('accounts') / 8192 AS n")).rows[0].n));
    expect(totalBlocks).toBeGreaterThan(150);
    expect(accounts.scanned.blocks).toBe(blocks.get('public.accounts')!.head.length);
    expect(accounts.scanned.blocks).toBeLessThan(totalBlocks / 4);
    expect(compared(byBlocks, 'quiet')).toMatchObject({ method: 'blocks', scanned: { blocks: 0, baseRows: 0, headRows: 0 } });
    expect(compared(byFull, 'quiet').scanned.headRows).toBe(1000);
  });

  it('counts inserts, updates and deletes per table; a key update is a delete plus an insert', () => {
    const counts = Object.fromEntries(byBlocks.tables.filter((t) => t.status === 'compared').map((t) => [`${t.schema}.${t.name}`, (t as ComparedTable).counts]));
    expect(counts).toEqual({
      'other.accounts': { inserted: 0, updated: 1, deleted: 0 },
      'public.Mixed Case': { inserted: 1, updated: 1, deleted: 1 },
      'public.accounts': { inserted: 7, updated: 10, deleted: 6 },
      'public.docs': { inserted: 1, updated: 2, deleted: 1 },
      'public.events': { inserted: 4, updated: 0, deleted: 2 },
      'public.quiet': { inserted: 0, updated: 0, deleted: 0 },
      'public.rp_bag': { inserted: 0, updated: 0, deleted: 0 },
      'public.rp_keyed': { inserted: 0, updated: 0, deleted: 0 },
      'public.scratch': { inserted: 0, updated: 1, deleted: 0 },
      'public.typed': { inserted: 0, updated: 1, deleted: 0 },
      'public.widened': { inserted: 0, updated: 3, deleted: 0 },
      'public.wipe': { inserted: 0, updated: 100, deleted: 500 },
    });
    expect(byBlocks.totals).toEqual({ inserted: 13, updated: 119, deleted: 510 });
    const accounts = compared(byBlocks, 'accounts').rows!;
    expect(accounts.find((r) => r.key?.id === 42)).toMatchObject({ change: 'deleted', old: { id: 42, owner: 'owner-42' } });
    expect(accounts.find((r) => r.key?.id === 1000042)).toMatchObject({ change: 'inserted', new: { id: 1000042, owner: 'owner-42' } });
    expect(accounts.find((r) => r.key?.id === 100)).toMatchObject({ change: 'updated', old: { note: 'note 100' }, new: { note: null } });
    expect(accounts.find((r) => r.key?.id === 99)).toMatchObject({ change: 'updated', old: { note: null }, new: { note: 'now set' } });
    expect(accounts.find((r) => r.key?.id === 300), 'an update that changes no value is no change').toBeUndefined();
    // Rows come ordered by key.
    expect(accounts.map((r) => r.key!.id)).toEqual([...accounts.map((r) => r.key!.id as number)].sort((a, b) => a - b));
  });

  it('reports added and dropped tables without diffing them, and common columns only', () => {
    expect(byBlocks.tables.filter((t) => t.status !== 'compared')).toEqual([
      { schema: 'public', name: 'fresh', status: 'added' },
      { schema: 'public', name: 'legacy', status: 'dropped' },
    ]);
    expect(compared(byBlocks, 'widened')).toMatchObject({ method: 'blocks', columns: ['id', 'a'], columnsAdded: ['c'], columnsDropped: ['b'] });
    expect(compared(byBlocks, 'widened').rows).toContainEqual({ change: 'updated', key: { id: 5 }, old: { id: 5, a: 5 }, new: { id: 5, a: -5 } });
  });

  it('compares rewritten and unlogged tables whole', () => {
    expect(compared(byBlocks, 'wipe')).toMatchObject({ method: 'full', fullReason: 'relation-rewritten' });
    expect(compared(byBlocks, 'scratch')).toMatchObject({ method: 'full', fullReason: 'unlogged' });
    expect(blocks.has('public.wipe')).toBe(false);
  });

  it('compares TOASTed values by value', async () => {
    const toasted = await withClient(head.target, async (c) => {
      const { rows } = await c.query("SELECT reltoastrelid::regclass::text AS t FROM pg_class WHERE oid = 'docs'::regclass");
      return Number((await c.query(`SELECT count(*) AS n FROM ${rows[0].t}`)).rows[0].n);
    });
    expect(toasted, 'the bodies really live in the TOAST table').toBeGreaterThan(40);
    const docs = compared(byBlocks, 'docs');
    const body5 = docs.rows!.find((r) => r.key?.id === '5');
    expect(body5?.change).toBe('updated');
    if (body5?.change !== 'updated') throw new Error('unreachable');
    expect(String(body5.new.body)).toBe(`${String(body5.old.body)}tail`);
    expect(String(body5.old.body)).toHaveLength(8000);
    expect(docs.rows!.find((r) => r.key?.id === '6')).toMatchObject({ old: { title: 'doc 6' }, new: { title: 'retitled' } });
  });

  it('compares tables without a key as multisets, duplicates and NULLs included', () => {
    const events = compared(byBlocks, 'events');
    expect(events.keyColumns).toBeNull();
    expect(events.rows).toEqual([
      { change: 'inserted', new: { kind: 'brand', payload: '{"new": true}', n: 0 } },
      { change: 'deleted', old: { kind: 'k1', payload: '{"g": 1}', n: 1 } },
      { change: 'inserted', new: { kind: 'k2', payload: '{"g": 2}', n: 2 } },
      { change: 'deleted', old: { kind: 'k3', payload: '{"g": 3}', n: 3 } },
      { change: 'inserted', new: { kind: 'k3', payload: '{"g": 3}', n: 99 } },
      { change: 'inserted', new: { kind: null, payload: null, n: null } },
    ]);
  });

  it('gives JSON-safe values: bigint and numeric as strings, bytea as hex, NaN as text', () => {
    const row = compared(byBlocks, 'typed').rows![0]!;
    expect(row).toEqual({
      change: 'updated',
      key: { id: 3 },
      old: {
        id: 3,
        big: '9007199254740996',
        num: '3.30',
        f: 0.75,
        flag: false,
        raw: '\\xeccbc87e4b5ce2fe28308fd9f2a7baf3',
        doc: '{"n": 3}',
        at: '2024-05-01 10:00:00+00',
        tags: '{3,4}',
        d: '2024-01-04',
      },
      new: {
        id: 3,
        big: '9007199254740997',
        num: '3.30',
        f: 'NaN',
        flag: false,
        raw: '\\xdeadbeef',
        doc: '{"n": 3}',
        at: '2024-05-01 10:00:00+00',
        tags: '{3,4}',
        d: '2024-01-04',
      },
    });
    // A composite key of quoted names: ordered by its text column, then numerically.
    expect(compared(byBlocks, 'Mixed Case').rows).toEqual([
      { change: 'deleted', key: { Region: 'r0', n: 20 }, old: { Region: 'r0', n: 20, val: 'x20' } },
      { change: 'inserted', key: { Region: 'r0', n: 99999 }, new: { Region: 'r0', n: 99999, val: 'new' } },
      { change: 'updated', key: { Region: 'r1', n: 11 }, old: { Region: 'r1', n: 11, val: 'x11' }, new: { Region: 'r1', n: 11, val: 'y' } },
    ]);
  });

  it('diffs one table from its blocks exactly as the full comparison does, with a row limit', async () => {
    const one = await diffTableData({ base: pair.baseTarget, head: head.target, table: { schema: 'public', name: 'accounts' }, changedBlocks: blocks.get('public.accounts'), rows: true, limit: 5 });
    const full = await fullDiffTableData({ base: pair.baseTarget, head: head.target, table: { schema: 'public', name: 'accounts' }, rows: true, limit: 5 });
    expect(one.method).toBe('blocks');
    expect(outcome(one)).toEqual(outcome(full));
    expect(one.rows).toHaveLength(5);
    expect(one.rowsTruncated).toBe(true);
    expect(one.rows).toEqual(compared(byFull, 'accounts').rows!.slice(0, 5));
    const countsOnly = await diffTableData({ base: pair.baseTarget, head: head.target, table: { schema: 'public', name: 'accounts' }, changedBlocks: blocks.get('public.accounts'), rows: false });
    expect(countsOnly.rows).toBeUndefined();
    expect(countsOnly.counts).toEqual(full.counts);
  });

  it('refuses a table missing on a side', async () => {
    for (const name of ['fresh', 'legacy', 'nope']) {
      const err = await diffTableData({ base: pair.baseTarget, head: head.target, table: { schema: 'public', name }, rows: false }).catch((e: unknown) => e);
      expect(isPgbranchError(err, 'TABLE_NOT_FOUND'), String(err)).toBe(true);
    }
  });
  it('reads both sides at snapshots taken before afterSnapshots runs', async () => {
    const order: string[] = [];
    const diff = await diffData({
      base: pair.baseTarget,
      head: head.target,
      tables: [{ schema: 'public', name: 'quiet' }],
      rows: true,
      afterSnapshots: async () => {
        order.push('afterSnapshots');
        await exec(head.target, "INSERT INTO quiet VALUES (1000001, 'after the snapshot')");
      },
      changedBlocksFor: () => {
        order.push('changedBlocksFor');
        return { base: 'all', head: 'all' };
      },
    });
    expect(order).toEqual(['afterSnapshots', 'changedBlocksFor']);
    expect(compared(diff, 'quiet').counts).toEqual({ inserted: 0, updated: 0, deleted: 0 });
    await exec(head.target, 'DELETE FROM quiet WHERE id = 1000001');
  });

  it('reads blocks with TID range scans and probes keys through the index', async () => {
    const plan = async (sql: string, params: unknown[] = []): Promise<string> =>
      withClient(head.target, async (c) => (await c.query(`EXPLAIN ${sql}`, params)).rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n'));
    const blocksPlan = await plan(blockReadSql({ schema: 'public', name: 'accounts' }, ['id', 'note'], blockRanges([3, 4, 5, 90, 140])));
    // Runs [3,6), [90,91), [140,141): one TID range scan each.
    expect(blocksPlan.match(/Tid Range Scan/g)).toHaveLength(3);
    expect(blocksPlan).not.toMatch(/Seq Scan/);
    const lookupPlan = await plan(keyLookupSql({ schema: 'public', name: 'Mixed Case' }, ['Region', 'n', 'val'], [{ name: 'Region', type: 'text' }, { name: 'n', type: 'integer' }]), [
      ['r1', 'r2'],
      ['11', '12'],
    ]);
    expect(lookupPlan).toMatch(/Index Scan/);
    expect(lookupPlan).not.toMatch(/Seq Scan/);
  });

  describe('randomised: block-level and full diffs agree', () => {
    /** Deterministic choices (mulberry32), so a failing seed can be replayed. */
    function prng(seed: number): () => number {
      let state = seed >>> 0;
      return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    /** A few hundred random statements on rp_keyed / rp_bag, in transactions, some rolled back. */
    async function randomWorkload(target: ConnectionTarget, seed: number, operations: number): Promise<void> {
      const random = prng(seed);
      const pick = <T,>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const keys = Array.from({ length: 30000 }, (_, i) => i + 1);
      let nextKey = 100_000;
      const text = (): string | null => (random() < 0.2 ? null : `t${Math.floor(random() * 1e6)}`);
      await withClient(target, async (c) => {
        let done = 0;
        while (done < operations) {
          const rollback = random() < 0.15;
          const saved = [...keys];
          const savedNext = nextKey;
          await c.query('BEGIN');
          const batch = 1 + Math.floor(random() * 25);
          for (let i = 0; i < batch && done < operations; i++, done++) {
            const r = random();
            const keyIndex = Math.floor(random() * keys.length);
            const key = keys[keyIndex]!;
            if (r < 0.15) {
              const id = nextKey++;
              keys.push(id);
              await c.query('INSERT INTO rp_keyed VALUES ($1, $2, $3, NULL)', [id, Math.floor(random() * 100), text()]);
            } else if (r < 0.35) {
              await c.query('UPDATE rp_keyed SET v = $2 WHERE id = $1', [key, Math.floor(random() * 100)]);
            } else if (r < 0.45) {
              await c.query('UPDATE rp_keyed SET s = $2 WHERE id = $1', [key, text()]);
            } else if (r < 0.5) {
              const id = nextKey++;
              keys[keyIndex] = id;
              await c.query('UPDATE rp_keyed SET id = $2 WHERE id = $1', [key, id]);
            } else if (r < 0.6) {
              keys.splice(keyIndex, 1);
              await c.query('DELETE FROM rp_keyed WHERE id = $1', [key]);
            } else if (r < 0.63) {
              // Out-of-line TOAST value (random hex does not compress).
              await c.query('UPDATE rp_keyed SET big = $2 WHERE id = $1', [key, randomBytes(2500).toString('hex')]);
            } else if (r < 0.66) {
              await c.query('UPDATE rp_keyed SET v = v WHERE id = $1', [key]);
            } else if (r < 0.78) {
              const a = Math.floor(random() * 45);
              await c.query('INSERT INTO rp_bag VALUES ($1, $2)', [a, random() < 0.8 ? `b${a}` : text()]);
            } else if (r < 0.9) {
              await c.query('DELETE FROM rp_bag WHERE ctid = (SELECT ctid FROM rp_bag WHERE a = $1 LIMIT 1)', [Math.floor(random() * 45)]);
            } else {
              await c.query('UPDATE rp_bag SET b = $2 WHERE ctid = (SELECT ctid FROM rp_bag WHERE a = $1 LIMIT 1)', [Math.floor(random() * 45), text()]);
            }
          }
          if (rollback) {
            await c.query('ROLLBACK');
            keys.splice(0, keys.length, ...saved);
            nextKey = savedNext;
          } else {
            await c.query('COMMIT');
          }
          // Pruning and freezing rewrite pages without changing what is visible.
          if (random() < 0.05) await c.query(pick(['VACUUM rp_keyed', 'VACUUM rp_bag']));
        }
      });
    }

    for (const seed of [1, 2, 3]) {
      it(`seed ${seed}`, async () => {
        await head?.destroy();
        head = await pair.branch();
        await randomWorkload(head.target, seed, 300);
        const seedBlocks = await pageDiffBlocks(pair.base.dataDir, pair.baseFiles(), head);
        await pair.startBase();
        const tables = [
          { schema: 'public', name: 'rp_keyed' },
          { schema: 'public', name: 'rp_bag' },
        ];
        const fast = await diffData({ base: pair.baseTarget, head: head.target, tables, rows: true, limit: 100_000, changedBlocksFor: changedBlocksFor(seedBlocks) });
        const full = await diffData({ base: pair.baseTarget, head: head.target, tables, rows: true, limit: 100_000 });
        expect(fast.tables.map(outcome)).toEqual(full.tables.map(outcome));
        const keyed = compared(fast, 'rp_keyed');
        const bag = compared(fast, 'rp_bag');
        expect(keyed.method).toBe('blocks');
        expect(bag.method).toBe('blocks');
        expect(keyed.counts.inserted + keyed.counts.updated + keyed.counts.deleted).toBeGreaterThan(50);
        expect(bag.counts.inserted + bag.counts.deleted).toBeGreaterThan(20);
        // Random updates scattered over a small table touch most of its pages; what matters here
        // is that exactly the pages that differ were read, and that the answers agree.
        expect(keyed.scanned.blocks).toBe(seedBlocks.get('public.rp_keyed')!.head.length);
        expect(bag.scanned.blocks).toBe(seedBlocks.get('public.rp_bag')!.head.length);
      });
    }
  });
});

describe('a two-phase transaction prepared at the branch point and resolved on the head', () => {
  let pair: Pair | undefined;
  afterAll(async () => {
    await pair?.destroy();
  });

  it('makes block lists untrusted: its rows change visibility without a byte of their blocks changing', async () => {
    pair = await createPair(async (target) => {
      await exec(target, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g");
      await exec(target, 'ALTER SYSTEM SET max_prepared_transactions = 2');
    });
    await pair.stopBase();
    await pair.startBase();
    await exec(pair.baseTarget, "BEGIN; INSERT INTO t VALUES (5000, 'prepared'); PREPARE TRANSACTION 'p1'");
    const head = await pair.branch();
    await exec(head.target, "COMMIT PREPARED 'p1'");
    const blocks = await pageDiffBlocks(pair.base.dataDir, pair.baseFiles(), head);
    await pair.startBase();
    // The trap: the commit lives in pg_xact only, so no heap page differs.
    expect(blocks.get('public.t')).toEqual({ base: [], head: [] });

    const diff = await diffData({ base: pair.baseTarget, head: head.target, rows: true, changedBlocksFor: (r) => blocks.get(`${r.schema}.${r.name}`) });
    expect(compared(diff, 't')).toMatchObject({
      method: 'full',
      fullReason: 'prepared-transactions',
      counts: { inserted: 1, updated: 0, deleted: 0 },
      rows: [{ change: 'inserted', key: { id: 5000 }, new: { id: 5000, v: 'prepared' } }],
    });
    const one = await diffTableData({ base: pair.baseTarget, head: head.target, table: { schema: 'public', name: 't' }, changedBlocks: blocks.get('public.t'), rows: false });
    expect(one).toMatchObject({ method: 'full', fullReason: 'prepared-transactions', counts: { inserted: 1 } });
    await exec(pair.baseTarget, "ROLLBACK PREPARED 'p1'");
  });
});
