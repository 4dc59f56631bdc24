import { createHash, createHmac } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, startInstance } from '../index.js';
import { createTestCluster, type TestCluster } from '../test-support/instance-fixture.js';
import { MASKING_INSTANCE_SETTINGS, maskDatabase, sealWal, wipeResidue, type MaskingRules } from './index.js';

const KEY = 'another-host-secret-for-types-0001';
const mac = (v: string): Buffer => createHmac('sha256', KEY).update(v).digest();
const md5 = (v: string): string => createHash('md5').update(v).digest('hex');
const asUuid = (hex: string): string => hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

const SCHEMA = `
CREATE TABLE accounts (id int PRIMARY KEY, owner uuid, secret bytea, label text COLLATE "C", codes varchar(12)[],
                       settings jsonb, meta json, score int, seen_at timestamptz);
CREATE TABLE payments (id int PRIMARY KEY, account_id int REFERENCES accounts(id), amount numeric(8,2));
CREATE TABLE events (id int, ip inet, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO accounts
SELECT g, md5(g::text)::uuid, decode(md5('s' || g), 'hex'), 'Label ' || g, ARRAY['code-' || g, 'alt-' || g],
       CASE g % 4 WHEN 0 THEN jsonb_build_object('contact', jsonb_build_object('email', 'p' || g || '@x.test', 'name', 'Person ' || g, 'lang', 'fr'), 'plan', 'pro')
                  WHEN 1 THEN '{"plan": "free"}'::jsonb
                  WHEN 2 THEN '{"contact": null}'::jsonb
                  ELSE '{"contact": ["p@x.test"]}'::jsonb END,
       '{"a": 1}'::json, 1000 + g, timestamptz '2024-06-01 12:00' + make_interval(mins => g)
  FROM generate_series(1, 2000) g;
INSERT INTO payments SELECT g, 1 + g % 2000, g FROM generate_series(1, 5000) g;
INSERT INTO events SELECT g, ('192.168.' || (g % 250) || '.' || (g % 200))::inet, date '2023-06-01' + g FROM generate_series(1, 400) g;
`;

const RULES: MaskingRules = {
  tables: [
    {
      schema: 'public',
      table: 'accounts',
      columns: [
        { column: 'id', kind: 'strategy', strategy: { kind: 'hash' } },
        { column: 'owner', kind: 'strategy', strategy: { kind: 'hash' } },
        { column: 'secret', kind: 'strategy', strategy: { kind: 'hash' } },
        { column: 'label', kind: 'strategy', strategy: { kind: 'fake', fake: 'company' } },
        { column: 'codes', kind: 'strategy', strategy: { kind: 'hash', length: 8 } },
        {
          column: 'settings',
          kind: 'json',
          paths: [
            { path: ['contact', 'email'], strategy: { kind: 'fake', fake: 'email' } },
            { path: ['contact', 'name'], strategy: { kind: 'fake', fake: 'name' } },
            { path: ['plan'], strategy: { kind: 'keep' } },
          ],
        },
        { column: 'meta', kind: 'strategy', strategy: { kind: 'constant', value: 'redacted' } },
        { column: 'score', kind: 'strategy', strategy: { kind: 'noise-number', percent: 10 } },
        { column: 'seen_at', kind: 'strategy', strategy: { kind: 'noise-date', seconds: 3600 } },
      ],
    },
    { schema: 'public', table: 'payments', columns: [{ column: 'account_id', kind: 'strategy', strategy: { kind: 'hash' } }] },
    { schema: 'public', table: 'events', columns: [{ column: 'ip', kind: 'strategy', strategy: { kind: 'fake', fake: 'ip' } }] },
  ],
};

describe('masking column types, json key paths, foreign keys on hashed integers, partitions', () => {
  let c: TestCluster;
  let db: pg.Client;

  beforeAll(async () => {
    c = await createTestCluster({ database: 'app' });
    // As the domain starts a clone for masking: private, and WAL-light.
    const { binaries, dataDir, osUser, logFile, socketDir, port } = c;
    await startInstance({ binaries, dataDir, osUser, logFile, socketDir, port, listenTcp: false, settings: MASKING_INSTANCE_SETTINGS });
    db = await connect(c.target('app'));
    await db.query(SCHEMA);
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await c?.destroy();
  });

  it('masks every type as documented and keeps keys, collations and partitions', async () => {
    const files = async (): Promise<Record<string, string>> =>
      Object.fromEntries(
        (await db.query<{ r: string; f: string }>(`SELECT relname AS r, pg_relation_filenode(oid)::text AS f FROM pg_class WHERE relname IN ('accounts', 'events_2023', 'events_2024', 'payments')`)).rows.map(
          (row) => [row.r, row.f],
        ),
      );
    const filesBefore = await files();
    const joinBefore = (await db.query(`SELECT count(*)::int AS n FROM payments p JOIN accounts a ON a.id = p.account_id`)).rows[0].n;

    const report = await maskDatabase(db, RULES, { key: KEY });
    expect(report.tables.map((t) => [t.table, t.method, t.rows])).toEqual([
      ['accounts', 'rewrite', 2000],
      ['payments', 'rewrite', 5000],
      ['events', 'rewrite', 400],
    ]);
    expect(report.foreignKeysRevalidated).toEqual(['payments_account_id_fkey']);
    // New files for every masked table and partition.
    const filesAfter = await files();
    for (const rel of Object.keys(filesBefore)) expect(filesAfter[rel]).not.toBe(filesBefore[rel]);

    const hashedId = (id: number): number => Number((mac(String(id)).readBigUInt64BE(0) & 0x7fffffffffffffffn) % 2147483648n);
    const a4 = (await db.query(`SELECT * FROM accounts WHERE id = $1`, [hashedId(4)])).rows[0];
    expect(a4).toBeDefined();
    expect(a4.owner).toBe(asUuid(mac(asUuid(md5('4'))).subarray(0, 16).toString('hex')));
    expect(Buffer.compare(a4.secret, mac(md5('s4')))).toBe(0);
    expect(a4.label).toMatch(/^[A-Z][a-z]+ (Ltd|GmbH|SA|Inc|Group|Holdings|& Co|Partners|Labs|Systems)$/);
    expect(a4.codes).toEqual([mac('code-4').toString('hex').slice(0, 8), mac('alt-4').toString('hex').slice(0, 8)]);
    expect(a4.settings.contact.email).toMatch(/@example\.(com|net|org)$/);
    expect(a4.settings.contact.name).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
    expect(a4.settings.contact.lang).toBe('fr');
    expect(a4.settings.plan).toBe('pro');
    expect(a4.meta).toBe('redacted');
    expect(Math.abs(a4.score - 1004)).toBeLessThanOrEqual(100.4);
    expect(Math.abs(new Date(a4.seen_at).getTime() - new Date('2024-06-01T12:04:00Z').getTime())).toBeLessThanOrEqual(3600_000);
    // Documents without the path, with a JSON null or an array there, stay as they were.
    expect((await db.query(`SELECT settings FROM accounts WHERE id = $1`, [hashedId(5)])).rows[0].settings).toEqual({ plan: 'free' });
    expect((await db.query(`SELECT settings FROM accounts WHERE id = $1`, [hashedId(6)])).rows[0].settings).toEqual({ contact: null });
    expect((await db.query(`SELECT settings FROM accounts WHERE id = $1`, [hashedId(7)])).rows[0].settings).toEqual({ contact: ['p@x.test'] });

    // Hashed integer keys still join, the foreign key is back and valid, the collation kept.
    expect((await db.query(`SELECT count(*)::int AS n FROM payments p JOIN accounts a ON a.id = p.account_id`)).rows[0].n).toBe(joinBefore);
    expect((await db.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'payments_account_id_fkey' AND convalidated`)).rows[0].n).toBe(1);
    expect((await db.query(`SELECT collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation WHERE attrelid = 'accounts'::regclass AND attname = 'label'`)).rows[0].collname).toBe('C');
    expect((await db.query(`SELECT count(*)::int AS n FROM events WHERE NOT ip << '10.0.0.0/8'`)).rows[0].n).toBe(0);

    // Then the rest of the sequence: seal, clean stop, wipe, and a normal start.
    expect((await db.query('SHOW wal_level')).rows[0].wal_level).toBe('minimal');
    const seal = await sealWal(db);
    await db.end();
    await c.stop();
    const wiped = await wipeResidue(c.dataDir, seal);
    expect(wiped.keptWalSegment).toMatch(/^[0-9A-F]{24}$/);
    await c.start({ listenTcp: false });
    db = await connect(c.target('app'));
    expect((await db.query('SHOW wal_level')).rows[0].wal_level).toBe('replica');
    expect((await db.query(`SELECT count(*)::int AS n FROM payments p JOIN accounts a ON a.id = p.account_id`)).rows[0].n).toBe(joinBefore);
  });
});
