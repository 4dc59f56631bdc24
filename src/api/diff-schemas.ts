import { z } from '@hono/zod-openapi';
import { parseDiffSide } from '../branches/index.js';
import { isPgbranchError } from '../errors.js';
import { BRANCH_NAME_ISSUE } from './schemas.js';

/**
 * The wire format of `GET /v1/branches/{name}/diff`, in the style of schemas.ts (snake_case for
 * pgbranch's own fields, strict objects). Row values are keyed by the user's column names, which
 * are passed through unchanged.
 */

const SIDE_GRAMMAR = 'NAME (a branch, else the snapshot of that name), branch:NAME, snapshot:NAME or branch-point:NAME';

/** A diff side as text, checked with the domain's own parser (a bad name is INVALID_BRANCH_NAME, like the CLI). */
const DiffSideText = z.string().superRefine((value, ctx) => {
  try {
    parseDiffSide(value);
  } catch (err) {
    const badName = isPgbranchError(err, 'INVALID_BRANCH_NAME');
    ctx.addIssue({ code: 'custom', message: (err as Error).message, ...(badName ? { params: { pgbranch: BRANCH_NAME_ISSUE } } : {}) });
  }
});

export const DiffParams = z.object({
  name: DiffSideText.openapi({
    param: { name: 'name', in: 'path', required: true },
    description: `the side the changes lead to: ${SIDE_GRAMMAR}. Percent-encode "/" and ":" in the path (feature%2Flogin, snapshot%3Aseed).`,
    example: 'pr-7',
  }),
});

const Flag = (name: string, description: string) =>
  z
    .enum(['true', 'false'])
    .optional()
    .openapi({ param: { name, in: 'query', required: false }, description });

export const DiffQuery = z.object({
  against: DiffSideText.optional().openapi({
    param: { name: 'against', in: 'query', required: false },
    description: `the side the changes are from: ${SIDE_GRAMMAR}. Default: the branch point of {name} (what it changed since it was made, reset or rebased)`,
    example: 'main',
  }),
  schema: Flag('schema', 'compare the schema (migration SQL); with neither schema nor data, both are compared'),
  data: Flag('data', 'compare the data: rows inserted, updated and deleted per table'),
  rows: Flag('rows', 'also return the changed rows, keyed by primary key (implies data)'),
  limit: z.coerce
    .number()
    .int()
    .min(0)
    .max(100_000)
    .optional()
    .openapi({ param: { name: 'limit', in: 'query', required: false }, description: 'with rows: at most this many rows per table (default 1000); counts stay exact' }),
  verify: Flag('verify', 'prove the migration script on a throwaway copy-on-write clone of the first side (implies schema)'),
  full: Flag('full', 'compare whole tables even where the changed blocks are known (a cross-check; slower)'),
});

const Timestamp = z.iso.datetime({ offset: true });
const Count = z.number().int().min(0);

export const DiffSideSchema = z
  .strictObject({
    kind: z.enum(['branch', 'snapshot', 'branch-point']),
    name: z.string().openapi({ description: "the branch's or snapshot's name (a branch point's branch)" }),
    ref: z.string().openapi({ description: 'the side as `against` accepts it', example: 'branch-point:pr-7' }),
    lsn: z.string().nullable().openapi({ description: "a snapshot's or branch point's WAL position; null for a live branch" }),
    time: Timestamp.nullable(),
  })
  .openapi('DiffSide');

const SchemaStatementSchema = z
  .strictObject({
    sql: z.string(),
    action: z.enum(['create', 'alter', 'drop', 'rename', 'comment', 'grant', 'revoke', 'owner']),
    kind: z.string().openapi({ description: 'object kind (table, column, index, view, function…), or `setting`' }),
    identity: z.string().openapi({ example: 'public.users.email' }),
    commit_after: z.boolean().optional().openapi({ description: 'must be committed before the next statement (a new enum value)' }),
  })
  .openapi('SchemaStatement');

const SchemaDifferenceSchema = z
  .strictObject({
    kind: z.string(),
    identity: z.string(),
    change: z.enum(['missing', 'unexpected', 'different']),
    field: z.string().optional(),
    expected: z.unknown().optional(),
    actual: z.unknown().optional(),
  })
  .openapi('SchemaDifference');

export const SchemaDiffSchema = z
  .strictObject({
    statements: z.array(SchemaStatementSchema),
    unsupported: z.array(z.strictObject({ kind: z.string(), identity: z.string(), reason: z.string() })).openapi({ description: 'changes the script does not express' }),
    script: z.string().openapi({ description: 'the statements as a psql-ready script (what `pgbranch diff -o sql` prints)' }),
    matched_by: z.enum(['oid', 'name']).openapi({ description: 'oid: one cluster lineage, renames detected; name: unrelated clusters' }),
    verification: z
      .strictObject({
        proven: z.boolean().openapi({ description: 'the script ran on a copy of the first side and the result has the second side\'s schema' }),
        failure: z.strictObject({ index: z.number().int(), sql: z.string(), message: z.string(), code: z.string().optional() }).optional(),
        differences: z.array(SchemaDifferenceSchema),
      })
      .optional(),
  })
  .openapi('SchemaDiff');

const RowValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).openapi('RowValues', {
  description: 'column → value (bigint, numeric and bytea as text)',
});

const RowChangeSchema = z
  .discriminatedUnion('change', [
    z.strictObject({ change: z.literal('inserted'), key: RowValues.optional(), new: RowValues }),
    z.strictObject({ change: z.literal('updated'), key: RowValues, old: RowValues, new: RowValues }),
    z.strictObject({ change: z.literal('deleted'), key: RowValues.optional(), old: RowValues }),
  ])
  .openapi('RowChange');

const CountsSchema = z.strictObject({ inserted: Count, updated: Count, deleted: Count }).openapi('ChangeCounts');

const ComparedTableSchema = z
  .strictObject({
    schema: z.string(),
    name: z.string(),
    status: z.literal('compared'),
    method: z.enum(['blocks', 'full']),
    full_reason: z.enum(['no-block-info', 'relation-rewritten', 'unlogged', 'all-blocks', 'prepared-transactions', 'requested']).optional(),
    key_columns: z.array(z.string()).nullable().openapi({ description: 'primary key; null: compared as a multiset of whole rows' }),
    columns: z.array(z.string()),
    columns_added: z.array(z.string()),
    columns_dropped: z.array(z.string()),
    counts: CountsSchema,
    rows: z.array(RowChangeSchema).optional(),
    rows_truncated: z.boolean().optional(),
    scanned: z.strictObject({ base_rows: Count, head_rows: Count, blocks: Count.optional(), key_lookups: Count }),
  })
  .openapi('ComparedTable');

const AddedOrDroppedTableSchema = z
  .strictObject({ schema: z.string(), name: z.string(), status: z.enum(['added', 'dropped']) })
  .openapi('AddedOrDroppedTable', { description: 'a table on one side only (see the schema diff)' });

export const DataDiffSchema = z
  .strictObject({
    method: z.enum(['blocks', 'full']).openapi({ description: 'blocks: only the heap blocks changed since the branch point were read; full: whole tables' }),
    full_reason: z.enum(['requested', 'not-branch-point', 'storage']).optional(),
    changed_bytes: Count.optional(),
    tables: z.array(z.union([ComparedTableSchema, AddedOrDroppedTableSchema])),
    totals: CountsSchema,
  })
  .openapi('DataDiff');

export const DiffSchema = z
  .strictObject({
    from: DiffSideSchema,
    to: DiffSideSchema,
    database: z.string(),
    schema: SchemaDiffSchema.optional(),
    data: DataDiffSchema.optional(),
    timings: z.strictObject({
      prepare_ms: z.number().min(0),
      schema_ms: z.number().min(0).optional(),
      data_ms: z.number().min(0).optional(),
      ranges_ms: z.number().min(0).optional().openapi({ description: 'of data_ms, block-level: CHECKPOINT of the live side and the changed ranges from the storage' }),
      verify_ms: z.number().min(0).optional(),
      total_ms: z.number().min(0),
    }),
  })
  .openapi('Diff');

export type ApiDiff = z.infer<typeof DiffSchema>;
export type ApiDiffSide = z.infer<typeof DiffSideSchema>;
export type ApiDiffQuery = z.input<typeof DiffQuery>;
