import { createHash } from 'node:crypto';
import { PgbranchError } from '../../errors.js';

/**
 * The masking functions, created in the session's own temporary schema (pg_temp): they vanish
 * with the session and are invisible to every other session. They hold no secret: the keyed
 * hash reads its key material from two session-local settings set through a bind parameter, so
 * the key is never in a catalog, a file, the WAL, a log line or a statement text.
 *
 * Every output derives from HMAC-SHA256(key, original::text) alone (never from the table or the
 * column), so equal inputs give equal outputs in every table, every run and every copy.
 */

export const IPAD_SETTING = 'pgbranch.mask_ipad';
export const OPAD_SETTING = 'pgbranch.mask_opad';

/** HMAC's inner and outer padded keys (RFC 2104), hex: sha256(opad ‖ sha256(ipad ‖ m)) is HMAC. */
export function hmacPads(key: string | Uint8Array): { ipad: string; opad: string } {
  let k = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (k.length < 16) {
    throw new PgbranchError('INVALID_ARGUMENT', 'the masking key must be at least 16 bytes (use a random host secret)', {
      cause: new Error('short masking key'),
    });
  }
  if (k.length > 64) k = createHash('sha256').update(k).digest();
  const block = Buffer.alloc(64);
  k.copy(block);
  const ipad = Buffer.from(block.map((b) => b ^ 0x36));
  const opad = Buffer.from(block.map((b) => b ^ 0x5c));
  return { ipad: ipad.toString('hex'), opad: opad.toString('hex') };
}

const FIRST_NAMES = [
  'Aaron', 'Abigail', 'Adam', 'Adele', 'Adrian', 'Agnes', 'Alan', 'Alice', 'Amara', 'Amelie', 'Andre', 'Anna', 'Arthur', 'Aurora',
  'Ben', 'Bianca', 'Boris', 'Brigitte', 'Bruno', 'Camille', 'Carla', 'Carlos', 'Chloe', 'Clara', 'Colin', 'Dana', 'Daniel', 'Diego',
  'Dora', 'Elena', 'Elias', 'Elif', 'Emil', 'Emma', 'Erik', 'Esther', 'Eva', 'Fabian', 'Farah', 'Felix', 'Fiona', 'Frida', 'Gabriel',
  'Greta', 'Hana', 'Hannah', 'Hugo', 'Ida', 'Ines', 'Ivan', 'Jakob', 'Jana', 'Jonas', 'Julia', 'Kai', 'Karim', 'Kira', 'Lara', 'Leo',
  'Lena', 'Liam', 'Lina', 'Luca', 'Lucia', 'Malik', 'Maria', 'Marta', 'Mateo', 'Maya', 'Milan', 'Mira', 'Nadia', 'Nils', 'Nina',
  'Noah', 'Nora', 'Olga', 'Omar', 'Oscar', 'Paula', 'Pedro', 'Petra', 'Quentin', 'Rafael', 'Rosa', 'Ruben', 'Sami', 'Sara', 'Selma',
  'Simon', 'Sofia', 'Stella', 'Tarek', 'Tessa', 'Theo', 'Timo', 'Una', 'Valentin', 'Vera', 'Viktor', 'Wanda', 'Yara', 'Yusuf', 'Zoe',
];
const LAST_NAMES = [
  'Abbott', 'Alvarez', 'Andersen', 'Baker', 'Bauer', 'Becker', 'Bernard', 'Blanc', 'Brandt', 'Carter', 'Castro', 'Costa', 'Dahl',
  'Dubois', 'Eriksen', 'Evans', 'Fischer', 'Fontaine', 'Garcia', 'Gomez', 'Graham', 'Hansen', 'Hartmann', 'Hoffmann', 'Horvat',
  'Ivanova', 'Jansen', 'Jensen', 'Kaya', 'Keller', 'Klein', 'Kowalski', 'Kraus', 'Lambert', 'Larsen', 'Laurent', 'Lehmann', 'Lopez',
  'Marino', 'Martin', 'Mendes', 'Meyer', 'Moreau', 'Morris', 'Nagy', 'Navarro', 'Nielsen', 'Novak', 'Olsen', 'Ortega', 'Palmer',
  'Peters', 'Petit', 'Popescu', 'Quinn', 'Ramos', 'Reyes', 'Richter', 'Rossi', 'Roux', 'Ruiz', 'Santos', 'Schmidt', 'Schulz', 'Silva',
  'Sorensen', 'Stewart', 'Svoboda', 'Torres', 'Turner', 'Vargas', 'Vidal', 'Vogel', 'Wagner', 'Walker', 'Weber', 'Wolf', 'Yilmaz',
  'Young', 'Zimmermann',
];
const STREETS = [
  'Maple', 'Oak', 'Cedar', 'Birch', 'Willow', 'Elm', 'Lake', 'Hill', 'River', 'Garden', 'Mill', 'Church', 'Station', 'Market',
  'Park', 'Meadow', 'Harbor', 'Orchard', 'Forest', 'Spring', 'Sunset', 'Valley', 'Bridge', 'Castle', 'North', 'South',
];
const STREET_TYPES = ['Street', 'Road', 'Avenue', 'Lane', 'Way', 'Place', 'Drive', 'Court'];
const CITIES = [
  'Springfield', 'Riverton', 'Lakeside', 'Fairview', 'Greenville', 'Kingsport', 'Bridgewater', 'Ashford', 'Brookfield', 'Clearwater',
  'Dunmore', 'Eastbrook', 'Westfield', 'Northgate', 'Southport', 'Oakridge', 'Millbrook', 'Harborview', 'Stonehaven', 'Redcliff',
  'Silverton', 'Maplewood', 'Elmstead', 'Pinecrest', 'Rosedale', 'Summerville', 'Winterberg', 'Falkenau', 'Belmont', 'Montclair',
];
const COMPANY_SUFFIXES = ['Ltd', 'GmbH', 'SA', 'Inc', 'Group', 'Holdings', '& Co', 'Partners', 'Labs', 'Systems'];
const WORDS = [
  'lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit', 'sed', 'do', 'eiusmod', 'tempor', 'incididunt',
  'ut', 'labore', 'et', 'dolore', 'magna', 'aliqua', 'enim', 'ad', 'minim', 'veniam', 'quis', 'nostrud', 'exercitation', 'ullamco',
  'laboris', 'nisi', 'aliquip', 'ex', 'ea', 'commodo', 'consequat', 'duis', 'aute', 'irure', 'in', 'reprehenderit', 'voluptate',
  'velit', 'esse', 'cillum', 'fugiat', 'nulla', 'pariatur', 'excepteur', 'sint', 'occaecat', 'cupidatat', 'non', 'proident', 'sunt',
  'culpa', 'qui', 'officia', 'deserunt', 'mollit', 'anim', 'id', 'est', 'laborum',
];

/** Word lists the fakes draw from (exported so tests can tell a fake from an original). */
export const FAKE_WORD_LISTS = { FIRST_NAMES, LAST_NAMES, STREETS, CITIES, WORDS } as const;

const arrayLiteral = (words: readonly string[]): string => `ARRAY[${words.map((w) => `'${w.replace(/'/g, "''")}'`).join(',')}]::text[]`;

/**
 * The statements creating the functions. Naming: pg_temp.pgb_*. Small helpers are plain SQL so the
 * planner inlines them; the fakes are PL/pgSQL so the hash is computed once per value.
 */
export function maskingFunctionsSql(): string[] {
  const fn = (signature: string, returns: string, language: 'sql' | 'plpgsql', body: string, volatility = 'STABLE', strict = true): string =>
    `CREATE FUNCTION pg_temp.${signature} RETURNS ${returns} LANGUAGE ${language} ${volatility}${strict ? ' STRICT' : ''} PARALLEL RESTRICTED AS $pgb$${body}$pgb$`;
  // Not STRICT: the planner inlines a SQL function only if it is not strict or its body is (and a
  // CASE is not); every body here yields NULL for a NULL input anyway.
  const plain = (signature: string, returns: string, expression: string, volatility = 'STABLE'): string =>
    fn(signature, returns, 'sql', ` SELECT ${expression} `, volatility, false);
  const fake = (name: string, expression: string): string =>
    fn(`pgb_fake_${name}(v text)`, 'text', 'plpgsql', ` DECLARE h bytea := pg_temp.pgb_mac(v); BEGIN RETURN ${expression}; END `);
  const pick = (list: readonly string[], at: number): string => `pg_temp.pgb_pick(${arrayLiteral(list)}, h, ${at})`;
  return [
    plain(
      'pgb_mac(v text)',
      'bytea',
      `sha256(decode(current_setting('${OPAD_SETTING}'), 'hex') || sha256(decode(current_setting('${IPAD_SETTING}'), 'hex') || convert_to(v, 'UTF8')))`,
    ),
    // 63 bits of h from byte `at` (a non-negative bigint).
    plain('pgb_u63(h bytea, at int)', 'bigint', `('x' || encode(substring(h from at + 1 for 8), 'hex'))::bit(64)::bigint & 9223372036854775807`, 'IMMUTABLE'),
    plain('pgb_pick(list text[], h bytea, at int)', 'text', `list[1 + (get_byte(h, at) * 256 + get_byte(h, at + 1)) % cardinality(list)]`, 'IMMUTABLE'),
    plain('pgb_hash_hex(v text, len int)', 'text', `left(encode(pg_temp.pgb_mac(v), 'hex'), len)`),
    plain('pgb_hash_int(v text, modulus bigint)', 'bigint', `pg_temp.pgb_u63(pg_temp.pgb_mac(v), 0) % modulus`),
    plain('pgb_hash_uuid(v text)', 'uuid', `encode(substring(pg_temp.pgb_mac(v) from 1 for 16), 'hex')::uuid`),
    plain(
      'pgb_partial(v text, keep_first int, keep_last int, c text)',
      'text',
      `CASE WHEN length(v) <= keep_first + keep_last THEN repeat(c, length(v))
            ELSE left(v, keep_first) || repeat(c, length(v) - keep_first - keep_last) || right(v, keep_last) END`,
      'IMMUTABLE',
    ),
    // Offset in [-range, +range] (seconds).
    plain('pgb_offset(v text, range bigint)', 'bigint', `pg_temp.pgb_u63(pg_temp.pgb_mac(v), 8) % (2 * range + 1) - range`),
    // Factor in [1 - percent/100, 1 + percent/100], in millionths.
    plain('pgb_factor(v text, percent numeric)', 'numeric', `1 + ((pg_temp.pgb_u63(pg_temp.pgb_mac(v), 16) % 2000001) - 1000000) / 1000000.0 * percent / 100`),
    fake('first_name', pick(FIRST_NAMES, 0)),
    fake('last_name', pick(LAST_NAMES, 2)),
    fake('name', `${pick(FIRST_NAMES, 0)} || ' ' || ${pick(LAST_NAMES, 2)}`),
    // 48 bits of the hash besides the names: unique in practice (collisions are still detected).
    fake(
      'email',
      `lower(${pick(FIRST_NAMES, 0)}) || '.' || lower(${pick(LAST_NAMES, 2)}) || '.' || encode(substring(h from 5 for 6), 'hex') || '@example.' || (ARRAY['com','net','org'])[1 + get_byte(h, 11) % 3]`,
    ),
    fake('username', `lower(${pick(FIRST_NAMES, 0)}) || '_' || encode(substring(h from 5 for 6), 'hex')`),
    // +99 is no country's calling code: never a real number. 13 digits ≈ 43 bits.
    fake('phone', `'+99' || lpad((pg_temp.pgb_u63(h, 12) % 10000000000000)::text, 13, '0')`),
    fake('address', `(1 + pg_temp.pgb_u63(h, 4) % 999)::text || ' ' || ${pick(STREETS, 12)} || ' ' || ${pick(STREET_TYPES, 14)}`),
    fake('city', pick(CITIES, 16)),
    fake('company', `${pick(LAST_NAMES, 2)} || ' ' || ${pick(COMPANY_SUFFIXES, 18)}`),
    fake('url', `'https://example.com/' || encode(substring(h from 5 for 8), 'hex')`),
    // 10.0.0.0/8: private, 24 bits of the hash.
    fake('ip', `'10.' || get_byte(h, 20) || '.' || get_byte(h, 21) || '.' || get_byte(h, 22)`),
    // German layout with a bank code starting with 0 (no real bank's): valid checksum, 17 hash digits.
    fn(
      'pgb_fake_iban(v text)',
      'text',
      'plpgsql',
      ` DECLARE h bytea := pg_temp.pgb_mac(v); bban text := '0' || lpad((pg_temp.pgb_u63(h, 0) % 100000000000000000)::text, 17, '0');
        BEGIN RETURN 'DE' || lpad((98 - ((bban || '131400')::numeric % 97))::int::text, 2, '0') || bban; END `,
    ),
    // Words drawn from the hash, about as long as the original (capped: 4000 words).
    fn(
      'pgb_fake_text(v text)',
      'text',
      'plpgsql',
      ` DECLARE h bytea := pg_temp.pgb_mac(v); words text[] := ${arrayLiteral(WORDS)}; n int := least(greatest(length(v) / 6, 1), 4000);
        BEGIN
          IF v = '' THEN RETURN v; END IF;
          RETURN left(initcap(left(words[1 + get_byte(h, 0) % cardinality(words)], 1)) || substr(
            (SELECT string_agg(words[1 + (get_byte(h, i % 32) * 7 + get_byte(h, (i / 32 + 5) % 32) + i) % cardinality(words)], ' ')
               FROM generate_series(0, n - 1) AS i), 2), greatest(length(v), 1));
        END `,
    ),
  ];
}

export const FAKE_FUNCTION = (fake: string): string => `pg_temp.pgb_fake_${fake}`;

/** Re-creating the functions drops old ones first (a second maskDatabase on one session). */
export const DROP_FUNCTIONS_SQL = `DO $pgb$ DECLARE f regprocedure; BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = pg_my_temp_schema() AND p.proname LIKE 'pgb\\_%' LOOP
    EXECUTE 'DROP FUNCTION ' || f;
  END LOOP; END $pgb$`;
