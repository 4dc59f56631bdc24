import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, PgbranchError, type ErrorCode } from './errors.js';

/** The README's exit-code table is written for people; this keeps it the catalogue's, code for code. */
describe('error catalogue', () => {
  it("the README's exit-code table lists every code with the exit code the CLI uses, and nothing else", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Exit codes and error codes'));
    const table = section.slice(0, section.indexOf('\n## '));
    const documented = new Map<string, number>();
    for (const line of table.split('\n')) {
      const m = /^\| (\d+) \| (.*) \|$/.exec(line);
      if (!m) continue;
      for (const code of m[2]!.matchAll(/`([A-Z][A-Z_]+)`/g)) {
        expect(documented.has(code[1]!), `${code[1]} listed twice`).toBe(false);
        documented.set(code[1]!, Number(m[1]));
      }
    }
    const catalogue = Object.fromEntries((Object.keys(ERROR_CATALOGUE) as ErrorCode[]).map((code) => [code, ERROR_CATALOGUE[code].exitCode]));
    expect(Object.fromEntries(documented)).toEqual(catalogue);
  });
});

describe('PgbranchError details', () => {
  it('speak the JSON naming (snake_case) at the top level and leave values, such as rows keyed by column names, as they are', () => {
    const err = new PgbranchError('INVALID_ARGUMENT', 'x', {
      details: { freeBytes: 1, min_pool_free_bytes: 2, row: { userId: 7 }, 'odd-Key': 3 },
    });
    expect(err.details).toEqual({ free_bytes: 1, min_pool_free_bytes: 2, row: { userId: 7 }, 'odd-Key': 3 });
    expect(new PgbranchError('INTERNAL', 'no details').details).toBeUndefined();
  });
});
