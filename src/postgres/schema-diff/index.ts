/**
 * Schema diff: the catalog of two databases → migration SQL from the first to the second, and a
 * proof that runs it on a copy of the first and compares the result with the second.
 *
 * Decision: our own catalog queries and SQL generation, no library. Evaluated for real on
 * PostgreSQL 18 (a branch-like pair made with CREATE DATABASE … TEMPLATE):
 * - @pgkit/migra 0.6.1 (TypeScript port of migra): no rename detection (a renamed column is
 *   dropped and added: data loss), enums are recreated instead of ADD VALUE, comments are
 *   missed, and with a renamed serial table its script failed to apply (it dropped the table,
 *   and with it the sequence it then referenced). Heavy dependencies (pg-promise, a pinned
 *   older pg, pgsql-ast-parser, tRPC, zod 3) and its own client, not a plain `pg` client.
 * - @supabase/pg-delta 1.0.0-alpha.34: far better (fact base, proof loop, ADD VALUE, column
 *   renames), but an alpha whose engine was replaced wholesale one release earlier, npm
 *   `latest` points at 0.0.0, and its peer @supabase/pg-topo@^1.0.0-alpha.3 does not exist in
 *   the registry (install needs --legacy-peer-deps). Its table-rename heuristic refused our
 *   renamed table (the name-bearing index made it a "near miss") and the drop+create plan then
 *   failed its own proof ("relation orders_pkey already exists"); it warns about dangling edges
 *   on PostgreSQL 18 NOT NULL constraints. Neither library can use OIDs, which for branches
 *   (clones: unchanged objects keep their OIDs) is the reliable rename signal.
 * The design notes also put the diff in the "write by hand what is core" column.
 */
export type {
  AclItem,
  ColumnNode,
  CompositeNode,
  ConstraintNode,
  DefaultNode,
  DomainNode,
  EnumNode,
  ExtensionNode,
  FunctionNode,
  IndexNode,
  ObjectKind,
  OpaqueObject,
  PolicyNode,
  SchemaModel,
  SchemaNode,
  SchemaObject,
  SequenceNode,
  SequenceOwnerNode,
  TableNode,
  TriggerNode,
  ViewNode,
} from './model.js';
export type { DiffOptions, SchemaDiff, SchemaStatement, StatementAction, UnsupportedChange } from './types.js';
export { readSchema } from './read-schema.js';
export { diffSchemas } from './diff-schemas.js';
export { compareSchemas, type SchemaDifference } from './compare-schemas.js';
export { verifySchemaDiff, type SchemaVerification, type VerifySchemaDiffOptions } from './verify-schema-diff.js';
export { renderSchemaScript, type RenderOptions } from './render-script.js';
export { benchSchemaDiff, benchSchemaSql, type SchemaDiffBench } from './bench.js';
