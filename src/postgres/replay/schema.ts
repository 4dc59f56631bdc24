import type { Client } from '../client.js';
import type { SchemaStatement } from '../schema-diff/index.js';

export interface StatementFailure {
  readonly statement: SchemaStatement;
  readonly error: string;
}

/**
 * Runs migration statements in order, each committed on its own (an enum value added must be
 * committed before it is used). A statement that fails is reported and the rest still run: the
 * caller decides whether a failure is a conflict that stops the whole replay.
 */
export async function applyStatements(client: Client, statements: readonly SchemaStatement[]): Promise<{ applied: number; failed: StatementFailure[] }> {
  let applied = 0;
  const failed: StatementFailure[] = [];
  for (const statement of statements) {
    try {
      await client.query(statement.sql);
      applied++;
    } catch (err) {
      failed.push({ statement, error: (err as Error).message });
    }
  }
  return { applied, failed };
}
