import { quoteIdent } from '../quote.js';

/**
 * Object keys: `<namespace>:<json of name parts>`. Objects that share a PostgreSQL namespace
 * share a key namespace (tables, views, sequences and indexes are all `rel`), so a table
 * replaced by a view of the same name is seen as a name conflict, not an alter.
 */
export type KeySpace = 'schema' | 'extension' | 'type' | 'rel' | 'column' | 'default' | 'constraint' | 'function' | 'trigger' | 'policy' | 'seqowner';

export function objectKey(space: KeySpace, ...parts: string[]): string {
  return `${space}:${JSON.stringify(parts)}`;
}

/** Schema-qualified, always-quoted SQL name. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

const PLAIN = /^[a-z_][a-z0-9_$]*$/;

/** Human identity for reports: dotted, quoted only where needed (`app.users.email`). */
export function displayName(...parts: string[]): string {
  return parts.map((p) => (PLAIN.test(p) ? p : quoteIdent(p))).join('.');
}
