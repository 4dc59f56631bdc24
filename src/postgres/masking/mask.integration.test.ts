import { createHmac } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../../errors.js';
import { connect } from '../index.js';
import { createTestCluster, type TestCluster } from '../test-support/instance-fixture.js';
import {
  findPersonalColumns,
  maskDatabase,
  readMaskCatalog,
  sampleOriginalValues,
  scanForResidue,
  sealWal,
  wipeResidue,
  type MaskingRules,
  type MaskReport,
} from './index.js';
import { fixtureRules, loadPiiFixture, userRow } from './test-support/pii-fixture.js';

const USERS = 100_000;
const COPY_USERS = 5_000;
const KEY = 'test-host-secret-0123456789abcdef';

const sorted = (xs: readonly string[]): string[] => [...xs].sort();

describe('masking on PostgreSQL 18 (detector, executor, WAL seal and wipe)', () => {
  let c: TestCluster;
  let app: pg.Client;

  beforeAll(async () => {
    c = await createTestCluster({ database: 'app' });
    await c.start({ listenTcp: false });
    app = await connect(c.target('app'));
    // Keep all WAL (as wal_keep_size does for a replica): the originals are in it from the load on,
    // and only the wipe may remove them.
    await app.query(`ALTER SYSTEM SET wal_keep_size = '2GB'`);
    await app.query('SELECT pg_reload_conf()');
    await loadPiiFixture(app, USERS);
    // A second copy of the first rows of the source, masked separately below: same rules + key →
    // same outputs.
    const admin = await connect(c.target('postgres'));
    try {
      await admin.query('CREATE DATABASE copy');
    } finally {
      await admin.end();
    }
    const copy = await connect(c.target('copy'));
    try {
      await loadPiiFixture(copy, COPY_USERS);
    } finally {
      await copy.end();
    }
  }, 300_000);

  afterAll(async () => {
    await app?.end().catch(() => undefined);
    await c?.destroy();
  });

  it('reads the catalog as data', async () => {
    const catalog = await readMaskCatalog(app);
    const users = catalog.tables.find((t) => t.name === 'users')!;
    expect(users.kind).toBe('table');
    expect(users.columns.find((col) => col.name === 'first_name')).toMatchObject({ class: 'string', maxLength: 40, isArray: false });
    expect(users.columns.find((col) => col.name === 'aliases')).toMatchObject({ class: 'string', isArray: true, type: 'text[]' });
    expect(users.columns.find((col) => col.name === 'profile')).toMatchObject({ class: 'json' });
    expect(users.columns.find((col) => col.name === 'email')).toMatchObject({ notNull: true });
    expect(sorted(users.uniqueKeys.map((k) => k.join(',')))).toEqual(['email', 'id', 'phone']);
    const orders = catalog.tables.find((t) => t.name === 'orders')!;
    expect(orders.foreignKeys.map((f) => `${f.columns.join()}→${f.refTable}.${f.refColumns.join()}`).sort()).toEqual([
      'customer_email→users.email',
      'product_id→products.id',
      'user_id→users.id',
    ]);
    expect(catalog.tables.find((t) => t.name === 'contact_emails')?.kind).toBe('matview');
  });

  it('flags exactly the personal columns, and none once rules cover them', async () => {
    const found = await findPersonalColumns(app, { tables: [] });
    const ids = sorted(found.map((f) => `${f.table}.${f.column}${f.jsonPath ? `→${f.jsonPath}` : ''}`));
    expect(ids).toEqual(
      sorted([
        'users.email',
        'users.full_name',
        'users.first_name',
        'users.last_name',
        'users.phone',
        'users.birth_date',
        'users.ssn',
        'users.card_number',
        'users.iban',
        'users.ip',
        'users.profile→contact.email',
        'users.profile→contact.phones[*]',
        'users.aliases',
        'users.notes',
        'orders.customer_email',
        'contacts.email',
        'contacts.note',
      ]),
    );
    const why = (id: string) => found.find((f) => `${f.table}.${f.column}${f.jsonPath ? `→${f.jsonPath}` : ''}` === id)!;
    expect(why('users.email').reasons.map((r) => `${r.by}:${r.kind}`)).toEqual(['name:email', 'content:email']);
    expect(why('users.notes').reasons).toEqual([expect.objectContaining({ by: 'content', kind: 'email' })]);
    expect(why('users.aliases').reasons).toEqual([expect.objectContaining({ by: 'content', kind: 'email' })]);
    expect(why('users.card_number').reasons.map((r) => `${r.by}:${r.kind}`)).toEqual(['name:card', 'content:card']);
    expect(why('users.iban').reasons.map((r) => `${r.by}:${r.kind}`)).toEqual(['name:iban', 'content:iban']);
    expect(why('users.ssn').reasons.map((r) => `${r.by}:${r.kind}`)).toEqual(['name:national_id', 'content:national_id']);
    expect(why('users.email').message).toMatch(/^public\.users\.email \(text\): name matches "email" \(email\); \d+ of \d+ sampled values are email addresses$/);
    // Findings never carry sampled values.
    expect(JSON.stringify(found)).not.toMatch(/@mailhost|Quirinus|\+33 6/);

    expect(await findPersonalColumns(app, fixtureRules())).toEqual([]);

    await app.query('ALTER TABLE users ADD COLUMN backup_email text');
    try {
      const again = await findPersonalColumns(app, fixtureRules());
      expect(again.map((f) => f.message)).toEqual(['public.users.backup_email (text): name matches "email" (email)']);
    } finally {
      await app.query('ALTER TABLE users DROP COLUMN backup_email');
    }
  });

  it('fails clearly on a collision in a unique column and changes nothing', async () => {
    const before = (await app.query<{ e: string }>('SELECT email AS e FROM users WHERE id = 1')).rows[0]!.e;
    const rules: MaskingRules = {
      tables: [{ schema: 'public', table: 'users', columns: [{ column: 'phone', kind: 'strategy', strategy: { kind: 'hash', length: 2 } }] }],
    };
    const err = await maskDatabase(app, rules, { key: KEY }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'MASK_COLLISION')).toBe(true);
    expect((err as Error).message).toMatch(/unique constraint "users_phone_key"/);
    expect((err as Error).message).not.toMatch(/\+33/);
    expect(JSON.stringify((err as { details?: unknown }).details)).not.toMatch(/\+33/);
    expect((await app.query<{ e: string }>('SELECT email AS e FROM users WHERE id = 1')).rows[0]!.e).toBe(before);
    expect((await app.query<{ p: string }>('SELECT phone AS p FROM users WHERE id = 1')).rows[0]!.p).toBe(userRow(1).phone);
  });

  it('fails when the two sides of a foreign key are masked differently, and keeps the key', async () => {
    const rules: MaskingRules = {
      tables: [
        { schema: 'public', table: 'users', columns: [{ column: 'email', kind: 'strategy', strategy: { kind: 'fake', fake: 'email' } }] },
        { schema: 'public', table: 'orders', columns: [{ column: 'customer_email', kind: 'strategy', strategy: { kind: 'hash' } }] },
      ],
    };
    const err = await maskDatabase(app, rules, { key: KEY }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'MASK_COLLISION')).toBe(true);
    expect((err as Error).message).toMatch(/foreign key "orders_customer_email_fkey"/);
    const fks = await app.query(`SELECT conname FROM pg_constraint WHERE conname = 'orders_customer_email_fkey' AND convalidated`);
    expect(fks.rowCount).toBe(1);
    expect((await app.query<{ e: string }>('SELECT customer_email AS e FROM orders WHERE user_id = 5 LIMIT 1')).rows[0]!.e).toBe(userRow(5).email);
  });

  it('masks so that no original value is left in any table or any file of the data directory', async () => {
    // What to look for: sampled by the API, plus chosen rows of every masked text column.
    const chosen = [1, 2, 100, 777, 5000, 31_337, 99_999, 100_000].map(userRow);
    const originals = [
      ...(await sampleOriginalValues(app, fixtureRules(), { perColumn: 10 })),
      ...chosen.flatMap((u) => [u.email, u.full_name, u.phone, u.card_number, u.iban, JSON.parse(u.profile).contact.email, u.aliases[0]!]).map((s) => Buffer.from(s)),
      ...[100, 5000, 99_950].map((i) => Buffer.from(`contact.${userRow(i).email}`)),
      Buffer.from(/note\.100\.[0-9a-f]{8}@support2\.test/.exec(userRow(100).notes!)![0]),
    ];
    expect(originals.length).toBeGreaterThan(60);
    await app.query('CHECKPOINT');
    // The search can fail: before masking it finds them all, WAL and heap alike.
    const before = await scanForResidue(c.dataDir, originals, { maxHits: 100_000 });
    const neededBefore = new Set(before.map((h) => h.needle));
    expect(originals.filter((_, i) => !neededBefore.has(i)).map((b) => b.toString())).toEqual([]);
    expect(before.some((h) => h.file.startsWith('pg_wal/'))).toBe(true);
    expect(before.some((h) => h.file.startsWith('base/'))).toBe(true);

    const joinBefore = (await app.query<{ n: string }>('SELECT count(*) AS n FROM orders o JOIN users u ON u.email = o.customer_email')).rows[0]!.n;
    const progress: string[] = [];
    const report: MaskReport = await maskDatabase(app, fixtureRules(), { key: KEY, onProgress: (p) => progress.push(p.phase) });
    // The materialized view reads contacts.email: contacts takes the UPDATE path, the others the one-pass rewrite.
    expect(report.tables.map((t) => [t.table, t.method, t.rows])).toEqual([
      ['users', 'rewrite', USERS],
      ['orders', 'rewrite', 2 * USERS],
      ['contacts', 'update', USERS / 50],
    ]);
    // ALTER … TYPE resets a column's storage: it was put back.
    expect((await app.query(`SELECT attstorage FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'notes'`)).rows[0].attstorage).toBe('e');
    expect(report.foreignKeysRevalidated).toEqual(['orders_customer_email_fkey']);
    expect(report.matviewsRefreshed).toEqual(['contact_emails']);
    expect(new Set(progress)).toEqual(new Set(['prepare', 'mask', 'constraints', 'rewrite', 'matviews', 'statistics', 'done']));

    // Tables: no original value; joins, foreign keys and unique constraints hold.
    const u1 = (await app.query('SELECT * FROM users WHERE id = 1')).rows[0];
    const o1 = userRow(1);
    expect(u1.email).toMatch(/^[a-z]+\.[a-z]+\.[0-9a-f]{12}@example\.(com|net|org)$/);
    expect(u1.phone).toBe(createHmac('sha256', KEY).update(o1.phone).digest('hex').slice(0, 24));
    expect(u1.ssn).toBeNull();
    expect(u1.card_number).toBe(`************${o1.card_number.slice(-4)}`);
    expect(u1.iban).toMatch(/^DE\d{2}0\d{17}$/);
    expect(u1.ip).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(u1.profile.contact.email).toMatch(/@example\./);
    expect(u1.profile.contact.phones[0]).toMatch(/^\+99\d{13}$/);
    expect(u1.profile.prefs).toEqual(JSON.parse(o1.profile).prefs);
    expect(u1.aliases[0]).toMatch(/@example\./);
    const d = Math.abs(new Date(u1.birth_date).getTime() - new Date(o1.birth_date).getTime()) / 86_400_000;
    expect(d).toBeLessThanOrEqual(30);
    const orig = chosen.map((u) => u.email);
    const left = await app.query(
      `SELECT (SELECT count(*) FROM users WHERE email = ANY($1) OR full_name = ANY($2) OR phone = ANY($3)) +
              (SELECT count(*) FROM orders WHERE customer_email = ANY($1)) +
              (SELECT count(*) FROM contacts WHERE email = ANY($4) OR note LIKE '%+33%') + (SELECT count(*) FROM contact_emails WHERE email = ANY($4)) AS n`,
      [orig, chosen.map((u) => u.full_name), chosen.map((u) => u.phone), chosen.map((u) => `contact.${u.email}`)],
    );
    expect(Number(left.rows[0].n)).toBe(0);
    const notes = await app.query(`SELECT count(*)::int AS n FROM users WHERE notes LIKE '%@support%'`);
    expect(notes.rows[0].n).toBe(0);
    expect((await app.query<{ n: string }>('SELECT count(*) AS n FROM orders o JOIN users u ON u.email = o.customer_email')).rows[0]!.n).toBe(joinBefore);
    const uniq = await app.query(`SELECT count(DISTINCT email)::int AS e, count(DISTINCT phone)::int AS p, count(*)::int AS n FROM users`);
    expect(uniq.rows[0]).toEqual({ e: USERS, p: USERS, n: USERS });
    const fks = await app.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f' AND convalidated AND conrelid = 'orders'::regclass`);
    expect(fks.rows[0].n).toBe(3);
    const mv = await app.query(`SELECT count(*)::int AS n FROM contact_emails m JOIN contacts c USING (id, email)`);
    expect(mv.rows[0].n).toBe(USERS / 50);
    const c100 = (await app.query(`SELECT email, note FROM contacts WHERE id = 100`)).rows[0];
    expect(c100.email).toBe(createHmac('sha256', KEY).update(`contact.${userRow(100).email}`).digest('hex').slice(0, 32));
    expect(c100.note).toMatch(/^call [0-9a-f]{8}$/);
    // Statistics were recomputed from masked values.
    const stats = await app.query(`SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'users' AND attname = 'email'`);
    expect(stats.rows[0].n).toBe(1);

    // Determinism: the other copy, masked with the same rules and key, comes out identical.
    const copy = await connect(c.target('copy'));
    try {
      await maskDatabase(copy, fixtureRules(), { key: KEY });
      const digest = `SELECT md5(string_agg(concat_ws('|', email, full_name, first_name, last_name, phone, birth_date, iban, ip, profile::text, aliases::text, notes, salary), ',' ORDER BY id)) AS h FROM users WHERE id <= ${COPY_USERS}`;
      const [a, b] = [(await app.query(digest)).rows[0].h, (await copy.query(digest)).rows[0].h];
      expect(a).toBe(b);
      const seal = await sealWal(copy);
      expect(seal.droppedSlots).toEqual([]);
      await copy.end();
      await app.end();
      await c.stop();
      await expect(wipeResidue(c.dataDir, { ...seal, cleanFromLsn: 'FFFFFFFF/0' })).rejects.toSatisfy((e: unknown) => isPgbranchError(e, 'MASK_WIPE_UNSAFE'));
      const wiped = await wipeResidue(c.dataDir, seal);
      expect(wiped.zeroedWalBytes).toBeGreaterThan(0);
      expect(wiped.removedWalSegments).toBeGreaterThan(0);
      // Only the segment with the shutdown checkpoint is left (checkpoints removed the rest already
      // or the wipe did).
      const wal = (await readdir(join(c.dataDir, 'pg_wal'))).filter((n) => /^[0-9A-F]{24}/.test(n));
      expect(wal).toEqual([wiped.keptWalSegment]);
    } finally {
      await copy.end().catch(() => undefined);
    }

    const after = await scanForResidue(c.dataDir, originals);
    expect(after).toEqual([]);
    // Nor in the server log (outside the data directory), despite the failed attempts above.
    const log = await readFile(c.logFile);
    expect(originals.filter((o) => log.includes(o))).toEqual([]);

    // The wiped cluster starts without recovery and serves the masked data.
    await c.start({ listenTcp: false });
    app = await connect(c.target('app'));
    expect((await app.query('SELECT count(*)::int AS n FROM users')).rows[0].n).toBe(USERS);
    await app.query(`UPDATE products SET price = price + 1 WHERE id = 1`);
    await app.query('CHECKPOINT');
  }, 400_000);

  it('refuses to wipe a running instance', async () => {
    const err = await wipeResidue(c.dataDir, { cleanFromLsn: '0/0', walSegmentBytes: 16 << 20, timeline: 1, droppedSlots: [] }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'MASK_WIPE_UNSAFE')).toBe(true);
  });
});
