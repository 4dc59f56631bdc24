import { z } from '@hono/zod-openapi';
import { BRANCH_NAME_PATTERN, BRANCH_NAME_RULE, DRIVER_NAMES, assertBranchName, type BranchState, type TokenInfo } from '../branches/index.js';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors.js';

/**
 * The wire format of the API: snake_case, every schema named so that the OpenAPI document
 * references it. Request schemas are strict (an unknown field such as `ifNotExists` is a 400,
 * not silently ignored); response schemas are strict too, so the document lists every field
 * a client can receive.
 */

/** Marks an issue as a bad branch name, so that it is reported as INVALID_BRANCH_NAME. */
export const BRANCH_NAME_ISSUE = 'INVALID_BRANCH_NAME';

function isBranchName(value: string): boolean {
  try {
    assertBranchName(value);
    return true;
  } catch {
    return false;
  }
}

/** The domain's own rule (not a copy of it), with the pattern shown in the document. */
export const BranchName = z
  .string()
  .superRefine((value, ctx) => {
    if (!isBranchName(value)) ctx.addIssue({ code: 'custom', message: BRANCH_NAME_RULE, params: { pgbranch: BRANCH_NAME_ISSUE } });
  })
  .openapi({ description: BRANCH_NAME_RULE, pattern: BRANCH_NAME_PATTERN.source, minLength: 1, maxLength: 63, example: 'pr-123' });

const BRANCH_STATES = ['running', 'suspended', 'stopped', 'unhealthy'] as const satisfies readonly BranchState[];
const DESIRED_STATES = ['running', 'suspended', 'stopped'] as const satisfies readonly BranchState[];
const TOKEN_ROLE_VALUES = ['read', 'write', 'admin'] as const satisfies readonly TokenInfo['role'][];
const ERROR_CODES = Object.keys(ERROR_CATALOGUE) as [ErrorCode, ...ErrorCode[]];

const Timestamp = z.iso.datetime({ offset: true });
const Lsn = z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'a WAL position such as 0/3A0F2C8').openapi({ example: '0/3A0F2C8' });

// --- parameters ---

export const BranchParams = z.object({
  name: BranchName.openapi({
    param: { name: 'name', in: 'path', required: true },
    description: `${BRANCH_NAME_RULE}. Percent-encode it in the path: feature/login is sent as feature%2Flogin.`,
    example: 'feature/login',
  }),
});

export const TokenParams = z.object({
  id: z
    .string()
    .regex(/^[a-z0-9]{12}$/, 'a token id is 12 characters of a-z and 0-9')
    .openapi({ param: { name: 'id', in: 'path', required: true }, example: '3f9a0c1b2d4e' }),
});

export const ListBranchesQuery = z.object({
  with_usage: z
    .enum(['true', 'false'])
    .optional()
    .openapi({
      param: { name: 'with_usage', in: 'query', required: false },
      description: 'measure own_bytes/total_bytes (default true; false is faster on large pools)',
    }),
});

// --- request bodies ---

export const RootSourceSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('empty') }),
    z.strictObject({
      kind: z.literal('dump'),
      file: z
        .string()
        .min(1)
        .refine((p) => p.startsWith('/'), 'an absolute path on the pgbranch host')
        .openapi({ description: 'pg_dump file (custom, tar, directory or plain SQL, gzip too) on the pgbranch host' }),
    }),
    z.strictObject({
      kind: z.literal('url'),
      url: z
        .string()
        .regex(/^postgres(?:ql)?:\/\//, 'a postgresql:// URL')
        .openapi({ description: 'live PostgreSQL server (15 or older) copied logically, refreshable later; never logged or stored with its password' }),
    }),
    z.strictObject({
      kind: z.literal('follow'),
      url: z
        .string()
        .regex(/^postgres(?:ql)?:\/\//, 'a postgresql:// URL')
        .openapi({ description: 'live PostgreSQL primary (14-18) followed physically: the root is its hot standby; the role needs REPLICATION' }),
      slot: z.boolean().optional().openapi({ description: "keep a physical replication slot on the source (default: the host's sources.replicationSlot)" }),
      history_window_ms: z.number().int().positive().optional().openapi({ description: 'how far back branches can be made at a time or LSN' }),
      snapshot_interval_ms: z.number().int().positive().optional().openapi({ description: 'how often the root is snapshotted for its history window' }),
    }),
  ])
  .openapi('RootSource', { description: 'What fills a new root branch. Dump and URL sources need an admin token.' });

/** A masking rules file's text (YAML, docs/masking.md); problems come back with line numbers. */
const MaskRulesText = z.string().min(1).max(60_000);
const MaskFileName = z.string().min(1).max(255);

/** Bytes; the schema's minimum is the domain's (MIN_OWN_BYTES_LIMIT), checked there with a clearer message. */
const MaxOwnBytes = z.number().int().positive().nullable();

export const CreateBranchBody = z
  .strictObject({
    name: BranchName,
    parent: BranchName.optional().openapi({ description: 'parent branch; omit (with or without `source`) to make a root branch' }),
    if_not_exists: z.boolean().optional().openapi({ description: 'return an existing branch of the same name and origin (200, created: false) instead of 409' }),
    source: RootSourceSchema.optional(),
    snapshot: BranchName.optional().openapi({ description: 'make the branch from this snapshot (instead of parent or source)' }),
    at: Timestamp.optional().openapi({ description: "with parent: the parent (a following root) as it was at this time, within its history window" }),
    at_lsn: Lsn.optional().openapi({ description: 'with parent: the parent (a following root) as it was at this WAL position' }),
    ttl_ms: z.number().int().positive().optional().openapi({ description: "delete the branch this long after creation (default: the host's per-pattern expiry, if any)" }),
    expires_at: Timestamp.optional().openapi({ description: 'delete the branch at this time (instead of ttl_ms)' }),
    max_own_bytes: MaxOwnBytes.optional().openapi({
      description:
        "cap on the bytes the branch may own (written since it was branched); writes past it fail with PostgreSQL's disk-full error (53100) in this branch only. Absent = the host's quotas.maxOwnBytesPerBranch for branches from a parent or snapshot; null = none (refused when the host has a ceiling)",
    }),
    mask: MaskRulesText.optional().openapi({
      description:
        'masking rules (the YAML rules file as text, see docs/masking.md): the branch is made masked from parent — refused (422 MASK_UNCOVERED_COLUMNS) while a personal-looking column has no rule, then masked, tables rewritten, WAL and residue wiped — and protected',
    }),
    mask_file: MaskFileName.optional().openapi({ description: 'the rules file name shown in problems (file:line:column); default "masking rules"' }),
  })
  .refine((b) => b.parent === undefined || b.source === undefined, { message: 'give either parent or source, not both', path: ['source'] })
  .refine((b) => b.snapshot === undefined || (b.parent === undefined && b.source === undefined), {
    message: 'give one of snapshot, parent or source',
    path: ['snapshot'],
  })
  .refine((b) => b.ttl_ms === undefined || b.expires_at === undefined, { message: 'give either ttl_ms or expires_at, not both', path: ['expires_at'] })
  .refine((b) => b.at === undefined || b.at_lsn === undefined, { message: 'give either at or at_lsn, not both', path: ['at_lsn'] })
  .refine((b) => (b.at === undefined && b.at_lsn === undefined) || b.parent !== undefined, { message: 'at and at_lsn need a parent', path: ['at'] })
  .refine((b) => b.mask === undefined || (b.parent !== undefined && b.at === undefined && b.at_lsn === undefined), { message: 'mask needs a parent (as it is now: no at or at_lsn)', path: ['mask'] })
  .openapi('CreateBranchRequest');

export const SnapshotParams = z.object({
  name: BranchName.openapi({
    param: { name: 'name', in: 'path', required: true },
    description: `snapshot name: ${BRANCH_NAME_RULE}. Percent-encode "/" in the path.`,
    example: 'before-migration',
  }),
});

export const CreateSnapshotBody = z
  .strictObject({
    branch: BranchName.openapi({ description: 'the branch to snapshot (running or stopped)' }),
    name: BranchName.openapi({ description: 'snapshot name (branch-name rules), unique among snapshots' }),
  })
  .openapi('CreateSnapshotRequest');

export const UpdateBranchBody = z
  .strictObject({
    idle_timeout_ms: z
      .number()
      .int()
      .min(0)
      .nullable()
      .optional()
      .openapi({ description: 'idle time before the branch is suspended: 0 = never, null = host default' }),
    protected: z.boolean().optional().openapi({ description: 'protected branches refuse delete, reset and expiry; unprotecting needs an admin token' }),
    ttl_ms: z.number().int().positive().nullable().optional().openapi({ description: 'expire this long from now; null = never' }),
    expires_at: Timestamp.nullable().optional().openapi({ description: 'expire at this time; null = never' }),
    max_own_bytes: MaxOwnBytes.optional().openapi({ description: 'cap on the bytes the branch may own, effective at once; null = none' }),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change: give idle_timeout_ms, protected, ttl_ms, expires_at or max_own_bytes' })
  .refine((b) => b.ttl_ms === undefined || b.expires_at === undefined, { message: 'give either ttl_ms or expires_at, not both', path: ['expires_at'] })
  .openapi('UpdateBranchRequest');

export const CreateTokenBody = z
  .strictObject({
    name: z.string().min(1).max(64),
    role: z.enum(TOKEN_ROLE_VALUES),
    branch_patterns: z
      .array(z.string().min(1).max(63))
      .max(64)
      .optional()
      .openapi({ description: 'branch-name patterns (`*` any run, `?` one character) the token may act on; empty or absent = all branches', example: ['pr-*'] }),
    masked_only: z
      .boolean()
      .optional()
      .openapi({ description: 'the token sees and operates masked branches only, and creates branches only from masked branches (default false)' }),
  })
  .openapi('CreateTokenRequest');

export const ResetBranchBody = z
  .strictObject({
    mask: MaskRulesText.optional().openapi({ description: 'masking rules (YAML text): re-mask the new data before the branch accepts connections again' }),
    mask_file: MaskFileName.optional().openapi({ description: 'the rules file name shown in problems' }),
  })
  .openapi('ResetBranchRequest');

export const MaskCheckBody = z
  .strictObject({
    rules: MaskRulesText.openapi({ description: 'the masking rules file as text (YAML, see docs/masking.md)' }),
    file: MaskFileName.optional().openapi({ description: 'the rules file name shown in problems (file:line:column)' }),
  })
  .openapi('MaskCheckRequest');

// --- responses ---

export const HealthSchema = z.strictObject({ status: z.literal('ok') }).openapi('Health');

export const OpenApiDocumentSchema = z.looseObject({ openapi: z.string() }).openapi('OpenApiDocument');

const MaskedMarkSchema = z.strictObject({ rules_sha256: z.string(), masked_at: Timestamp }).openapi('MaskedMark');

export const BranchSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    parent: z.string().nullable(),
    parent_deleted: z.boolean().openapi({ description: 'the parent was deleted after this branch was made (the branch keeps working)' }),
    state: z.enum(BRANCH_STATES).openapi({ description: 'unhealthy: it should run but does not accept connections (see unhealthy_reason); serve restarts it' }),
    unhealthy_reason: z.string().nullable().openapi({ description: 'why the branch is unhealthy; null otherwise' }),
    desired_state: z.enum(DESIRED_STATES),
    idle_timeout_ms: z.number().int().min(0).openapi({ description: 'effective idle timeout (0 = never suspended)' }),
    port: z.number().int(),
    database: z.string(),
    user: z.string(),
    source: z.looseObject({ kind: z.string() }).openapi({ description: 'where the data came from: branch, empty, dump, url (password redacted)' }),
    branch_point: z.strictObject({ lsn: z.string().nullable(), time: Timestamp.nullable() }),
    created_at: Timestamp,
    reset_at: Timestamp.nullable(),
    protected: z.boolean().openapi({ description: 'delete, reset and expiry are refused until unprotected' }),
    expires_at: Timestamp.nullable().openapi({ description: 'when the host deletes the branch; null = never' }),
    own_bytes: z.number().int().min(0).nullable().openapi({ description: 'bytes shared with no other branch (null if not measured)' }),
    shared_bytes: z.number().int().min(0).nullable().openapi({ description: 'bytes shared with other branches by copy-on-write (null if not measured)' }),
    total_bytes: z.number().int().min(0).nullable(),
    max_own_bytes: z.number().int().positive().nullable().openapi({ description: 'cap on own_bytes enforced by the storage driver; null = none' }),
    created_by: z.string().nullable().openapi({ description: 'who created the branch: `token:<id>`, `local:<os user>` or `host` (null for branches older than quotas)' }),
    branch_point_bytes: z
      .number()
      .int()
      .min(0)
      .nullable()
      .optional()
      .openapi({ description: 'what keeping its branch point (for diff) costs: bytes it holds that no other volume shares; null when none is kept; absent when sizes were not measured' }),
    masked: MaskedMarkSchema.nullable().openapi({
      description: 'masked data (made with mask, a branch of a masked branch or of its snapshot): SHA-256 of the rules text and when it was masked; null = not masked',
    }),
  })
  .openapi('Branch');

export const RefreshedRootSchema = BranchSchema.extend({
  remasked: z
    .array(
      z.strictObject({
        branch: z.string(),
        remasked: z.boolean().openapi({ description: 'false: it keeps its old masked data (see code and message)' }),
        rules_sha256: z.string().optional(),
        code: z.string().optional().openapi({ description: 'why it was not re-masked, e.g. MASK_UNCOVERED_COLUMNS (a column added upstream without a rule)' }),
        message: z.string().optional(),
      }),
    )
    .openapi({ description: 'every masked branch made from this root with mask, re-masked from the new generation with the rules it was masked with' }),
}).openapi('RefreshedRoot');

export const CreatedBranchSchema = BranchSchema.extend({
  created: z.boolean().openapi({ description: 'false when if_not_exists found the branch already there' }),
}).openapi('CreatedBranch');

export const BranchListSchema = z.strictObject({ branches: z.array(BranchSchema) }).openapi('BranchList');

export const ConnectionSchema = z
  .strictObject({
    branch: z.string(),
    url: z
      .string()
      .nullable()
      .openapi({ description: "DATABASE_URL: through the host's Postgres endpoint (wakes suspended branches); null when the endpoint port is not known" }),
    url_unpooled: z.string().openapi({ description: "DATABASE_URL_UNPOOLED: direct to the branch's own instance, loopback only" }),
    host: z.string().openapi({ description: 'direct (unpooled) host' }),
    port: z.number().int().openapi({ description: 'direct (unpooled) port' }),
    user: z.string(),
    database: z.string(),
    password: z.string(),
    endpoint: z
      .strictObject({
        host: z.string(),
        port: z.number().int(),
        user: z.string().openapi({ description: '`<role>.<branch>`: routes the connection to the branch' }),
      })
      .nullable(),
  })
  .openapi('Connection');

export const HostStatusSchema = z
  .strictObject({
    home: z.string(),
    driver: z.enum(DRIVER_NAMES),
    pool_path: z.string(),
    loop_image: z.string().nullable(),
    capabilities: z.strictObject({
      atomic_snapshot: z.boolean(),
      constant_time_clone: z.boolean(),
      own_bytes: z.enum(['exact', 'full-copy']),
    }),
    pool: z.strictObject({ total_bytes: z.number().int(), used_bytes: z.number().int(), free_bytes: z.number().int() }),
    branch_limits: z
      .strictObject({ kind: z.enum(['exclusive', 'growth', 'none']), reason: z.string().nullable() })
      .openapi({ description: 'what the pool can cap per branch: exclusive (btrfs qgroups: exactly own bytes), growth (XFS project quotas), none (reason says why)' }),
    quotas: z
      .strictObject({
        max_branches: z.number().int().nullable(),
        max_branches_per_token: z.number().int().nullable(),
        max_own_bytes_per_branch: z.number().int().nullable(),
        min_pool_free_bytes: z.number().int().nullable(),
      })
      .openapi({ description: "the host's configured quotas; null = unlimited" }),
    postgres: z.strictObject({ version: z.string(), major: z.number().int(), bin_dir: z.string(), source: z.string(), os_user: z.string() }),
    branches: z.number().int().min(0),
  })
  .openapi('HostStatus');

export const TokenSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    role: z.enum(TOKEN_ROLE_VALUES),
    branch_patterns: z.array(z.string()),
    masked_only: z.boolean().openapi({ description: 'sees and operates masked branches only' }),
    created_at: Timestamp,
    last_used_at: Timestamp.nullable(),
  })
  .openapi('Token');

export const MaskCheckSchema = z
  .strictObject({
    branch: z.string(),
    database: z.string().openapi({ description: 'the database the rules are for' }),
    rules_sha256: z.string(),
    databases_checked: z.array(z.string()).openapi({ description: 'every database sampled (all that accept connections, templates excluded)' }),
    ruled_columns: z.number().int().min(0).openapi({ description: 'columns the rules mask or keep explicitly' }),
  })
  .openapi('MaskCheck', { description: 'every personal-looking column has a rule or an explicit keep (otherwise 422 MASK_UNCOVERED_COLUMNS naming them)' });

export const CreatedTokenSchema = TokenSchema.extend({
  token: z.string().openapi({ description: 'the secret, shown in this response only: send it as `Authorization: Bearer <token>`' }),
}).openapi('CreatedToken');

export const TokenListSchema = z.strictObject({ tokens: z.array(TokenSchema) }).openapi('TokenList');

export const AuditQuerySchema = z.object({
  branch: BranchName.optional().openapi({ param: { name: 'branch', in: 'query', required: false }, description: 'entries about this branch only' }),
  since: Timestamp.optional().openapi({ param: { name: 'since', in: 'query', required: false }, description: 'entries at or after this time' }),
  until: Timestamp.optional().openapi({ param: { name: 'until', in: 'query', required: false }, description: 'entries before this time' }),
  limit: z.coerce.number().int().min(1).max(10_000).optional().openapi({ param: { name: 'limit', in: 'query', required: false }, description: 'at most this many (newest first; default 100)' }),
});

export const AuditEntrySchema = z
  .strictObject({
    id: z.number().int(),
    at: Timestamp,
    actor: z.string().openapi({ description: '`token:<id>`, `local:<os user>` (CLI on the host) or `host` (background jobs)', example: 'token:3f9a0c1b2d4e' }),
    actor_name: z.string().nullable().openapi({ description: "the token's name" }),
    operation: z.string().openapi({ example: 'create' }),
    target_kind: z.enum(['branch', 'token', 'host']),
    target: z.string().openapi({ description: 'branch name, token id, or volume / "gc" for host entries' }),
    result: z.enum(['started', 'ok', 'error', 'interrupted']).openapi({ description: 'started: still running; interrupted: its process died' }),
    error_code: z.enum(ERROR_CODES).nullable(),
    duration_ms: z.number().int().min(0).nullable(),
    details: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('AuditEntry');

export const AuditListSchema = z.strictObject({ entries: z.array(AuditEntrySchema) }).openapi('AuditList');

export const GcBody = z
  // Required, not defaulted: an empty body must not quietly start deleting things.
  .strictObject({ dry_run: z.boolean().openapi({ description: 'true: only report what would be done; false: do it' }) })
  .openapi('GcRequest');

export const GcReportSchema = z
  .strictObject({
    dry_run: z.boolean(),
    actions: z.array(
      z.strictObject({
        kind: z.enum(['orphan-staging', 'orphan-volume', 'orphan-instance', 'missing-volume', 'expired', 'idle-suspend', 'warm-discard']),
        target: z.string().openapi({ description: 'volume name for orphans, branch name otherwise' }),
        done: z.boolean().openapi({ description: 'false in a dry run' }),
      }),
    ),
  })
  .openapi('GcReport');

export const SnapshotSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    branch: z.string().openapi({ description: 'the branch it was taken of' }),
    branch_id: z.string(),
    branch_deleted: z.boolean().openapi({ description: 'the source branch was deleted since (the snapshot stays usable)' }),
    time: Timestamp.openapi({ description: "when the branch's data was captured" }),
    lsn: z.string().nullable().openapi({ description: "approximate: the source's WAL position right after the capture; null if it was stopped" }),
    created_at: Timestamp,
    kind: z.enum(['user', 'history']).openapi({ description: "user: made on request; history: kept on a schedule for a following root's history window" }),
    masked: MaskedMarkSchema.nullable().openapi({ description: 'taken of a masked branch: branches made from it are masked too; null = not masked' }),
  })
  .openapi('Snapshot');

export const SnapshotListSchema = z.strictObject({ snapshots: z.array(SnapshotSchema) }).openapi('SnapshotList');

const Nullable = <T extends z.ZodType>(schema: T) => schema.nullable();

export const SourceSchema = z
  .strictObject({
    branch: z.string(),
    mode: z.enum(['follow', 'refresh']).openapi({ description: 'follow: a hot standby of the source; refresh: imported again on request or on a schedule' }),
    url: z.string().openapi({ description: "the source's URL without its password" }),
    follow: Nullable(
      z.strictObject({
        state: z.enum(['streaming', 'disconnected', 'stopped']),
        disconnected_since: Nullable(Timestamp).openapi({ description: 'when the connection to the source was lost; null while connected' }),
        last_error: Nullable(z.string()).openapi({ description: "the walreceiver's last complaint" }),
        receive_lsn: Nullable(z.string()),
        replay_lsn: Nullable(z.string()),
        source_lsn: Nullable(z.string()).openapi({ description: "the source's current WAL position; null if it cannot be reached" }),
        lag_bytes: Nullable(z.number().int()),
        lag_seconds: Nullable(z.number()),
        last_replayed_commit_at: Nullable(Timestamp),
        slot: Nullable(z.string()),
        after_refresh: z.array(z.string()).openapi({ description: 'hooks run on each branch of the root before it opens' }),
        history: z.strictObject({
          window_ms: z.number().int(),
          snapshot_interval_ms: z.number().int(),
          from: Nullable(Timestamp).openapi({ description: 'the earliest time a branch can be made at' }),
          from_lsn: Nullable(z.string()),
          snapshots: z.number().int(),
          snapshot_bytes: Nullable(z.number().int()),
          archive_bytes: Nullable(z.number().int()),
        }),
      }),
    ),
    refresh: Nullable(
      z.strictObject({
        generation: z.number().int(),
        last_refresh_at: Nullable(Timestamp),
        cron: Nullable(z.string()),
        next_refresh_at: Nullable(Timestamp),
        running: z.boolean(),
        after_refresh: z.array(z.string()),
      }),
    ),
  })
  .openapi('Source');

export const UpdateSourceBody = z
  .strictObject({
    history_window_ms: z.number().int().positive().optional(),
    snapshot_interval_ms: z.number().int().positive().optional(),
    refresh_cron: z.string().min(1).nullable().optional().openapi({ description: 'cron expression in the host time zone; null = on request only' }),
    after_refresh: z
      .array(z.string().min(1))
      .optional()
      .openapi({ description: 'shell commands run on each new generation before it is switched in (refresh), or on each branch of a following root before it opens (follow)' }),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change' })
  .openapi('UpdateSourceRequest');

export const ProblemSchema = z
  .looseObject({
    type: z.string().openapi({ example: 'https://pgbranch.dev/errors/branch-not-found' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(ERROR_CODES).openapi({ description: 'stable error code, the same the CLI prints' }),
    issues: z
      .array(z.strictObject({ in: z.string(), path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: 'what was wrong with the request (400 only)' }),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details; other members carry machine-readable context of the error' });

export type ApiBranch = z.infer<typeof BranchSchema>;
export type ApiRefreshedRoot = z.infer<typeof RefreshedRootSchema>;
export type ApiCreatedBranch = z.infer<typeof CreatedBranchSchema>;
export type ApiConnection = z.infer<typeof ConnectionSchema>;
export type ApiHostStatus = z.infer<typeof HostStatusSchema>;
export type ApiToken = z.infer<typeof TokenSchema>;
export type ApiMaskCheck = z.infer<typeof MaskCheckSchema>;
export type ApiCreatedToken = z.infer<typeof CreatedTokenSchema>;
export type ApiProblem = z.infer<typeof ProblemSchema>;
export type ApiAuditEntry = z.infer<typeof AuditEntrySchema>;
export type ApiGcReport = z.infer<typeof GcReportSchema>;
export type ApiSnapshot = z.infer<typeof SnapshotSchema>;
export type ApiRootSource = z.infer<typeof RootSourceSchema>;
export type ApiCreateBranchBody = z.infer<typeof CreateBranchBody>;
export type ApiSource = z.infer<typeof SourceSchema>;
export type ApiUpdateSourceBody = z.infer<typeof UpdateSourceBody>;
