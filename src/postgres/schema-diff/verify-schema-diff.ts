import type pg from 'pg';
import { compareSchemas, type SchemaDifference } from './compare-schemas.js';
import type { SchemaModel } from './model.js';
import { readSchema } from './read-schema.js';
import type { SchemaDiff, SchemaStatement } from './types.js';

export interface VerifySchemaDiffOptions {
  /** A connection to a throwaway copy of side A: the statements are applied to it for real. */
  readonly copy: pg.Client;
  readonly diff: SchemaDiff;
  /** The model of side B (the schema the statements should produce). */
  readonly expected: SchemaModel;
}

export interface SchemaVerification {
  /** Every statement ran and nothing differs: the script is proven for this pair of schemas. */
  readonly proven: boolean;
  /** The first statement that failed (its transaction was rolled back), if any. */
  readonly failure?: { readonly index: number; readonly sql: string; readonly message: string; readonly code?: string };
  /** What still differs between the copy after the script and side B. */
  readonly differences: readonly SchemaDifference[];
}

/** Statements grouped into transactions: a group ends after a statement that must be committed. */
export function transactionGroups(statements: readonly SchemaStatement[]): SchemaStatement[][] {
  const groups: SchemaStatement[][] = [[]];
  for (const s of statements) {
    (groups[groups.length - 1] as SchemaStatement[]).push(s);
    if (s.commitAfter) groups.push([]);
  }
  return groups.filter((g) => g.length > 0);
}

/**
 * The proof: runs the diff's statements on a copy of side A (in one transaction, or one per
 * group where an enum value must be committed before use), reads the copy's schema and compares
 * it with side B's model. Empty differences and no failure mean the script does what it says.
 */
export async function verifySchemaDiff(options: VerifySchemaDiffOptions): Promise<SchemaVerification> {
  const { copy, diff, expected } = options;
  let failure: SchemaVerification['failure'];
  let index = 0;
  outer: for (const group of transactionGroups(diff.statements)) {
    await copy.query('BEGIN');
    for (const s of group) {
      try {
        await copy.query(s.sql);
      } catch (err) {
        const e = err as Error & { code?: string };
        failure = { index, sql: s.sql, message: e.message, ...(e.code ? { code: e.code } : {}) };
        await copy.query('ROLLBACK');
        break outer;
      }
      index++;
    }
    await copy.query('COMMIT');
  }
  const actual = await readSchema(copy);
  const differences = compareSchemas(actual, expected);
  return { proven: failure === undefined && differences.length === 0, ...(failure ? { failure } : {}), differences };
}
