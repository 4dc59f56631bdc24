import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPgbranchError } from '../errors.js';
import { sampleOriginalValues } from '../postgres/index.js';
import { fixtureRules, loadPiiFixture, userRow } from '../postgres/masking/test-support/pii-fixture.js';
import { assertHostConsistent, readStoredState, sql } from '../test-support/host-invariants.js';
import { createTestHost, testPoolSkipReason, type TestHost } from '../test-support/test-host.js';

const skip = await testPoolSkipReason('btrfs');
if (skip) console.warn(`masking acceptance tests skipped: ${skip}`);

/** Rows of the fixture's users table (orders: 2 per user). The 1 M runs with PGBRANCH_MASK_TEST_USERS=1000000. */
const USERS = Number(process.env.PGBRANCH_MASK_TEST_USERS ?? 10_000);
/** Per test: 4 min at the default size, growing with it (1 M users: ~33 min; masked twice in some tests). */
const TIMEOUT = Math.max(240_000, USERS * 2);

/** The fixture's rules (fixtureRules()) as the YAML file a user keeps in the repository. */
const RULES = `# masking.yaml
version: 1
tables:
  users:
    email: { fake: email }
    full_name: { fake: name }
    first_name: { fake: first_name }
    last_name: { fake: last_name }
    phone: { hash: { length: 24 } }
    birth_date: { noise: { date: 30d } }
    ssn: null
    card_number: { partial: { keep_last: 4 } }
    iban: { fake: iban }
    ip: { fake: ip }
    profile:
      json:
        contact.email: { fake: email }
        contact.phones[*]: { fake: phone }
    aliases: { fake: email }
    notes: { fake: text }
    salary: { noise: { number: 10% } }
  orders:
    customer_email: { fake: email }
  contacts:
    email: { hash: { length: 32 } }
    note: { sql: "'call ' || left(md5(note), 8)" }
`;
const MASK = { rules: RULES, file: 'masking.yaml' };

/**
 * The files under `dir` that hold any of `needles` byte for byte: GNU grep (fixed strings, binary
 * files read as text), much faster than a scan in JavaScript. The needles file is removed at once.
 */
async function grepFiles(dir: string, needles: readonly Buffer[]): Promise<string[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'pgbranch-needles-'));
  const file = join(tmp, 'needles');
  // Shorter needles could match by chance (the engine's scan ignores them too).
  writeFileSync(file, Buffer.concat(needles.filter((n) => n.length >= 8).flatMap((n) => [n, Buffer.from('\n')])), { mode: 0o600 });
  try {
    return await new Promise<string[]>((done, fail) => {
      execFile('grep', ['-r', '-a', '-F', '-l', '-f', file, dir], { maxBuffer: 64 << 20 }, (err, stdout) => {
        // Exit 1: no match; 2: trouble.
        if (err && (err as { code?: number }).code !== 1) return fail(err);
        done(stdout.split('\n').filter(Boolean));
      });
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const DIGEST = `SELECT md5(string_agg(concat_ws('|', email, full_name, first_name, last_name, phone, birth_date, iban, ip, profile::text, aliases::text, notes, salary), ',' ORDER BY id)) AS h FROM users`;

/**
 * Acceptance of issue 13: masked branches through the host and the CLI (masked-only tokens over
 * the API: src/api/masked-only.integration.test.ts).
 */
describe.skipIf(skip !== undefined)(`masked branches (${USERS} users)`, () => {
  let f: { t: TestHost };
  let mainUrl: string;
  let rulesFile: string;
  /** Original values to look for in tables and files (sampled by the engine, plus chosen rows). */
  let originals: Buffer[];

  beforeAll(async () => {
    // A sparse pool; at 1 M users main holds ~1.5 GiB and each masked generation as much again.
    f = { t: await createTestHost('btrfs', {}, Math.max(1024, Math.ceil(USERS / 1000) * 24)) };
    mainUrl = (await f.t.host.connectionInfo('main')).url;
    const client = new pg.Client({ connectionString: mainUrl });
    await client.connect();
    try {
      await loadPiiFixture(client, USERS);
      await client.query('CHECKPOINT');
      const chosen = [1, 2, 77, Math.floor(USERS / 2), USERS].map(userRow);
      originals = [
        ...(await sampleOriginalValues(client, fixtureRules(), { perColumn: 10 })),
        ...chosen.flatMap((u) => [u.email, u.full_name, u.phone, u.card_number, u.iban, JSON.parse(u.profile).contact.email, u.aliases[0]!]).map((s) => Buffer.from(s)),
      ];
    } finally {
      await client.end();
    }
    rulesFile = join(f.t.home, 'masking.yaml');
    writeFileSync(rulesFile, RULES);
  }, TIMEOUT);
  afterAll(async () => f?.t.cleanup());

  it('bad rules files fail with file:line:column, and leave nothing behind', async () => {
    const syntax = 'version: 1\ntables:\n  users:\n    email: { fake: emial }\n';
    const err = await f.t.host.createBranch('bad-1', { origin: { kind: 'parent', parent: 'main' }, mask: { rules: syntax, file: 'masking.yaml' } }).catch((e: unknown) => e);
    expect(isPgbranchError(err, 'MASK_RULES_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toMatch(/masking\.yaml:4:\d+ unknown-fake/);
    // Unknown column: found against the catalog, after the clone was made (and then removed).
    const unknown = 'version: 1\ntables:\n  users:\n    email: { fake: email }\n    nickname: hash\n';
    const err2 = await f.t.host.createBranch('bad-2', { origin: { kind: 'parent', parent: 'main' }, mask: { rules: unknown, file: 'masking.yaml' } }).catch((e: unknown) => e);
    expect(isPgbranchError(err2, 'MASK_RULES_INVALID'), String(err2)).toBe(true);
    expect((err2 as Error).message).toMatch(/masking\.yaml:5:\d+ unknown-column/);
    const badFile = join(f.t.home, 'bad.yaml');
    writeFileSync(badFile, 'version: 1\ntables:\n  users:\n    email: scramble\n');
    const cli = await f.t.cli('mask', 'check', 'main', '--rules', badFile);
    expect(cli.code).toBe(16);
    expect(cli.stderr).toMatch(/bad\.yaml:4:\d+ unknown-strategy/);
    expect((await f.t.host.listBranches({ withUsage: false })).map((b) => b.name)).toEqual(['main']);
    await assertHostConsistent(f.t.home, f.t.pool.poolPath);
  }, TIMEOUT);

  it('mask check passes (exit 0, JSON with --json) when every personal column has a rule', async () => {
    const r = await f.t.cli('mask', 'check', 'main', '--rules', rulesFile, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ covered: true, branch: 'main', database: expect.any(String), ruled_columns: 17 });
    expect(await f.t.host.maskCheck('main', MASK)).toMatchObject({ branch: 'main', ruledColumns: 17, databasesChecked: expect.arrayContaining(['postgres']) });
  }, TIMEOUT);

  it('a masked branch holds no original value in any table nor in any file of its volume; keys, joins and uniqueness hold', async () => {
    const { branch } = await f.t.host.createBranch('main-masked', { origin: { kind: 'parent', parent: 'main' }, mask: MASK });
    expect(branch.protected).toBe(true);
    expect(branch.masked).toMatchObject({ rulesSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const url = (await f.t.host.connectionInfo('main-masked')).url;

    const counts = await sql<{ u: number; o: number; e: number; p: number; j: number; fk: number }>(
      url,
      `SELECT (SELECT count(*)::int FROM users) AS u, (SELECT count(*)::int FROM orders) AS o,
              (SELECT count(DISTINCT email)::int FROM users) AS e, (SELECT count(DISTINCT phone)::int FROM users) AS p,
              (SELECT count(*)::int FROM orders o JOIN users u ON u.email = o.customer_email) AS j,
              (SELECT count(*)::int FROM pg_constraint WHERE contype = 'f' AND convalidated AND conrelid = 'orders'::regclass) AS fk`,
    );
    expect(counts).toEqual([{ u: USERS, o: 2 * USERS, e: USERS, p: USERS, j: 2 * USERS, fk: 3 }]);
    const texts = originals.map((b) => b.toString());
    const left = await sql<{ n: number }>(
      url,
      `SELECT (SELECT count(*)::int FROM users WHERE email = ANY($1) OR full_name = ANY($1) OR phone = ANY($1) OR iban = ANY($1) OR card_number = ANY($1)
                 OR profile->'contact'->>'email' = ANY($1) OR aliases && $1::text[])
            + (SELECT count(*)::int FROM orders WHERE customer_email = ANY($1)) AS n`,
      [texts],
    );
    expect(left).toEqual([{ n: 0 }]);

    // The files: the masked branch's volume and its branch point (taken after masking).
    const volume = readStoredState(f.t.home).branches.find((b) => b.name === 'main-masked')!.volume;
    await sql(url, 'CHECKPOINT');
    const dirs = [join(f.t.pool.poolPath, volume), join(f.t.pool.poolPath, `${volume}.bp`)].filter((d) => existsSync(d));
    // The search can find them: main's volume holds them all.
    const mainVolume = readStoredState(f.t.home).branches.find((b) => b.name === 'main')!.volume;
    expect((await grepFiles(join(f.t.pool.poolPath, mainVolume), originals)).length).toBeGreaterThan(0);
    expect(dirs.length).toBeGreaterThan(0);
    for (const dir of dirs) expect(await grepFiles(dir, originals), dir).toEqual([]);

    // A branch of the masked branch is masked too (same rules), and shares its blocks.
    const { branch: child } = await f.t.host.createBranch('pr-1', { origin: { kind: 'parent', parent: 'main-masked' } });
    expect(child.masked).toEqual(branch.masked);
    expect(child.protected).toBe(false);
  }, TIMEOUT);

  it('is deterministic: the same rules and key give the same masked data', async () => {
    await f.t.host.createBranch('main-masked-2', { origin: { kind: 'parent', parent: 'main' }, mask: MASK });
    const [a] = await sql<{ h: string }>((await f.t.host.connectionInfo('main-masked')).url, DIGEST);
    const [b] = await sql<{ h: string }>((await f.t.host.connectionInfo('main-masked-2')).url, DIGEST);
    expect(a!.h).toBe(b!.h);
  }, TIMEOUT);

  it('reset --mask re-masks after the parent changed: same URL, new rows masked, old rows masked the same', async () => {
    const before = await f.t.host.connectionInfo('main-masked');
    const [digestBefore] = await sql<{ h: string }>(before.url, DIGEST);
    const extra = userRow(USERS + 1);
    await sql(mainUrl, `INSERT INTO users (id, email, full_name, phone, created_at) VALUES ($1, $2, $3, $4, now())`, [extra.id, extra.email, extra.full_name, extra.phone]);
    try {
      const r = await f.t.cli('branch', 'reset', 'main-masked', '--mask', rulesFile);
      expect(r.code, r.stderr).toBe(0);
      const after = await f.t.host.connectionInfo('main-masked');
      expect(after.url).toBe(before.url);
      const view = await f.t.host.getBranch('main-masked');
      expect(view.protected).toBe(true);
      expect(view.masked!.maskedAt > (await f.t.host.getBranch('pr-1')).masked!.maskedAt).toBe(true);
      const [row] = await sql<{ email: string; phone: string }>(after.url, 'SELECT email, phone FROM users WHERE id = $1', [extra.id]);
      expect(row!.email).not.toBe(extra.email);
      expect(row!.phone).not.toBe(extra.phone);
      const [digestAfter] = await sql<{ h: string }>(after.url, DIGEST.replace('FROM users', `FROM users WHERE id <= ${USERS}`));
      expect(digestAfter!.h).toBe(digestBefore!.h);
    } finally {
      await sql(mainUrl, 'DELETE FROM users WHERE id = $1', [extra.id]);
    }
  }, TIMEOUT);

  it('a plain reset of a masked branch re-masks with the rules it keeps; a rebase onto unmasked data is refused', async () => {
    const [before] = await sql<{ h: string }>((await f.t.host.connectionInfo('main-masked-2')).url, DIGEST);
    const reset = await f.t.cli('branch', 'reset', 'main-masked-2', '-o', 'json');
    expect(reset.code, reset.stderr).toBe(0);
    const view = await f.t.host.getBranch('main-masked-2');
    expect(view.masked!.rulesSha256).toBe((await f.t.host.getBranch('main-masked')).masked!.rulesSha256);
    const url = (await f.t.host.connectionInfo('main-masked-2')).url;
    expect(await sql<{ h: string }>(url, DIGEST)).toEqual([before]);
    const texts = originals.map((b) => b.toString());
    expect(await sql(url, 'SELECT count(*)::int AS n FROM users WHERE email = ANY($1) OR full_name = ANY($1)', [texts])).toEqual([{ n: 0 }]);
    await f.t.host.updateBranch('main-masked-2', { protected: false });
    await expect(f.t.host.rebaseBranch('main-masked-2', {})).rejects.toSatisfy((e: unknown) => isPgbranchError(e, 'BRANCH_MASKED'));
    await f.t.host.deleteBranch('main-masked-2');
  }, TIMEOUT);

  it('a snapshot of a masked branch is masked, and so are branches made from it (they reset to it)', async () => {
    const snapshot = await f.t.host.createSnapshot('main-masked', 'masked-snap');
    const mark = (await f.t.host.getBranch('main-masked')).masked;
    expect(snapshot.masked).toEqual(mark);
    const { branch } = await f.t.host.createBranch('qa-1', { origin: { kind: 'snapshot', snapshot: 'masked-snap' } });
    expect(branch.masked).toEqual(mark);
    await sql((await f.t.host.connectionInfo('qa-1')).url, 'DELETE FROM orders WHERE id <= 10');
    expect((await f.t.host.resetBranch('qa-1')).masked).toEqual(mark);
    expect(await sql((await f.t.host.connectionInfo('qa-1')).url, 'SELECT count(*)::int AS n FROM orders')).toEqual([{ n: 2 * USERS }]);
    await f.t.host.deleteBranch('qa-1');
    await f.t.host.deleteSnapshot('masked-snap');
  }, TIMEOUT);

  it('a new email column without a rule: the check fails naming it, and no masked branch is made', async () => {
    await sql(mainUrl, `ALTER TABLE users ADD COLUMN backup_email text; UPDATE users SET backup_email = 'b' || id || '@backup.test' WHERE id % 3 = 0`);
    try {
      const r = await f.t.cli('mask', 'check', 'main', '--rules', rulesFile, '--json');
      expect(r.code).toBe(16);
      expect(JSON.parse(r.stdout)).toMatchObject({ covered: false, columns: [expect.objectContaining({ table: 'users', column: 'backup_email' })] });
      expect(r.stderr).toMatch(/MASK_UNCOVERED_COLUMNS/);
      const err = await f.t.host.createBranch('masked-3', { origin: { kind: 'parent', parent: 'main' }, mask: MASK }).catch((e: unknown) => e);
      expect(isPgbranchError(err, 'MASK_UNCOVERED_COLUMNS'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/public\.users\.backup_email/);
      expect((await f.t.host.listBranches({ withUsage: false })).map((b) => b.name)).not.toContain('masked-3');
      const state = await assertHostConsistent(f.t.home, f.t.pool.poolPath);
      expect(state.operations).toEqual([]);
    } finally {
      await sql(mainUrl, 'ALTER TABLE users DROP COLUMN backup_email');
    }
  }, TIMEOUT);
});
