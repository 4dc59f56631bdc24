import type { DataDiffView, DiffRequest, DiffSide, DiffSideView, DiffView } from '../branches/index.js';
import type { ApiDiff, ApiRebaseBody, ApiRebaseReport } from '../api/index.js';
import type { RebaseReport, RebaseRequest } from '../branches/index.js';
import type { StatementAction as SchemaStatementAction } from '../postgres/index.js';
import type { AuditEntry, BranchView, CreateOrigin, CreateRequest, MaskCheckView, MaskedMark, RefreshedRootView, RemaskOutcome, RootSource, SourceChange, SourceView, SnapshotView, ConnectionInfo, GcReport, HostStatus, TokenInfo } from '../branches/index.js';
import type { ErrorCode } from '../errors.js';
import type { ApiSnapshot, ApiAuditEntry, ApiCreateBranchBody, ApiRootSource, ApiSource, ApiUpdateSourceBody, ApiGcReport, ApiBranch, ApiRefreshedRoot, ApiConnection, ApiHostStatus, ApiToken, ApiMaskCheck } from '../api/index.js';

/**
 * The one place where the domain's camelCase views meet the API's snake_case fields, in both
 * directions: `toApi*` for the server, `fromApi*` for the remote client. Keep each pair
 * symmetrical: fromApiX(toApiX(v)) must give v back.
 */

export function toApiBranch(b: BranchView): ApiBranch {
  return {
    id: b.id,
    name: b.name,
    parent: b.parent,
    parent_deleted: b.parentDeleted,
    state: b.state,
    unhealthy_reason: b.unhealthyReason,
    desired_state: b.desiredState,
    idle_timeout_ms: b.idleTimeoutMs,
    port: b.port,
    database: b.database,
    user: b.user,
    source: b.source as ApiBranch['source'],
    branch_point: { lsn: b.branchPoint.lsn, time: b.branchPoint.time },
    created_at: b.createdAt,
    reset_at: b.resetAt,
    protected: b.protected,
    expires_at: b.expiresAt,
    own_bytes: b.ownBytes,
    shared_bytes: b.sharedBytes,
    total_bytes: b.totalBytes,
    max_own_bytes: b.maxOwnBytes,
    created_by: b.createdBy,
    ...optional('branch_point_bytes', b.branchPointBytes),
    masked: toApiMasked(b.masked),
  };
}

const toApiMasked = (m: MaskedMark | null) => m && { rules_sha256: m.rulesSha256, masked_at: m.maskedAt };
const fromApiMasked = (m: ApiBranch['masked']): MaskedMark | null => m && { rulesSha256: m.rules_sha256, maskedAt: m.masked_at };

export function toApiRefreshedRoot(v: RefreshedRootView): ApiRefreshedRoot {
  return {
    ...toApiBranch(v),
    remasked: v.remasked.map((r) => (r.remasked ? { branch: r.branch, remasked: true, rules_sha256: r.rulesSha256 } : { branch: r.branch, remasked: false, code: r.code, message: r.message })),
  };
}

export function fromApiRefreshedRoot(v: ApiRefreshedRoot): RefreshedRootView {
  const { remasked, ...branch } = v;
  return {
    ...fromApiBranch(branch),
    remasked: remasked.map((r): RemaskOutcome =>
      r.remasked ? { branch: r.branch, remasked: true, rulesSha256: r.rules_sha256 ?? '' } : { branch: r.branch, remasked: false, code: (r.code ?? 'INTERNAL') as ErrorCode, message: r.message ?? '' },
    ),
  };
}

export function fromApiBranch(b: ApiBranch): BranchView {
  return {
    id: b.id,
    name: b.name,
    parent: b.parent,
    parentDeleted: b.parent_deleted,
    state: b.state,
    unhealthyReason: b.unhealthy_reason,
    desiredState: b.desired_state,
    idleTimeoutMs: b.idle_timeout_ms,
    port: b.port,
    database: b.database,
    user: b.user,
    source: b.source,
    branchPoint: { lsn: b.branch_point.lsn, time: b.branch_point.time },
    createdAt: b.created_at,
    resetAt: b.reset_at,
    protected: b.protected,
    expiresAt: b.expires_at,
    ownBytes: b.own_bytes,
    sharedBytes: b.shared_bytes,
    totalBytes: b.total_bytes,
    maxOwnBytes: b.max_own_bytes,
    createdBy: b.created_by,
    ...optional('branchPointBytes', b.branch_point_bytes),
    masked: fromApiMasked(b.masked),
  };
}

export function toApiRootSource(s: RootSource): ApiRootSource {
  if (s.kind !== 'follow') return s;
  return {
    kind: 'follow',
    url: s.url,
    ...(s.slot !== undefined ? { slot: s.slot } : {}),
    ...(s.historyWindowMs !== undefined ? { history_window_ms: s.historyWindowMs } : {}),
    ...(s.snapshotIntervalMs !== undefined ? { snapshot_interval_ms: s.snapshotIntervalMs } : {}),
  };
}

export function fromApiRootSource(s: ApiRootSource): RootSource {
  if (s.kind !== 'follow') return s;
  return {
    kind: 'follow',
    url: s.url,
    ...(s.slot !== undefined ? { slot: s.slot } : {}),
    ...(s.history_window_ms !== undefined ? { historyWindowMs: s.history_window_ms } : {}),
    ...(s.snapshot_interval_ms !== undefined ? { snapshotIntervalMs: s.snapshot_interval_ms } : {}),
  };
}

/**
 * A create request as the API body carries it: the origin as one of `parent`, `snapshot` or
 * `source` (none = an empty root). The body schema has already refused more than one.
 */
export function toApiCreateBody(name: string, r: Omit<CreateRequest, 'onProgress'>): ApiCreateBranchBody {
  const o = r.origin;
  return {
    name,
    ...(o.kind === 'parent' ? { parent: o.parent, ...(o.at?.kind === 'time' ? { at: o.at.time } : o.at?.kind === 'lsn' ? { at_lsn: o.at.lsn } : {}) } : o.kind === 'snapshot' ? { snapshot: o.snapshot } : { source: toApiRootSource(o.source) }),
    ...(r.ifNotExists !== undefined ? { if_not_exists: r.ifNotExists } : {}),
    ...(r.ttlMs !== undefined ? { ttl_ms: r.ttlMs } : {}),
    ...(r.expiresAt !== undefined ? { expires_at: r.expiresAt } : {}),
    ...(r.maxOwnBytes !== undefined ? { max_own_bytes: r.maxOwnBytes } : {}),
    ...(r.mask ? { mask: r.mask.rules, ...(r.mask.file !== undefined ? { mask_file: r.mask.file } : {}) } : {}),
  };
}

export function fromApiCreateBody(b: ApiCreateBranchBody): { name: string; request: CreateRequest } {
  const origin: CreateOrigin =
    b.parent !== undefined
      ? { kind: 'parent', parent: b.parent, ...(b.at !== undefined ? { at: { kind: 'time', time: b.at } } : b.at_lsn !== undefined ? { at: { kind: 'lsn', lsn: b.at_lsn } } : {}) }
      : b.snapshot !== undefined
        ? { kind: 'snapshot', snapshot: b.snapshot }
        : { kind: 'source', source: b.source ? fromApiRootSource(b.source) : { kind: 'empty' } };
  return {
    name: b.name,
    request: {
      origin,
      ifNotExists: b.if_not_exists,
      ttlMs: b.ttl_ms,
      expiresAt: b.expires_at,
      maxOwnBytes: b.max_own_bytes,
      ...(b.mask !== undefined ? { mask: { rules: b.mask, ...(b.mask_file !== undefined ? { file: b.mask_file } : {}) } } : {}),
    },
  };
}

export function toApiConnection(c: ConnectionInfo): ApiConnection {
  return {
    branch: c.branch,
    url: c.endpoint?.url ?? null,
    url_unpooled: c.url,
    host: c.host,
    port: c.port,
    user: c.user,
    database: c.database,
    password: c.password,
    endpoint: c.endpoint && { host: c.endpoint.host, port: c.endpoint.port, user: c.endpoint.user },
  };
}

export function fromApiConnection(c: ApiConnection): ConnectionInfo {
  return {
    branch: c.branch,
    host: c.host,
    port: c.port,
    user: c.user,
    database: c.database,
    password: c.password,
    url: c.url_unpooled,
    endpoint: c.endpoint && c.url !== null ? { host: c.endpoint.host, port: c.endpoint.port, user: c.endpoint.user, url: c.url } : null,
  };
}

export function toApiHostStatus(s: HostStatus): ApiHostStatus {
  return {
    home: s.home,
    driver: s.driver,
    pool_path: s.poolPath,
    loop_image: s.loopImage,
    capabilities: {
      atomic_snapshot: s.capabilities.atomicSnapshot,
      constant_time_clone: s.capabilities.constantTimeClone,
      own_bytes: s.capabilities.ownBytes,
    },
    pool: { total_bytes: s.pool.totalBytes, used_bytes: s.pool.usedBytes, free_bytes: s.pool.freeBytes },
    branch_limits: { kind: s.branchLimits.kind, reason: s.branchLimits.reason ?? null },
    quotas: {
      max_branches: s.quotas.maxBranches ?? null,
      max_branches_per_token: s.quotas.maxBranchesPerToken ?? null,
      max_own_bytes_per_branch: s.quotas.maxOwnBytesPerBranch ?? null,
      min_pool_free_bytes: s.quotas.minPoolFreeBytes ?? null,
    },
    postgres: {
      version: s.postgres.version,
      major: s.postgres.major,
      bin_dir: s.postgres.binDir,
      source: s.postgres.source,
      os_user: s.postgres.osUser,
    },
    branches: s.branches,
  };
}

export function fromApiHostStatus(s: ApiHostStatus): HostStatus {
  return {
    home: s.home,
    driver: s.driver,
    poolPath: s.pool_path,
    loopImage: s.loop_image,
    capabilities: {
      atomicSnapshot: s.capabilities.atomic_snapshot,
      constantTimeClone: s.capabilities.constant_time_clone,
      ownBytes: s.capabilities.own_bytes,
    },
    pool: { totalBytes: s.pool.total_bytes, usedBytes: s.pool.used_bytes, freeBytes: s.pool.free_bytes },
    branchLimits: { kind: s.branch_limits.kind, ...(s.branch_limits.reason !== null ? { reason: s.branch_limits.reason } : {}) },
    quotas: {
      ...(s.quotas.max_branches !== null ? { maxBranches: s.quotas.max_branches } : {}),
      ...(s.quotas.max_branches_per_token !== null ? { maxBranchesPerToken: s.quotas.max_branches_per_token } : {}),
      ...(s.quotas.max_own_bytes_per_branch !== null ? { maxOwnBytesPerBranch: s.quotas.max_own_bytes_per_branch } : {}),
      ...(s.quotas.min_pool_free_bytes !== null ? { minPoolFreeBytes: s.quotas.min_pool_free_bytes } : {}),
    },
    postgres: {
      version: s.postgres.version,
      major: s.postgres.major,
      binDir: s.postgres.bin_dir,
      source: s.postgres.source,
      osUser: s.postgres.os_user,
    },
    branches: s.branches,
  };
}

export function toApiToken(t: TokenInfo): ApiToken {
  return {
    id: t.tokenId,
    name: t.name,
    role: t.role,
    branch_patterns: [...t.branchPatterns],
    masked_only: t.maskedOnly,
    created_at: t.createdAt,
    last_used_at: t.lastUsedAt,
  };
}

export function fromApiToken(t: ApiToken): TokenInfo {
  return {
    tokenId: t.id,
    name: t.name,
    role: t.role,
    branchPatterns: t.branch_patterns,
    maskedOnly: t.masked_only,
    createdAt: t.created_at,
    lastUsedAt: t.last_used_at,
  };
}

export function toApiMaskCheck(m: MaskCheckView): ApiMaskCheck {
  return { branch: m.branch, database: m.database, rules_sha256: m.rulesSha256, databases_checked: [...m.databasesChecked], ruled_columns: m.ruledColumns };
}

export function fromApiMaskCheck(m: ApiMaskCheck): MaskCheckView {
  return { branch: m.branch, database: m.database, rulesSha256: m.rules_sha256, databasesChecked: m.databases_checked, ruledColumns: m.ruled_columns };
}

export function toApiAuditEntry(e: AuditEntry): ApiAuditEntry {
  return {
    id: e.id,
    at: e.at,
    actor: e.actor,
    actor_name: e.actorName,
    operation: e.operation,
    target_kind: e.targetKind,
    target: e.target,
    result: e.result,
    error_code: e.errorCode as ErrorCode | null,
    duration_ms: e.durationMs,
    details: e.details,
  };
}

export function fromApiAuditEntry(e: ApiAuditEntry): AuditEntry {
  return {
    id: e.id,
    at: e.at,
    actor: e.actor,
    actorName: e.actor_name,
    operation: e.operation,
    targetKind: e.target_kind,
    target: e.target,
    result: e.result,
    errorCode: e.error_code,
    durationMs: e.duration_ms,
    details: e.details,
  };
}

export function toApiGcReport(r: GcReport): ApiGcReport {
  return { dry_run: r.dryRun, actions: r.actions.map((a) => ({ kind: a.kind, target: a.target, done: a.done })) };
}

export function fromApiGcReport(r: ApiGcReport): GcReport {
  return { dryRun: r.dry_run, actions: r.actions.map((a) => ({ kind: a.kind, target: a.target, done: a.done })) };
}

export function toApiSnapshot(s: SnapshotView): ApiSnapshot {
  return { id: s.id, name: s.name, branch: s.branch, branch_id: s.branchId, branch_deleted: s.branchDeleted, time: s.time, lsn: s.lsn, created_at: s.createdAt, kind: s.kind, masked: toApiMasked(s.masked) };
}

export function fromApiSnapshot(s: ApiSnapshot): SnapshotView {
  return { id: s.id, name: s.name, branch: s.branch, branchId: s.branch_id, branchDeleted: s.branch_deleted, time: s.time, lsn: s.lsn, createdAt: s.created_at, kind: s.kind, masked: fromApiMasked(s.masked) };
}

export function toApiSource(v: SourceView): ApiSource {
  const f = v.follow;
  const r = v.refresh;
  return {
    branch: v.branch,
    mode: v.mode,
    url: v.url,
    follow: f && {
      state: f.state,
      disconnected_since: f.disconnectedSince,
      last_error: f.lastError,
      receive_lsn: f.receiveLsn,
      replay_lsn: f.replayLsn,
      source_lsn: f.sourceLsn,
      lag_bytes: f.lagBytes,
      lag_seconds: f.lagSeconds,
      last_replayed_commit_at: f.lastReplayedCommitAt,
      slot: f.slot,
      after_refresh: [...f.afterRefresh],
      history: {
        window_ms: f.history.windowMs,
        snapshot_interval_ms: f.history.snapshotIntervalMs,
        from: f.history.from,
        from_lsn: f.history.fromLsn,
        snapshots: f.history.snapshots,
        snapshot_bytes: f.history.snapshotBytes,
        archive_bytes: f.history.archiveBytes,
      },
    },
    refresh: r && { generation: r.generation, last_refresh_at: r.lastRefreshAt, cron: r.cron, next_refresh_at: r.nextRefreshAt, running: r.running, after_refresh: [...r.afterRefresh] },
  };
}

export function fromApiSource(a: ApiSource): SourceView {
  const f = a.follow;
  const r = a.refresh;
  return {
    branch: a.branch,
    mode: a.mode,
    url: a.url,
    follow: f && {
      state: f.state,
      disconnectedSince: f.disconnected_since,
      lastError: f.last_error,
      receiveLsn: f.receive_lsn,
      replayLsn: f.replay_lsn,
      sourceLsn: f.source_lsn,
      lagBytes: f.lag_bytes,
      lagSeconds: f.lag_seconds,
      lastReplayedCommitAt: f.last_replayed_commit_at,
      slot: f.slot,
      afterRefresh: f.after_refresh,
      history: {
        windowMs: f.history.window_ms,
        snapshotIntervalMs: f.history.snapshot_interval_ms,
        from: f.history.from,
        fromLsn: f.history.from_lsn,
        snapshots: f.history.snapshots,
        snapshotBytes: f.history.snapshot_bytes,
        archiveBytes: f.history.archive_bytes,
      },
    },
    refresh: r && { generation: r.generation, lastRefreshAt: r.last_refresh_at, cron: r.cron, nextRefreshAt: r.next_refresh_at, running: r.running, afterRefresh: r.after_refresh },
  };
}

export function toApiSourceChange(c: SourceChange): ApiUpdateSourceBody {
  return {
    ...(c.historyWindowMs !== undefined ? { history_window_ms: c.historyWindowMs } : {}),
    ...(c.snapshotIntervalMs !== undefined ? { snapshot_interval_ms: c.snapshotIntervalMs } : {}),
    ...(c.refreshCron !== undefined ? { refresh_cron: c.refreshCron } : {}),
    ...(c.afterRefresh !== undefined ? { after_refresh: [...c.afterRefresh] } : {}),
  };
}

export function fromApiSourceChange(b: ApiUpdateSourceBody): SourceChange {
  return { historyWindowMs: b.history_window_ms, snapshotIntervalMs: b.snapshot_interval_ms, refreshCron: b.refresh_cron, afterRefresh: b.after_refresh };
}

// --- diff ---

/** The text a diff side travels as (the domain's parseDiffSide reads it back; kept here so the client stays free of server code). */
export function toApiDiffSide(side: DiffSide): string {
  switch (side.kind) {
    case 'name':
      return side.name;
    case 'branch-point':
      return `branch-point:${side.branch}`;
    default:
      return `${side.kind}:${side.name}`;
  }
}

/** A diff side from its text (`main`, `snapshot:seed`, `branch-point:pr-7`); the server checks the names. */
export function fromApiDiffSide(text: string): DiffSide {
  const colon = text.indexOf(':');
  const [prefix, name] = colon < 0 ? ['', text] : [text.slice(0, colon), text.slice(colon + 1)];
  if (prefix === 'branch-point') return { kind: 'branch-point', branch: name };
  if (prefix === 'branch' || prefix === 'snapshot') return { kind: prefix, name };
  // Unknown prefixes travel as they are and the server refuses them with its own message.
  return { kind: 'name', name: text };
}

/** The query of GET /v1/branches/{to}/diff for a request (flags only when set, so defaults stay the server's). */
export function toApiDiffQuery(r: DiffRequest): URLSearchParams {
  const query = new URLSearchParams();
  if (r.from) query.set('against', toApiDiffSide(r.from));
  for (const key of ['schema', 'data', 'rows', 'verify', 'full'] as const) if (r[key] !== undefined) query.set(key, String(r[key]));
  if (r.limit !== undefined) query.set('limit', String(r.limit));
  return query;
}

const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

function toApiSideView(s: DiffSideView): ApiDiff['from'] {
  return { kind: s.kind, name: s.name, ref: s.ref, lsn: s.lsn, time: s.time };
}

function fromApiSideView(s: ApiDiff['from']): DiffSideView {
  return { kind: s.kind, name: s.name, ref: s.ref, lsn: s.lsn, time: s.time };
}

type ApiTable = NonNullable<ApiDiff['data']>['tables'][number];
type DomainTable = DataDiffView['tables'][number];

function toApiTable(t: DomainTable): ApiTable {
  if (t.status !== 'compared') return { schema: t.schema, name: t.name, status: t.status };
  return {
    schema: t.schema,
    name: t.name,
    status: 'compared',
    method: t.method,
    ...optional('full_reason', t.fullReason),
    key_columns: t.keyColumns === null ? null : [...t.keyColumns],
    columns: [...t.columns],
    columns_added: [...t.columnsAdded],
    columns_dropped: [...t.columnsDropped],
    counts: { ...t.counts },
    ...optional('rows', t.rows?.map((r) => ({ ...r }))),
    ...optional('rows_truncated', t.rowsTruncated),
    scanned: { base_rows: t.scanned.baseRows, head_rows: t.scanned.headRows, ...optional('blocks', t.scanned.blocks), key_lookups: t.scanned.keyLookups },
  } as ApiTable;
}

function fromApiTable(t: ApiTable): DomainTable {
  if (t.status !== 'compared') return { schema: t.schema, name: t.name, status: t.status };
  return {
    schema: t.schema,
    name: t.name,
    status: 'compared',
    method: t.method,
    ...optional('fullReason', t.full_reason),
    keyColumns: t.key_columns,
    columns: t.columns,
    columnsAdded: t.columns_added,
    columnsDropped: t.columns_dropped,
    counts: t.counts,
    ...optional('rows', t.rows),
    ...optional('rowsTruncated', t.rows_truncated),
    scanned: { baseRows: t.scanned.base_rows, headRows: t.scanned.head_rows, ...optional('blocks', t.scanned.blocks), keyLookups: t.scanned.key_lookups },
  } as DomainTable;
}

export function toApiDiff(d: DiffView): ApiDiff {
  const s = d.schema;
  const v = s?.verification;
  return {
    from: toApiSideView(d.from),
    to: toApiSideView(d.to),
    database: d.database,
    ...optional(
      'schema',
      s && {
        statements: s.statements.map((st) => ({ sql: st.sql, action: st.action, kind: st.kind, identity: st.identity, ...optional('commit_after', st.commitAfter) })),
        unsupported: s.unsupported.map((u) => ({ ...u })),
        script: s.script,
        matched_by: s.matchedBy,
        ...optional('verification', v && { proven: v.proven, ...optional('failure', v.failure && { ...v.failure }), differences: v.differences.map((x) => ({ ...x })) }),
      },
    ),
    ...optional(
      'data',
      d.data && {
        method: d.data.method,
        ...optional('full_reason', d.data.fullReason),
        ...optional('changed_bytes', d.data.changedBytes),
        tables: d.data.tables.map(toApiTable),
        totals: { ...d.data.totals },
      },
    ),
    timings: {
      prepare_ms: d.timings.prepareMs,
      ...optional('schema_ms', d.timings.schemaMs),
      ...optional('data_ms', d.timings.dataMs),
      ...optional('ranges_ms', d.timings.rangesMs),
      ...optional('verify_ms', d.timings.verifyMs),
      total_ms: d.timings.totalMs,
    },
  } as ApiDiff;
}

export function fromApiDiff(a: ApiDiff): DiffView {
  const s = a.schema;
  const v = s?.verification;
  return {
    from: fromApiSideView(a.from),
    to: fromApiSideView(a.to),
    database: a.database,
    ...optional(
      'schema',
      s && {
        statements: s.statements.map((st) => ({ sql: st.sql, action: st.action, kind: st.kind, identity: st.identity, ...optional('commitAfter', st.commit_after) })),
        unsupported: s.unsupported,
        script: s.script,
        matchedBy: s.matched_by,
        ...optional('verification', v && { proven: v.proven, ...optional('failure', v.failure), differences: v.differences }),
      },
    ),
    ...optional(
      'data',
      a.data && {
        method: a.data.method,
        ...optional('fullReason', a.data.full_reason),
        ...optional('changedBytes', a.data.changed_bytes),
        tables: a.data.tables.map(fromApiTable),
        totals: a.data.totals,
      },
    ),
    timings: {
      prepareMs: a.timings.prepare_ms,
      ...optional('schemaMs', a.timings.schema_ms),
      ...optional('dataMs', a.timings.data_ms),
      ...optional('rangesMs', a.timings.ranges_ms),
      ...optional('verifyMs', a.timings.verify_ms),
      totalMs: a.timings.total_ms,
    },
  } as DiffView;
}

export function toApiRebaseBody(r: RebaseRequest): ApiRebaseBody {
  return {
    ...(r.dryRun !== undefined ? { dry_run: r.dryRun } : {}),
    ...(r.onto !== undefined ? { onto: r.onto } : {}),
    ...(r.prefer !== undefined ? { prefer: r.prefer } : {}),
    ...(r.undo !== undefined ? { undo: r.undo } : {}),
  };
}

export function fromApiRebaseBody(b: ApiRebaseBody): RebaseRequest {
  return {
    ...(b.dry_run !== undefined ? { dryRun: b.dry_run } : {}),
    ...(b.onto !== undefined ? { onto: b.onto } : {}),
    ...(b.prefer !== undefined ? { prefer: b.prefer } : {}),
    ...(b.undo !== undefined ? { undo: b.undo } : {}),
  };
}

export function toApiRebase(r: RebaseReport): ApiRebaseReport {
  return {
    branch: r.branch,
    action: r.action,
    onto: r.onto,
    dry_run: r.dryRun,
    applied: r.applied,
    prefer: r.prefer,
    schema: { statements: r.schema.statements.map((s) => ({ sql: s.sql, kind: s.kind, identity: s.identity, action: s.action })), already_on_parent: r.schema.alreadyOnParent },
    data: {
      tables: r.data.tables.map((t) => ({
        schema: t.schema,
        name: t.name,
        inserted: t.inserted,
        updated: t.updated,
        deleted: t.deleted,
        already_on_parent: t.alreadyOnParent,
        ...(t.copied !== undefined ? { copied: t.copied } : {}),
      })),
      totals: r.data.totals,
    },
    conflicts: r.conflicts.map((c) => ({ ...c })),
    conflict_count: r.conflictCount,
    undo_snapshot: r.undoSnapshot,
    branch_point: r.branchPoint,
    timings: { capture_ms: r.timings.captureMs, replay_ms: r.timings.replayMs, swap_ms: r.timings.swapMs, total_ms: r.timings.totalMs },
  };
}

export function fromApiRebase(r: ApiRebaseReport): RebaseReport {
  return {
    branch: r.branch,
    action: r.action,
    onto: r.onto,
    dryRun: r.dry_run,
    applied: r.applied,
    prefer: r.prefer,
    schema: { statements: r.schema.statements.map((s) => ({ sql: s.sql, kind: s.kind, identity: s.identity, action: s.action as SchemaStatementAction })), alreadyOnParent: r.schema.already_on_parent },
    data: {
      tables: r.data.tables.map((t) => ({
        schema: t.schema,
        name: t.name,
        inserted: t.inserted,
        updated: t.updated,
        deleted: t.deleted,
        alreadyOnParent: t.already_on_parent,
        ...(t.copied !== undefined ? { copied: t.copied } : {}),
      })),
      totals: r.data.totals,
    },
    conflicts: r.conflicts.map((c) => ({ ...c })),
    conflictCount: r.conflict_count,
    undoSnapshot: r.undo_snapshot,
    branchPoint: r.branch_point,
    timings: { captureMs: r.timings.capture_ms, replayMs: r.timings.replay_ms, swapMs: r.timings.swap_ms, totalMs: r.timings.total_ms },
  };
}
