import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHost, POOL_KINDS, testPoolSkipReason, type PoolKind, type TestHost } from '../test-support/test-host.js';

/**
 * Acceptance: writes, DDL and DROP TABLE on a branch are invisible to its parent and siblings,
 * and the other way round. Tree: main → a → a1, main → b. Every check goes through the branch's
 * own URL over TCP, with three different clients (node-postgres, postgres.js, psql), and compares
 * each branch's whole observable state with a model of what that branch alone has done.
 */

const execFileAsync = promisify(execFile);

type BranchName = 'main' | 'a' | 'b' | 'a1';
type Client = 'pg' | 'postgres.js' | 'psql';

/** Distinct per branch, so every effect can be traced back to the branch that made it. */
const BRANCHES: Readonly<Record<BranchName, { k: number; extension: string; writer: Client; reader: Client }>> = {
  main: { k: 1, extension: 'pg_trgm', writer: 'pg', reader: 'psql' },
  a: { k: 2, extension: 'hstore', writer: 'postgres.js', reader: 'pg' },
  b: { k: 3, extension: 'citext', writer: 'psql', reader: 'postgres.js' },
  a1: { k: 4, extension: 'ltree', writer: 'postgres.js', reader: 'psql' },
};
const NAMES = Object.keys(BRANCHES) as BranchName[];
/** Owners that the per-branch writes set; looked up through accounts_owner_idx. */
const MARKERS = ['a-pre', ...NAMES, ...NAMES.map((n) => `upd-${n}`)];

// ---- clients ------------------------------------------------------------------------------

/** Client tools must not pick up a PGHOST/PGPASSWORD meant for another server. */
function toolEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return env;
}

async function runStatements(client: Client, url: string, statements: readonly string[]): Promise<void> {
  switch (client) {
    case 'pg': {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query('BEGIN');
        for (const s of statements) await c.query(s);
        await c.query('COMMIT');
      } finally {
        await c.end();
      }
      return;
    }
    case 'postgres.js': {
      const sql = postgres(url, { max: 1, onnotice: () => undefined });
      try {
        await sql.begin(async (tx) => {
          for (const s of statements) await tx.unsafe(s);
        });
      } finally {
        await sql.end();
      }
      return;
    }
    case 'psql':
      // One -c string is one simple-protocol message: one implicit transaction.
      await execFileAsync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', statements.join(';\n')], { env: toolEnv() });
      return;
  }
}

/** One row, one text column named v; `setup` (may be empty) runs first in the same session. */
async function queryText(client: Client, url: string, setup: string, text: string): Promise<string> {
  switch (client) {
    case 'pg': {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        if (setup) await c.query(setup);
        const { rows } = await c.query<{ v: string }>(text);
        return rows[0]!.v;
      } finally {
        await c.end();
      }
    }
    case 'postgres.js': {
      const sql = postgres(url, { max: 1, onnotice: () => undefined });
      try {
        if (setup) await sql.unsafe(setup);
        const rows = await sql.unsafe<{ v: string }[]>(text);
        return rows[0]!.v;
      } finally {
        await sql.end();
      }
    }
    case 'psql': {
      const commands = [...(setup ? ['-c', setup] : []), '-c', text];
      const { stdout } = await execFileAsync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, ...commands], { env: toolEnv() });
      return stdout.trim();
    }
  }
}

// ---- what a branch looks like -------------------------------------------------------------

interface Snapshot {
  accounts: Array<Record<string, string | number>>;
  columns: string[];
  byOwnerIndex: number[];
  rich: number[];
  tables: Record<string, number>;
  indexes: string[];
  extensions: string[];
  ticketSeq: number;
}

const quote = (s: string): string => `'${s.replaceAll("'", "''")}'`;

const SNAPSHOT_SQL = `
SELECT json_build_object(
  'accounts', (SELECT coalesce(json_agg(to_jsonb(a) ORDER BY a.id), '[]') FROM accounts a),
  'columns', (SELECT json_agg(attname ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = 'accounts'::regclass AND attnum > 0 AND NOT attisdropped),
  'byOwnerIndex', (SELECT coalesce(json_agg(id ORDER BY id), '[]') FROM accounts
                   WHERE owner = ANY (ARRAY[${MARKERS.map(quote).join(', ')}])),
  'rich', (SELECT coalesce(json_agg(id ORDER BY id), '[]') FROM rich),
  'tables', (SELECT json_object_agg(relname,
               (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', relname), false, true, '')))[1]::text::int)
             FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'),
  'indexes', (SELECT json_agg(relname ORDER BY relname) FROM pg_class
              WHERE relnamespace = 'public'::regnamespace AND relkind = 'i'),
  'extensions', (SELECT json_agg(extname ORDER BY extname) FROM pg_extension),
  'ticketSeq', (SELECT last_value FROM ticket_seq)
)::text AS v`;

/** Seq scans off: the marker lookup and the ordered scans go through the indexes, which must be right too. */
async function snapshot(client: Client, url: string): Promise<Snapshot> {
  return JSON.parse(await queryText(client, url, 'SET enable_seqscan = off', SNAPSHOT_SQL)) as Snapshot;
}

/** What one branch should hold, given only what was done to it and its ancestors before it branched. */
class Model {
  columns = ['id', 'owner', 'balance'];
  accounts = new Map<number, Record<string, string | number>>();
  tables = new Map<string, number>();
  indexes = new Set(['accounts_pkey', 'accounts_owner_idx']);
  extensions = new Set(['plpgsql']);
  ticketSeq = 3;

  static seed(): Model {
    const m = new Model();
    for (let id = 1; id <= 20; id++) m.accounts.set(id, { id, owner: `seed-${id}`, balance: id * 10 });
    m.tables.set('accounts', 20);
    for (const name of NAMES) m.tables.set(`dropme_${name}`, BRANCHES[name].k * 10);
    return m;
  }

  clone(): Model {
    const m = new Model();
    m.columns = [...this.columns];
    for (const [id, row] of this.accounts) m.accounts.set(id, { ...row });
    m.tables = new Map(this.tables);
    m.indexes = new Set(this.indexes);
    m.extensions = new Set(this.extensions);
    m.ticketSeq = this.ticketSeq;
    return m;
  }

  expected(): Snapshot {
    const rows = [...this.accounts.values()].sort((x, y) => Number(x.id) - Number(y.id));
    return {
      accounts: rows,
      columns: this.columns,
      byOwnerIndex: rows.filter((r) => MARKERS.includes(String(r.owner))).map((r) => Number(r.id)),
      rich: rows.filter((r) => Number(r.balance) >= 100).map((r) => Number(r.id)),
      tables: Object.fromEntries(this.tables),
      indexes: [...this.indexes].sort(),
      extensions: [...this.extensions].sort(),
      ticketSeq: this.ticketSeq,
    };
  }
}

const SEED_SQL = [
  'CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)',
  "INSERT INTO accounts SELECT g, 'seed-' || g, g * 10 FROM generate_series(1, 20) g",
  'CREATE INDEX accounts_owner_idx ON accounts (owner)',
  'CREATE SEQUENCE ticket_seq',
  "SELECT nextval('ticket_seq') FROM generate_series(1, 3)",
  'CREATE VIEW rich AS SELECT id FROM accounts WHERE balance >= 100',
  ...NAMES.flatMap((n) => [`CREATE TABLE dropme_${n} (n int)`, `INSERT INTO dropme_${n} SELECT generate_series(1, ${BRANCHES[n].k * 10})`]),
];

/** Done on `a` after b was made and before a1 is: a1 must have it, main and b must not. */
const A_PRE_SQL = [
  "INSERT INTO accounts VALUES (100, 'a-pre', 1000)",
  'UPDATE accounts SET balance = 5 WHERE id = 20',
  'CREATE TABLE a_pre (v text)',
  "INSERT INTO a_pre VALUES ('a-pre'), ('a-pre')",
  'CREATE INDEX accounts_balance_idx ON accounts (balance)',
];
function applyAPre(m: Model): void {
  m.accounts.set(100, { id: 100, owner: 'a-pre', balance: 1000 });
  m.accounts.get(20)!.balance = 5;
  m.tables.set('accounts', m.accounts.size);
  m.tables.set('a_pre', 2);
  m.indexes.add('accounts_balance_idx');
}

/** INSERT/UPDATE/DELETE, CREATE TABLE, ALTER TABLE ADD COLUMN, DROP TABLE, CREATE EXTENSION, nextval. */
function writesOf(name: BranchName): string[] {
  const { k, extension } = BRANCHES[name];
  return [
    `INSERT INTO accounts VALUES (${200 + k}, '${name}', ${100 * k})`,
    `UPDATE accounts SET owner = 'upd-${name}', balance = balance + 1000 WHERE id = ${k}`,
    `DELETE FROM accounts WHERE id = ${10 + k}`,
    `CREATE TABLE only_${name} (v text)`,
    `INSERT INTO only_${name} VALUES ('${name}')`,
    `ALTER TABLE accounts ADD COLUMN col_${name} int NOT NULL DEFAULT ${k}`,
    `DROP TABLE dropme_${name}`,
    `CREATE EXTENSION ${extension}`,
    `SELECT nextval('ticket_seq') FROM generate_series(1, ${5 * k})`,
  ];
}
function applyWrites(m: Model, name: BranchName): void {
  const { k, extension } = BRANCHES[name];
  m.accounts.set(200 + k, { id: 200 + k, owner: name, balance: 100 * k });
  const updated = m.accounts.get(k)!;
  updated.owner = `upd-${name}`;
  updated.balance = Number(updated.balance) + 1000;
  m.accounts.delete(10 + k);
  m.tables.set(`only_${name}`, 1);
  m.columns.push(`col_${name}`);
  for (const row of m.accounts.values()) row[`col_${name}`] = k;
  m.tables.delete(`dropme_${name}`);
  m.tables.set('accounts', m.accounts.size);
  m.extensions.add(extension);
  m.ticketSeq += 5 * k;
}

// ---- the suite ----------------------------------------------------------------------------

function isolationSuite(kind: PoolKind, skip: string | undefined): void {
  describe.skipIf(skip !== undefined)(`branch isolation (${kind} pool)`, () => {
    let t: TestHost;
    const urls = {} as Record<BranchName, string>;
    const models = {} as Record<BranchName, Model>;

    const url = async (name: string): Promise<string> => {
      const r = await t.cli('branch', 'url', name);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim();
    };
    const create = async (name: string, from: string): Promise<void> => {
      const r = await t.cli('branch', 'create', name, '--from', from, '-o', 'json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ name, parent: from, state: 'running', created: true });
    };
    const expectAllMatchModels = async (): Promise<void> => {
      for (const name of NAMES) {
        const actual = await snapshot(BRANCHES[name].reader, urls[name]);
        expect(actual, `state of branch ${name} (read with ${BRANCHES[name].reader})`).toEqual(models[name].expected());
      }
    };

    beforeAll(async () => {
      t = await createTestHost(kind);
      urls.main = await url('main');
      await runStatements('pg', urls.main, SEED_SQL);
      await create('a', 'main');
      await create('b', 'main');
      urls.a = await url('a');
      urls.b = await url('b');
      await runStatements('postgres.js', urls.a, A_PRE_SQL);
      await create('a1', 'a');
      urls.a1 = await url('a1');
    });
    afterAll(async () => t?.cleanup());

    it('every branch has its own URL: four clusters, four ports', () => {
      const ports = NAMES.map((n) => new URL(urls[n]).port);
      expect(new Set(ports).size).toBe(4);
    });

    it("each branch starts as its parent's state at its branch point, and the parent's later writes stay out", async () => {
      const seed = Model.seed();
      const aState = seed.clone();
      applyAPre(aState);
      // a's writes after b was made are not in b (sibling) nor main (parent); a1 was made after them.
      const start: Record<BranchName, Model> = { main: seed, b: seed.clone(), a: aState, a1: aState.clone() };
      for (const name of NAMES) {
        const actual = await snapshot(BRANCHES[name].reader, urls[name]);
        // Crash recovery may move a sequence forward (PostgreSQL WAL-logs sequences ahead), never back.
        expect(actual.ticketSeq, `ticket_seq in ${name}`).toBeGreaterThanOrEqual(3);
        start[name].ticketSeq = actual.ticketSeq;
        expect(actual, `state of branch ${name} (read with ${BRANCHES[name].reader})`).toEqual(start[name].expected());
        models[name] = start[name];
      }
      expect(models.main.ticketSeq).toBe(3);
    });

    it.each(NAMES)('writes, DDL, DROP TABLE, CREATE EXTENSION and nextval on %s are seen there only', async (name) => {
      expect(models[name], 'the starting-state test ran first').toBeDefined();
      await runStatements(BRANCHES[name].writer, urls[name], writesOf(name));
      applyWrites(models[name], name);
      await expectAllMatchModels();
    });

    it('a dropped table still holds its data in every branch that did not drop it (psql)', async () => {
      const tables = NAMES.map((n) => `dropme_${n}`);
      const text = `SELECT json_object_agg(t, CASE WHEN to_regclass(t) IS NULL THEN NULL
          ELSE (xpath('/row/s/text()', query_to_xml(format('SELECT sum(n) AS s FROM %I', t), false, true, '')))[1]::text::int END)::text AS v
        FROM unnest(ARRAY[${tables.map(quote).join(', ')}]) AS t`;
      for (const name of NAMES) {
        const sums = JSON.parse(await queryText('psql', urls[name], '', text)) as Record<string, number | null>;
        const expected = Object.fromEntries(
          NAMES.map((other) => {
            const rows = BRANCHES[other].k * 10;
            return [`dropme_${other}`, other === name ? null : (rows * (rows + 1)) / 2];
          }),
        );
        expect(sums, `dropme_* tables in ${name}`).toEqual(expected);
      }
    });

    it('a new child of a1 holds all of a1 and its ancestry, and writing to it changes nothing else', async () => {
      await create('a1x', 'a1');
      const childUrl = await url('a1x');
      const childModel = models.a1.clone();
      expect(await snapshot('pg', childUrl)).toMatchObject({ ...childModel.expected(), ticketSeq: expect.any(Number) });
      await runStatements('pg', childUrl, ["UPDATE accounts SET balance = -1 WHERE id = 100", 'DROP TABLE a_pre', "SELECT nextval('ticket_seq')"]);
      const child = await snapshot('postgres.js', childUrl);
      expect(child.accounts.find((r) => r.id === 100)?.balance).toBe(-1);
      expect(child.tables).not.toHaveProperty('a_pre');
      await expectAllMatchModels();
    });
  });
}

for (const kind of POOL_KINDS) {
  const skip = await testPoolSkipReason(kind);
  if (skip) console.warn(`isolation tests on the ${kind} pool skipped: ${skip}`);
  isolationSuite(kind, skip);
}
