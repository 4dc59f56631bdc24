import { z } from '@hono/zod-openapi';

/**
 * The wire format of `POST /v1/branches/{name}/rebase`, in the style of schemas.ts (snake_case
 * for pgbranch's own fields, strict objects; row values keyed by the user's column names).
 */

export const RebaseBody = z
  .strictObject({
    dry_run: z.boolean().optional().openapi({ description: 'report the changes to replay and the conflicts; change nothing' }),
    onto: z.string().min(1).optional().openapi({ description: "a snapshot of the branch's parent to rebase onto (default: the parent's current state)" }),
    prefer: z.enum(['branch', 'parent']).optional().openapi({ description: 'settle each conflict for this side instead of refusing the rebase' }),
    undo: z.boolean().optional().openapi({ description: 'return to the state before the last rebase (other fields do not apply)' }),
  })
  .openapi('RebaseRequest');

const RowValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
const SideValue = z.union([z.string(), RowValues, z.null()]);

export const RebaseConflictSchema = z
  .strictObject({
    kind: z.enum(['schema', 'row', 'failed']),
    reason: z.enum(['both-changed', 'both-updated', 'both-inserted', 'deleted-on-parent', 'deleted-on-branch', 'statement-failed', 'row-failed', 'table-missing']),
    object: z.string(),
    key: RowValues.optional(),
    parent: SideValue.openapi({ description: "the parent's value: SQL for a schema object, the row for a row, null when it has none" }),
    branch: SideValue.openapi({ description: "the branch's value, alike" }),
    error: z.string().optional(),
    chosen: z.enum(['branch', 'parent']).optional().openapi({ description: 'with prefer: whose version the rebased branch has' }),
  })
  .openapi('RebaseConflict');

const Counts = z.strictObject({ inserted: z.number().int(), updated: z.number().int(), deleted: z.number().int() });

export const RebaseReportSchema = z
  .strictObject({
    branch: z.string(),
    action: z.enum(['rebase', 'undo']),
    onto: z.string().nullable(),
    dry_run: z.boolean(),
    applied: z.boolean().openapi({ description: 'whether the branch now has the rebased (for undo: the pre-rebase) state' }),
    prefer: z.enum(['branch', 'parent']).nullable(),
    schema: z.strictObject({
      statements: z.array(z.strictObject({ sql: z.string(), kind: z.string(), identity: z.string(), action: z.string() })),
      already_on_parent: z.number().int(),
    }),
    data: z.strictObject({
      tables: z.array(
        z.strictObject({
          schema: z.string(),
          name: z.string(),
          inserted: z.number().int(),
          updated: z.number().int(),
          deleted: z.number().int(),
          already_on_parent: z.number().int(),
          copied: z.boolean().optional(),
        }),
      ),
      totals: Counts,
    }),
    conflicts: z.array(RebaseConflictSchema).openapi({ description: 'at most 1000; conflict_count has them all' }),
    conflict_count: z.number().int(),
    undo_snapshot: z.string().nullable(),
    branch_point: z.strictObject({ lsn: z.string().nullable(), time: z.string().nullable() }),
    timings: z.strictObject({ capture_ms: z.number(), replay_ms: z.number(), swap_ms: z.number(), total_ms: z.number() }),
  })
  .openapi('RebaseReport');

export type ApiRebaseBody = z.infer<typeof RebaseBody>;
export type ApiRebaseReport = z.infer<typeof RebaseReportSchema>;
