import type pg from 'pg';
import type { MaskingRules } from '../types.js';

/**
 * A realistic schema with personal data, for the detector and executor tests and the benchmark:
 * users (email, names, unique phone, birth date, SSN, card, IBAN, IP, jsonb profile with a nested
 * email and phones, a text[] of alias emails, a TOASTed free-text note with emails stored
 * uncompressed), orders copying the user's email under a foreign key, a materialized view of
 * emails, and products (nothing personal). Values are deterministic per row number and random
 * enough (≥ 8 bytes, unique) that a byte search finds them — and cannot find them by chance.
 */

/** xorshift32: the same rows on every run. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function luhnCheckDigit(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = body.charCodeAt(body.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

function ibanFor(bban: string, country = 'FR'): string {
  const rearranged = `${bban}${country}00`;
  let rem = 0;
  for (const ch of rearranged) {
    const v = ch >= 'A' ? (ch.charCodeAt(0) - 55).toString() : ch;
    for (const d of v) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return `${country}${String(98 - rem).padStart(2, '0')}${bban}`;
}

const FIRST = ['Quirinus', 'Brunhilde', 'Leopoldine', 'Maximilian', 'Ottokar', 'Wilhelmina', 'Ferdinand', 'Gwendolyn', 'Bartholomew', 'Cordelia'];
const LAST = ['Featherstonehaugh', 'Throckmorton', 'Vandersloot', 'Oppenheimer', 'Abernathy', 'Kowalczyk', 'Papadopoulos', 'Wojciechowski'];

export interface UserRow {
  id: number;
  email: string;
  full_name: string;
  first_name: string;
  last_name: string;
  phone: string;
  birth_date: string;
  ssn: string;
  card_number: string;
  iban: string;
  ip: string;
  profile: string;
  aliases: string[];
  notes: string | null;
}

export function userRow(i: number): UserRow {
  const r = prng(i * 7919 + 17);
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  const first = FIRST[i % FIRST.length]!;
  const last = LAST[i % LAST.length]!;
  const tag = hex(8);
  const email = `${first.toLowerCase()}.${last.toLowerCase()}.${i}.${tag}@mailhost${i % 37}.test`;
  const cardBody = `4${String(i).padStart(9, '0')}${hex(5).replace(/[a-f]/g, '7')}`;
  return {
    id: i,
    email,
    full_name: `${first} ${last} ${tag.slice(0, 4)}`,
    first_name: `${first}${tag.slice(4, 6)}`,
    last_name: `${last}${tag.slice(6, 8)}`,
    phone: `+33 6 ${String(10000000 + i).slice(0, 2)} ${String(10000000 + i).slice(2, 5)} ${String(10000000 + i).slice(5)}`,
    birth_date: `19${50 + (i % 50)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
    ssn: `${String(100 + (i % 600)).padStart(3, '0')}-${String(10 + (i % 89))}-${String(1000 + (i % 9000))}`,
    card_number: cardBody + luhnCheckDigit(cardBody),
    iban: ibanFor(`30006000${String(i).padStart(11, '0')}${String(10 + (i % 89))}`),
    ip: `${11 + (i % 200)}.${(i >> 8) & 255}.${i & 255}.${1 + (i % 250)}`,
    profile: JSON.stringify({
      contact: { email: `contact.${i}.${hex(6)}@inbox${i % 11}.test`, phones: [`+44 20 ${7000 + (i % 2000)} ${String(1000 + (i % 9000))}`] },
      prefs: { theme: i % 2 ? 'dark' : 'light', newsletter: i % 3 === 0 },
    }),
    aliases: [`alias.${i}.${hex(6)}@old${i % 13}.test`],
    notes:
      i % 100 === 0
        ? `Customer note ${i}. Reached at ${`note.${i}.${hex(8)}@support${i % 7}.test`}. ` + 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(60)
        : null,
  };
}

export const FIXTURE_SCHEMA = `
CREATE TABLE users (
  id bigint PRIMARY KEY,
  email text NOT NULL UNIQUE,
  full_name text,
  first_name varchar(40),
  last_name varchar(40),
  phone varchar(32) UNIQUE,
  birth_date date,
  ssn text,
  card_number text,
  iban text,
  ip inet,
  profile jsonb,
  aliases text[],
  notes text,
  salary numeric(10,2),
  created_at timestamptz NOT NULL DEFAULT '2024-01-01'
);
ALTER TABLE users ALTER COLUMN notes SET STORAGE EXTERNAL;
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));
CREATE TABLE orders (
  id bigint PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users(id),
  customer_email text NOT NULL REFERENCES users(email),
  product_id int REFERENCES products(id),
  amount numeric(10,2),
  placed_at timestamptz NOT NULL
);
CREATE INDEX orders_email ON orders (customer_email);
CREATE TABLE contacts (id int PRIMARY KEY, user_id bigint REFERENCES users(id), email text NOT NULL, note text);
`;

/** Reads contacts.email: PostgreSQL then refuses ALTER … TYPE on it, so contacts takes the UPDATE path. */
export const FIXTURE_MATVIEW = `CREATE MATERIALIZED VIEW contact_emails AS SELECT id, email FROM contacts WHERE id % 2 = 0`;

/** Creates the schema and `users` rows (orders: 2 per user), in batches through bind parameters. */
export async function loadPiiFixture(client: pg.Client, users: number): Promise<void> {
  await client.query(FIXTURE_SCHEMA);
  await client.query(`INSERT INTO products SELECT g, 'Product ' || g, g * 1.5 FROM generate_series(1, 50) g`);
  const batch = 10_000;
  for (let start = 1; start <= users; start += batch) {
    const rows = Array.from({ length: Math.min(batch, users - start + 1) }, (_, k) => userRow(start + k));
    const col = <K extends keyof UserRow>(k: K): UserRow[K][] => rows.map((row) => row[k]);
    await client.query(
      `INSERT INTO users (id, email, full_name, first_name, last_name, phone, birth_date, ssn, card_number, iban, ip, profile, aliases, notes, salary)
       SELECT u.id, u.email, u.full_name, u.first_name, u.last_name, u.phone, u.birth_date::date, u.ssn, u.card_number, u.iban, u.ip::inet, u.profile::jsonb,
              ARRAY[u.alias], u.notes, (u.id % 1000) * 10.5
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
           AS u(id, email, full_name, first_name, last_name, phone, birth_date, ssn, card_number, iban, ip, profile, alias, notes)`,
      [
        col('id'),
        col('email'),
        col('full_name'),
        col('first_name'),
        col('last_name'),
        col('phone'),
        col('birth_date'),
        col('ssn'),
        col('card_number'),
        col('iban'),
        col('ip'),
        col('profile'),
        rows.map((row) => row.aliases[0]!),
        col('notes'),
      ],
    );
  }
  await client.query(
    `INSERT INTO orders SELECT u.id * 2 + k, u.id, u.email, 1 + (u.id % 50), (u.id % 500) + k, '2024-02-01'::timestamptz + make_interval(hours => u.id::int % 5000)
       FROM users u, generate_series(0, 1) k`,
  );
  await client.query(
    `INSERT INTO contacts SELECT u.id, u.id, 'contact.' || u.email, 'call ' || u.phone FROM users u WHERE u.id % 50 = 0`,
  );
  await client.query(FIXTURE_MATVIEW);
  await client.query('ANALYZE');
}

/** Rules covering every personal column of the fixture (as the rules file would produce them). */
export function fixtureRules(): MaskingRules {
  return {
    tables: [
      {
        schema: 'public',
        table: 'users',
        columns: [
          { column: 'email', kind: 'strategy', strategy: { kind: 'fake', fake: 'email' } },
          { column: 'full_name', kind: 'strategy', strategy: { kind: 'fake', fake: 'name' } },
          { column: 'first_name', kind: 'strategy', strategy: { kind: 'fake', fake: 'first_name' } },
          { column: 'last_name', kind: 'strategy', strategy: { kind: 'fake', fake: 'last_name' } },
          { column: 'phone', kind: 'strategy', strategy: { kind: 'hash', length: 24 } },
          { column: 'birth_date', kind: 'strategy', strategy: { kind: 'noise-date', seconds: 30 * 86400 } },
          { column: 'ssn', kind: 'strategy', strategy: { kind: 'null' } },
          { column: 'card_number', kind: 'strategy', strategy: { kind: 'partial', keepFirst: 0, keepLast: 4, maskChar: '*' } },
          { column: 'iban', kind: 'strategy', strategy: { kind: 'fake', fake: 'iban' } },
          { column: 'ip', kind: 'strategy', strategy: { kind: 'fake', fake: 'ip' } },
          {
            column: 'profile',
            kind: 'json',
            paths: [
              { path: ['contact', 'email'], strategy: { kind: 'fake', fake: 'email' } },
              { path: ['contact', 'phones', '*'], strategy: { kind: 'fake', fake: 'phone' } },
            ],
          },
          { column: 'aliases', kind: 'strategy', strategy: { kind: 'fake', fake: 'email' } },
          { column: 'notes', kind: 'strategy', strategy: { kind: 'fake', fake: 'text' } },
          { column: 'salary', kind: 'strategy', strategy: { kind: 'noise-number', percent: 10 } },
        ],
      },
      {
        schema: 'public',
        table: 'orders',
        columns: [{ column: 'customer_email', kind: 'strategy', strategy: { kind: 'fake', fake: 'email' } }],
      },
      {
        schema: 'public',
        table: 'contacts',
        columns: [
          { column: 'email', kind: 'strategy', strategy: { kind: 'hash', length: 32 } },
          { column: 'note', kind: 'strategy', strategy: { kind: 'sql', expression: `'call ' || left(md5(note), 8)` } },
        ],
      },
    ],
  };
}
