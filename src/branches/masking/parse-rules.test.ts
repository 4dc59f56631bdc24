import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPgbranchError, type PgbranchError } from '../../errors.js';
import type { CatalogColumn, CatalogTable, MaskCatalog, PersonalColumn } from '../../postgres/index.js';
import { checkMaskingRules, parseJsonPath, parseMaskingRules, uncoveredColumnsError, validateMaskingRules, type RulesProblem } from './index.js';

const FILE = 'masking.yaml';

const col = (name: string, type: string, cls: CatalogColumn['class'], extra: Partial<CatalogColumn> = {}): CatalogColumn => ({
  name,
  type,
  class: cls,
  isArray: false,
  notNull: false,
  generated: false,
  identityAlways: false,
  ...extra,
});
const table = (schema: string, name: string, columns: CatalogColumn[], extra: Partial<CatalogTable> = {}): CatalogTable => ({
  schema,
  name,
  kind: 'table',
  columns,
  uniqueKeys: [],
  foreignKeys: [],
  ...extra,
});

const CATALOG: MaskCatalog = {
  database: 'app',
  tables: [
    table(
      'public',
      'users',
      [
        col('id', 'bigint', 'integer', { notNull: true }),
        col('email', 'text', 'string', { notNull: true }),
        col('name', 'character varying(80)', 'string', { maxLength: 80 }),
        col('phone', 'character varying(20)', 'string', { maxLength: 20 }),
        col('birth', 'date', 'date'),
        col('profile', 'jsonb', 'json'),
        col('tags', 'text[]', 'string', { isArray: true }),
        col('slug', 'text', 'string', { generated: true }),
      ],
      { uniqueKeys: [['id'], ['email'], ['phone']] },
    ),
    table('public', 'orders', [col('id', 'bigint', 'integer'), col('user_email', 'text', 'string'), col('total', 'numeric(10,2)', 'numeric')], {
      foreignKeys: [{ name: 'orders_user_email_fkey', columns: ['user_email'], refSchema: 'public', refTable: 'users', refColumns: ['email'] }],
    }),
    table('billing', 'invoices', [col('iban', 'text', 'string'), col('amount', 'numeric', 'numeric')]),
    table('public', 'users_emails', [col('email', 'text', 'string')], { kind: 'matview' }),
    table('public', 'events_2024', [col('ip', 'inet', 'inet')], { kind: 'partition', partitionOf: { schema: 'public', name: 'events' } }),
  ],
};

function problemsOf(text: string, catalog?: MaskCatalog): string[] {
  const { rules, problems } = checkMaskingRules(text, { file: FILE, ...(catalog ? { catalog } : {}) });
  if (problems.length === 0) expect(rules).toBeDefined();
  return problems.map((p: RulesProblem) => `${p.line}:${p.column} ${p.code}`);
}

describe('masking rules file', () => {
  it('parses the reference example of docs/masking.md', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../../docs/masking.md'), 'utf8');
    const example = /## Example\n\n```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const rules = parseMaskingRules(example, { file: 'docs/masking.md' });
    expect(rules.tables.map((t) => `${t.schema}.${t.table}`)).toEqual(['public.users', 'public.orders', 'billing.invoices']);
    const users = rules.tables[0]!;
    const strategy = (name: string) => {
      const r = users.columns.find((c) => c.column === name)!;
      return r.kind === 'strategy' ? r.strategy : r.paths;
    };
    expect(strategy('email')).toEqual({ kind: 'fake', fake: 'email' });
    expect(strategy('phone')).toEqual({ kind: 'hash', length: 24 });
    expect(strategy('ssn')).toEqual({ kind: 'null' });
    expect(strategy('card_number')).toEqual({ kind: 'partial', keepFirst: 0, keepLast: 4, maskChar: '*' });
    expect(strategy('birth_date')).toEqual({ kind: 'noise-date', seconds: 30 * 86_400 });
    expect(strategy('salary')).toEqual({ kind: 'noise-number', percent: 10 });
    expect(strategy('country')).toEqual({ kind: 'constant', value: 'XX' });
    expect(strategy('nickname')).toEqual({ kind: 'sql', expression: "left(nickname, 1) || '.'" });
    expect(strategy('created_at')).toEqual({ kind: 'keep' });
    expect(strategy('profile')).toEqual([
      { path: ['contact', 'email'], strategy: { kind: 'fake', fake: 'email' }, at: { file: 'docs/masking.md', line: 20, column: 9 } },
      { path: ['contact', 'phones', '*'], strategy: { kind: 'fake', fake: 'phone' }, at: { file: 'docs/masking.md', line: 21, column: 9 } },
      { path: ['preferences'], strategy: { kind: 'keep' }, at: { file: 'docs/masking.md', line: 22, column: 9 } },
    ]);
    expect(users.at).toEqual({ file: 'docs/masking.md', line: 5, column: 3 });
    expect(users.columns[0]!.at).toEqual({ file: 'docs/masking.md', line: 6, column: 5 });
  });

  it('takes the default schema, comments, YAML null forms and odd column names', () => {
    const rules = parseMaskingRules(
      ['# rules', 'schema: crm', 'database: app', 'tables:', '  people:   # crm.people', '    a: ~', '    b:', '    "null": keep', '    123: hash', ''].join('\n'),
      { file: FILE },
    );
    expect(rules).toEqual({
      database: 'app',
      tables: [
        {
          schema: 'crm',
          table: 'people',
          at: { file: FILE, line: 5, column: 3 },
          columns: [
            { column: 'a', kind: 'strategy', strategy: { kind: 'null' }, at: { file: FILE, line: 6, column: 5 } },
            { column: 'b', kind: 'strategy', strategy: { kind: 'null' }, at: { file: FILE, line: 7, column: 5 } },
            { column: 'null', kind: 'strategy', strategy: { kind: 'keep' }, at: { file: FILE, line: 8, column: 5 } },
            { column: '123', kind: 'strategy', strategy: { kind: 'hash' }, at: { file: FILE, line: 9, column: 5 } },
          ],
        },
      ],
    });
  });

  it('parses json paths', () => {
    expect(parseJsonPath('contact.email')).toEqual(['contact', 'email']);
    expect(parseJsonPath('items[*].buyer.email')).toEqual(['items', '*', 'buyer', 'email']);
    expect(parseJsonPath('matrix[*][*]')).toEqual(['matrix', '*', '*']);
    expect(parseJsonPath('addresses.*.zip')).toEqual(['addresses', '*', 'zip']);
    expect(parseJsonPath('[*].email')).toEqual(['*', 'email']);
    expect(parseJsonPath('home address.zip')).toEqual(['home address', 'zip']);
    const { problems } = checkMaskingRules('tables:\n  t:\n    doc:\n      json:\n        contact: hash\n        items[*].email: hash\n        contact.email: keep\n        items.*.phone: hash\n', { file: FILE });
    expect(problems.map((p) => `${p.line}:${p.column} ${p.code}: ${p.message}`)).toEqual([
      '7:9 duplicate-path: json path contact.email overlaps contact: one rule per part of a document',
    ]);
    for (const bad of ['', 'a..b', 'a.', '.a', 'a[0]', 'a[*', ' a']) expect(parseJsonPath(bad)).toBeUndefined();
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problemsOf('tables:\n  users:\n    email: { fake: email\n')).toEqual(['4:1 yaml-syntax']);
    expect(problemsOf('tables:\n  users:\n    email: hash\n    email: keep\n')).toEqual(['4:5 duplicate-key']);
    expect(problemsOf('tables:\n  users:\n    email: "abc\n')).toEqual(['4:1 yaml-syntax']);
    expect(problemsOf('tables:\n  users:\n    email: @x\n')).toEqual(['3:12 yaml-syntax']);
  });

  it('reports each structural problem at its key or value, all at once', () => {
    const text = [
      'version: 2', //                      1
      'owner: me', //                       2
      'tables:', //                         3
      '  users:', //                        4
      '    email: { fakee: email }', //     5
      '    name: { fake: nickname }', //    6
      '    phone: mask', //                 7
      '    a: { hash: { length: 4 } }', //  8
      '    b: { partial: { char: x } }', // 9
      '    c: { noise: { date: 30 days } }', // 10
      '    d: { sql: "x; DROP TABLE users" }', // 11
      '    e: { fake: email, hash: ~ }', // 12
      '    f: { constant: ~ }', //          13
      '    g: fake', //                     14
      '    h:', //                          15
      '      json:', //                     16
      '        a..b: hash', //              17
      '        x[*]: hash', //              18
      '        x.*: keep', //               19
      '        y: { sql: "1" }', //         20
      '  public.users:', //                 21
      '    email: keep', //                 22
      '  a.b.c:', //                        23
      '    x: keep', //                     24
      '  orders: []', //                    25
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      '1:10 bad-version',
      '2:1 unknown-key',
      '5:14 unknown-strategy',
      '6:19 unknown-fake',
      '7:12 unknown-strategy',
      '8:26 bad-option',
      '9:19 bad-option',
      '10:25 bad-option',
      '11:15 unsafe-sql',
      '12:8 bad-strategy',
      '13:20 bad-option',
      '14:8 unknown-strategy',
      '17:9 bad-path',
      '19:9 duplicate-path',
      '20:14 bad-strategy',
      '21:3 duplicate-table',
      '23:3 bad-name',
      '25:11 bad-table',
    ]);
    const err = (() => {
      try {
        parseMaskingRules(text, { file: FILE });
      } catch (e) {
        return e as PgbranchError;
      }
      throw new Error('no error');
    })();
    expect(isPgbranchError(err, 'MASK_RULES_INVALID')).toBe(true);
    expect(err.spec.exitCode).toBe(16);
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('masking.yaml has 18 problems (see docs/masking.md):');
    expect(lines[1]).toBe('  masking.yaml:1:10 bad-version: version must be 1');
    expect(lines).toContain('  masking.yaml:6:19 unknown-fake: fake must be one of email, name, first_name, last_name, phone, address, city, iban, company, username, url, ip, text');
    expect(lines).toContain('  masking.yaml:21:3 duplicate-table: public.users already has rules at line 4');
    expect((err.details!.problems as RulesProblem[]).length).toBe(18);
  });

  it('validates against a catalog snapshot: tables, columns, types, constraints', () => {
    const text = [
      'tables:', //                                 1
      '  users:', //                                2
      '    email: { fake: email }', //              3
      '    emial: hash', //                         4
      '    name: { noise: { date: 30d } }', //      5
      '    id: null', //                            6
      '    phone: { constant: "0" }', //            7
      '    birth: { noise: { date: 30d } }', //     8
      '    profile: { fake: email }', //            9
      '    tags: { partial: { keep_last: 2 } }', // 10
      '    slug: hash', //                          11
      '    email2: keep', //                        12
      '  orders:', //                               13
      '    user_email: hash', //                    14
      '    total: { noise: { number: 5% } }', //    15
      '  invoices:', //                             16
      '    iban: { fake: iban }', //                17
      '  users_emails:', //                         18
      '    email: keep', //                         19
      '  events_2024:', //                          20
      '    ip: { fake: ip }', //                    21
      '  audit.log:', //                            22
      '    who: keep', //                           23
      '  billing.invoices:', //                     24
      '    iban: { hash: { length: 64 } }', //      25
      '    amount: { json: { a: hash } }', //       26
      '',
    ].join('\n');
    expect(problemsOf(text, CATALOG)).toEqual([
      '4:5 unknown-column',
      '5:5 type-mismatch',
      '6:5 type-mismatch',
      '7:5 not-injective',
      '9:5 type-mismatch',
      '11:5 generated-column',
      '12:5 unknown-column',
      '14:5 fk-mismatch',
      '16:3 unknown-table',
      '18:3 not-a-table',
      '20:3 not-a-table',
      '22:3 unknown-table',
      '26:5 type-mismatch',
    ]);
    const { problems } = checkMaskingRules(text, { file: FILE, catalog: CATALOG });
    const message = (line: number) => problems.find((p) => p.line === line)!.message;
    expect(message(5)).toBe('public.users.name: noise: { date } does not fit type character varying(80)');
    expect(message(6)).toBe('public.users.id: null does not fit a NOT NULL column (bigint)');
    expect(message(14)).toBe(
      'foreign key orders_user_email_fkey: public.orders.user_email (hash) references public.users.email (fake: email); give both the same rule',
    );
    expect(message(16)).toBe('database app has no table public.invoices (did you mean billing.invoices?)');
    expect(message(20)).toBe('public.events_2024 is a partition: write the rules for its partitioned table public.events');
  });

  it('accepts rules that fit, and checks hash length against varchar(n)', () => {
    const ok = 'tables:\n  users:\n    email: { fake: email }\n    phone: { hash: { length: 20 } }\n    tags: { fake: email }\n  orders:\n    user_email: { fake: email }\n';
    expect(problemsOf(ok, CATALOG)).toEqual([]);
    const long = 'tables:\n  users:\n    phone: hash\n';
    expect(problemsOf(long, CATALOG)).toEqual(['3:5 too-long']);
    const rules = parseMaskingRules(long, { file: FILE });
    expect(() => validateMaskingRules(rules, CATALOG, FILE)).toThrow(/masking\.yaml:3:5 too-long: public\.users\.phone holds 20 characters, the hash has 64: write \{ hash: \{ length: 20 \} \}/);
  });

  it('words the fail-closed refusal with every finding and the fix', () => {
    const findings: PersonalColumn[] = [
      { schema: 'public', table: 'users', column: 'backup_email', type: 'text', reasons: [{ by: 'name', kind: 'email', matched: 'email' }], message: 'public.users.backup_email (text): name matches "email" (email)' },
    ];
    const err = uncoveredColumnsError(findings, 'masking.yaml');
    expect(err.code).toBe('MASK_UNCOVERED_COLUMNS');
    expect(err.message).toBe(
      '1 column looks personal but has no rule in masking.yaml:\n  public.users.backup_email (text): name matches "email" (email)\nAdd a rule for each (or `keep` for a column that is not personal) and try again.',
    );
  });
});
