import { openDatabase, type Db } from './database.js';
import { isSealed, openText, sealText } from './secret-box.js';

export type DesiredState = 'running' | 'suspended' | 'stopped';

/** A postmaster that accepted a connection: its pid, and when (ms since the epoch). */
export interface InstanceReadyRecord {
  readonly pid: number;
  readonly seenAtMs: number;
}

export interface VolumeSizeRecord {
  readonly ownBytes: number;
  readonly totalBytes: number;
  /** ISO-8601 time of the measurement. */
  readonly measuredAt: string;
  /** The volume's change mark read before the measurement (see StorageDriver.changeMarks); null if unknown. */
  readonly mark: string | null;
}

/** A branch as stored. Timestamps are ISO-8601 UTC strings. */
export interface BranchRecord {
  readonly id: string;
  readonly name: string;
  readonly parentId: string | null;
  /** Name of the parent when the branch was made; kept after the parent is deleted. */
  readonly parentName: string | null;
  readonly volume: string;
  readonly port: number;
  readonly dbUser: string;
  readonly dbName: string;
  readonly password: string;
  readonly desiredState: DesiredState;
  /** Idle time after which the host suspends the branch; null = host default, 0 = never. */
  readonly idleTimeoutMs: number | null;
  /** How the branch got its data: JSON, e.g. {"kind":"branch"} or {"kind":"dump","format":"custom"}. */
  readonly source: string;
  readonly branchLsn: string | null;
  readonly branchTime: string | null;
  readonly createdAt: string;
  readonly resetAt: string | null;
  readonly updatedAt: string;
  /** Refuses delete, reset and expiry until cleared. */
  readonly protected: boolean;
  /** When the host deletes the branch (ISO-8601 UTC); null = never. */
  readonly expiresAt: string | null;
  /** The snapshot this branch was made from (reset returns to it); null otherwise. */
  readonly parentSnapshotId: string | null;
  /** Audit actor that created the branch (`token:<id>`, `local:<user>`, `host`); null before quotas existed. */
  readonly createdBy: string | null;
  /** Cap on the bytes the branch may own, enforced by the storage driver; null = no cap. */
  readonly maxOwnBytes: number | null;
  /** PostgreSQL major of its data directory; null = the host's configured major. */
  readonly pgMajor: number | null;
  /** SHA-256 (hex) of the masking rules its data was masked with; null = not a masked branch. */
  readonly maskedRulesSha256: string | null;
  /** When its data was masked (inherited by branches of a masked branch); null = not masked. */
  readonly maskedAt: string | null;
}

/** The kind of a recorded operation; which kinds exist and what their data means is the domain's. */
export type OperationKind = string;

/** A snapshot as stored: a volume no instance runs on. */
export interface SnapshotRecord {
  readonly id: string;
  readonly name: string;
  readonly volume: string;
  readonly sourceBranchId: string;
  readonly sourceBranchName: string;
  readonly dbUser: string;
  readonly dbName: string;
  /** Approximate (the source's WAL position right after the clone); null when not known. */
  readonly lsn: string | null;
  readonly time: string;
  readonly createdAt: string;
  /** 'user': made on request; 'history': kept for a following root's history window. */
  readonly kind: SnapshotKind;
  /** PostgreSQL major of its data directory; null = the host's configured major. */
  readonly pgMajor: number | null;
  /** Where recovery of a clone starts (WAL before it is not needed); null when not known. */
  readonly redoLsn: string | null;
  /** The masked mark of the branch it was taken of (branches made from it inherit it); null = not masked. */
  readonly maskedRulesSha256: string | null;
  readonly maskedAt: string | null;
}

export type SnapshotKind = 'user' | 'history';

interface SnapshotRow {
  id: string;
  name: string;
  volume: string;
  source_branch_id: string;
  source_branch_name: string;
  db_user: string;
  db_name: string;
  lsn: string | null;
  snapshot_time: string;
  created_at: string;
  kind: SnapshotKind;
  pg_major: number | null;
  redo_lsn: string | null;
  masked_rules_sha256: string | null;
  masked_at: string | null;
}

function toSnapshot(row: SnapshotRow): SnapshotRecord {
  return {
    id: row.id,
    name: row.name,
    volume: row.volume,
    sourceBranchId: row.source_branch_id,
    sourceBranchName: row.source_branch_name,
    dbUser: row.db_user,
    dbName: row.db_name,
    lsn: row.lsn,
    time: row.snapshot_time,
    createdAt: row.created_at,
    kind: row.kind,
    pgMajor: row.pg_major,
    redoLsn: row.redo_lsn,
    maskedRulesSha256: row.masked_rules_sha256,
    maskedAt: row.masked_at,
  };
}

export interface OperationRecord {
  readonly id: number;
  readonly kind: OperationKind;
  readonly branchId: string;
  readonly branchName: string;
  readonly step: string;
  /** Operation-specific facts needed to roll back or forward (volume names, port…). */
  readonly data: Record<string, unknown>;
  readonly pid: number;
  readonly startedAt: string;
}

interface BranchRow {
  id: string;
  name: string;
  parent_id: string | null;
  parent_name: string | null;
  volume: string;
  port: number;
  db_user: string;
  db_name: string;
  password: string;
  desired_state: DesiredState;
  idle_timeout_ms: number | null;
  source: string;
  branch_lsn: string | null;
  branch_time: string | null;
  created_at: string;
  reset_at: string | null;
  updated_at: string;
  protected: number;
  expires_at: string | null;
  parent_snapshot_id: string | null;
  created_by: string | null;
  max_own_bytes: number | null;
  pg_major: number | null;
  masked_rules_sha256: string | null;
  masked_at: string | null;
}

interface OperationRow {
  id: number;
  kind: OperationKind;
  branch_id: string;
  branch_name: string;
  step: string;
  data: string;
  pid: number;
  started_at: string;
}

const now = (): string => new Date().toISOString();

function toBranch(row: BranchRow, key?: Buffer): BranchRecord {
  // Opened when first read: a list of a thousand branches reads no password at all.
  let password: string | undefined;
  return {
    get password(): string {
      return (password ??= openText(key, row.password));
    },
    id: row.id,
    name: row.name,
    parentId: row.parent_id,
    parentName: row.parent_name,
    volume: row.volume,
    port: row.port,
    dbUser: row.db_user,
    dbName: row.db_name,
    desiredState: row.desired_state,
    idleTimeoutMs: row.idle_timeout_ms,
    source: row.source,
    branchLsn: row.branch_lsn,
    branchTime: row.branch_time,
    createdAt: row.created_at,
    resetAt: row.reset_at,
    updatedAt: row.updated_at,
    protected: row.protected === 1,
    expiresAt: row.expires_at,
    parentSnapshotId: row.parent_snapshot_id,
    createdBy: row.created_by,
    maxOwnBytes: row.max_own_bytes,
    pgMajor: row.pg_major,
    maskedRulesSha256: row.masked_rules_sha256,
    maskedAt: row.masked_at,
  };
}

function toOperation(row: OperationRow, key?: Buffer): OperationRecord {
  return {
    id: row.id,
    kind: row.kind,
    branchId: row.branch_id,
    branchName: row.branch_name,
    step: row.step,
    data: JSON.parse(openText(key, row.data)) as Record<string, unknown>,
    pid: row.pid,
    startedAt: row.started_at,
  };
}

export type NewBranch = Omit<
  BranchRecord,
  'createdAt' | 'updatedAt' | 'resetAt' | 'idleTimeoutMs' | 'protected' | 'expiresAt' | 'parentSnapshotId' | 'createdBy' | 'maxOwnBytes' | 'pgMajor' | 'maskedRulesSha256' | 'maskedAt'
> & {
  readonly maskedRulesSha256?: string | null;
  readonly maskedAt?: string | null;
  readonly pgMajor?: number | null;
  readonly parentSnapshotId?: string | null;
  readonly createdBy?: string | null;
  readonly maxOwnBytes?: number | null;
  readonly idleTimeoutMs?: number | null;
  readonly protected?: boolean;
  readonly expiresAt?: string | null;
};

/** A masking rules file as kept for re-masking: its text and the name shown in problems. */
export interface StoredMaskRules {
  readonly rules: string;
  readonly file: string | null;
}

export type SourceMode = 'follow' | 'refresh';

/** A root branch's source as stored (never its password). */
export interface SourceRecord {
  readonly branchId: string;
  readonly mode: SourceMode;
  /** The source's URL without its password. */
  readonly displayUrl: string;
  /** The source cluster's system identifier (follow): a different one means another cluster. */
  readonly systemId: string | null;
  /** Physical replication slot on the source; null = none (WAL retention is the source's wal_keep_size). */
  readonly slotName: string | null;
  /** Volume holding the archived WAL of a following root. */
  readonly archiveVolume: string | null;
  readonly historyWindowMs: number | null;
  readonly snapshotIntervalMs: number | null;
  /** Cron expression of scheduled refreshes (refresh mode); null = on request only. */
  readonly refreshCron: string | null;
  /** Shell commands run on each new generation before it is switched in (refresh mode). */
  readonly afterRefresh: readonly string[];
  /** Refresh mode: how many imports made the root's current data (1 = the first). */
  readonly generation: number;
  readonly lastRefreshAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

interface SourceRow {
  branch_id: string;
  mode: SourceMode;
  display_url: string;
  system_id: string | null;
  slot_name: string | null;
  archive_volume: string | null;
  history_window_ms: number | null;
  snapshot_interval_ms: number | null;
  refresh_cron: string | null;
  after_refresh: string;
  generation: number;
  last_refresh_at: string | null;
  created_at: string;
  updated_at: string;
}

function toSource(row: SourceRow): SourceRecord {
  return {
    branchId: row.branch_id,
    mode: row.mode,
    displayUrl: row.display_url,
    systemId: row.system_id,
    slotName: row.slot_name,
    archiveVolume: row.archive_volume,
    historyWindowMs: row.history_window_ms,
    snapshotIntervalMs: row.snapshot_interval_ms,
    refreshCron: row.refresh_cron,
    afterRefresh: JSON.parse(row.after_refresh) as string[],
    generation: row.generation,
    lastRefreshAt: row.last_refresh_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export type NewSource = Omit<SourceRecord, 'createdAt' | 'updatedAt' | 'generation' | 'lastRefreshAt' | 'afterRefresh'>;
export type SourceChange = Partial<Pick<SourceRecord, 'historyWindowMs' | 'snapshotIntervalMs' | 'refreshCron' | 'generation' | 'lastRefreshAt' | 'systemId' | 'afterRefresh'>>;

const SOURCE_COLUMNS: Record<keyof SourceChange, string> = {
  afterRefresh: 'after_refresh',
  historyWindowMs: 'history_window_ms',
  snapshotIntervalMs: 'snapshot_interval_ms',
  refreshCron: 'refresh_cron',
  generation: 'generation',
  lastRefreshAt: 'last_refresh_at',
  systemId: 'system_id',
};

export type AuditResult = 'started' | 'ok' | 'error' | 'interrupted';
export type AuditTargetKind = 'branch' | 'token' | 'host';

/** One audited call. `actor`: `token:<id>`, `local:<os user>` or `host`. */
export interface AuditRecord {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly actorName: string | null;
  readonly operation: string;
  readonly targetKind: AuditTargetKind;
  readonly target: string;
  readonly result: AuditResult;
  readonly errorCode: string | null;
  readonly durationMs: number | null;
  readonly details: Record<string, unknown> | null;
}

export interface AuditQuery {
  /** Entries whose target is this branch. */
  readonly branch?: string;
  readonly targetKind?: AuditTargetKind;
  /** ISO-8601 bounds on `at`: since inclusive, until exclusive. */
  readonly since?: string;
  readonly until?: string;
  /** Newest entries first, at most this many. */
  readonly limit?: number;
}

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  actor_name: string | null;
  operation: string;
  target_kind: AuditTargetKind;
  target: string;
  result: AuditResult;
  error_code: string | null;
  duration_ms: number | null;
  details: string | null;
}

function toAudit(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    actorName: row.actor_name,
    operation: row.operation,
    targetKind: row.target_kind,
    target: row.target,
    result: row.result,
    errorCode: row.error_code,
    durationMs: row.duration_ms,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
  };
}

export type TokenRole = 'read' | 'write' | 'admin';

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly secretSha256: string;
  readonly role: TokenRole;
  /** Glob patterns of branch names the token may act on; empty = all branches. */
  readonly branchPatterns: readonly string[];
  /** Sees and operates masked branches only (API and endpoint). */
  readonly maskedOnly: boolean;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

interface TokenRow {
  id: string;
  name: string;
  secret_sha256: string;
  role: TokenRole;
  branch_patterns: string;
  masked_only: number;
  created_at: string;
  last_used_at: string | null;
}

function toToken(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    secretSha256: row.secret_sha256,
    role: row.role,
    branchPatterns: JSON.parse(row.branch_patterns) as string[],
    maskedOnly: row.masked_only === 1,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}

/**
 * Durable metadata of one host: plain SQLite access, no business rules. Callers (branches/)
 * decide what the rows mean.
 */
export class StateStore {
  private constructor(
    private readonly db: Db,
    /** Seals branch passwords and intent data at rest; without it they are stored as given. */
    private readonly key?: Buffer,
  ) {}

  /**
   * `key`: the host's state key (kept outside state.db). Secrets written before there was one
   * are sealed now, so that a copy of the file alone reveals none.
   */
  static open(file: string, key?: Buffer): StateStore {
    const store = new StateStore(openDatabase(file), key);
    if (key) store.sealPlainSecrets();
    return store;
  }

  private seal(text: string): string {
    return this.key ? sealText(this.key, text) : text;
  }

  private sealPlainSecrets(): void {
    const sealed = this.transaction(() => {
      let n = 0;
      for (const row of this.db.prepare('SELECT id, password FROM branches').all() as { id: string; password: string }[]) {
        if (isSealed(row.password)) continue;
        this.db.prepare('UPDATE branches SET password = ? WHERE id = ?').run(this.seal(row.password), row.id);
        n++;
      }
      for (const row of this.db.prepare('SELECT id, data FROM operations').all() as { id: number; data: string }[]) {
        if (isSealed(row.data)) continue;
        this.db.prepare('UPDATE operations SET data = ? WHERE id = ?').run(this.seal(row.data), row.id);
        n++;
      }
      return n;
    });
    if (sealed === 0) return;
    // The old plain-text pages must not linger in the WAL or in free pages of the file.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one SQLite transaction (all or nothing). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * Runs a write whose loss on power failure is harmless without waiting for the disk (no fsync
   * of the WAL at its commit; a process crash still cannot lose it). Its durability comes with
   * the next ordinary commit, whose fsync covers every earlier WAL frame: the host lock row (a
   * lock of a process that did not survive is free anyway) and an audit entry's start (nothing
   * durable happens before the operation's own commit, or its finished entry, is on disk). Saves
   * ~0.4 ms each on the hot path of every operation.
   */
  private unsynced<T>(fn: () => T): T {
    // Inside a transaction the write commits with it, under whatever that commit does.
    if (this.db.inTransaction) return fn();
    this.db.pragma('synchronous = NORMAL');
    try {
      return fn();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  // --- branches ---

  listBranches(): BranchRecord[] {
    return (this.db.prepare('SELECT * FROM branches ORDER BY created_at, name').all() as BranchRow[]).map((r) => toBranch(r, this.key));
  }

  getBranchByName(name: string): BranchRecord | undefined {
    const row = this.db.prepare('SELECT * FROM branches WHERE name = ?').get(name) as BranchRow | undefined;
    return row && toBranch(row, this.key);
  }

  getBranchById(id: string): BranchRecord | undefined {
    const row = this.db.prepare('SELECT * FROM branches WHERE id = ?').get(id) as BranchRow | undefined;
    return row && toBranch(row, this.key);
  }

  insertBranch(branch: NewBranch): void {
    const ts = now();
    this.db
      .prepare(
        `INSERT INTO branches (id, name, parent_id, parent_name, volume, port, db_user, db_name, password,
           desired_state, idle_timeout_ms, source, branch_lsn, branch_time, created_at, reset_at, updated_at, protected, expires_at, parent_snapshot_id,
           created_by, max_own_bytes, pg_major, masked_rules_sha256, masked_at)
         VALUES (@id, @name, @parentId, @parentName, @volume, @port, @dbUser, @dbName, @password,
           @desiredState, @idleTimeoutMs, @source, @branchLsn, @branchTime, @ts, NULL, @ts, @protected, @expiresAt, @parentSnapshotId,
           @createdBy, @maxOwnBytes, @pgMajor, @maskedRulesSha256, @maskedAt)`,
      )
      .run({
        idleTimeoutMs: null,
        expiresAt: null,
        parentSnapshotId: null,
        createdBy: null,
        maxOwnBytes: null,
        pgMajor: null,
        maskedRulesSha256: null,
        maskedAt: null,
        ...branch,
        password: this.seal(branch.password),
        protected: branch.protected ? 1 : 0,
        ts,
      });
  }

  /** Points a branch at a new volume after a reset. */
  replaceVolume(id: string, change: { volume: string; branchLsn: string | null; branchTime: string | null }): void {
    const ts = now();
    this.db
      .prepare('UPDATE branches SET volume = ?, branch_lsn = ?, branch_time = ?, reset_at = ?, updated_at = ? WHERE id = ?')
      .run(change.volume, change.branchLsn, change.branchTime, ts, ts, id);
  }

  setDesiredState(id: string, state: DesiredState): void {
    this.db.prepare('UPDATE branches SET desired_state = ?, updated_at = ? WHERE id = ?').run(state, now(), id);
  }

  setIdleTimeout(id: string, idleTimeoutMs: number | null): void {
    this.db.prepare('UPDATE branches SET idle_timeout_ms = ?, updated_at = ? WHERE id = ?').run(idleTimeoutMs, now(), id);
  }

  setProtected(id: string, value: boolean): void {
    this.db.prepare('UPDATE branches SET protected = ?, updated_at = ? WHERE id = ?').run(value ? 1 : 0, now(), id);
  }

  setExpiresAt(id: string, expiresAt: string | null): void {
    this.db.prepare('UPDATE branches SET expires_at = ?, updated_at = ? WHERE id = ?').run(expiresAt, now(), id);
  }

  /**
   * Marks a branch masked. With `rules` (the branch ran the masking itself), keeps the rules file
   * it was masked with, for re-masking; without, it holds masked data it did not mask (inherited).
   */
  setMasked(id: string, masked: { rulesSha256: string; maskedAt: string; rules?: StoredMaskRules }): void {
    this.db.prepare('UPDATE branches SET masked_rules_sha256 = ?, masked_at = ?, updated_at = ? WHERE id = ?').run(masked.rulesSha256, masked.maskedAt, now(), id);
    if (masked.rules) {
      this.db
        .prepare('INSERT INTO mask_rules (branch_id, rules, file) VALUES (?, ?, ?) ON CONFLICT (branch_id) DO UPDATE SET rules = excluded.rules, file = excluded.file')
        .run(id, masked.rules.rules, masked.rules.file);
    }
  }

  /** The rules file a branch was masked with, if it ran the masking itself (see setMasked; its hash is the branch's masked_rules_sha256). */
  getMaskRules(id: string): StoredMaskRules | undefined {
    return this.db.prepare('SELECT rules, file FROM mask_rules WHERE branch_id = ?').get(id) as StoredMaskRules | undefined;
  }

  setMaxOwnBytes(id: string, maxOwnBytes: number | null): void {
    this.db.prepare('UPDATE branches SET max_own_bytes = ?, updated_at = ? WHERE id = ?').run(maxOwnBytes, now(), id);
  }

  /** Number of branches, all of them or those `createdBy` one actor. */
  countBranches(createdBy?: string): number {
    const row = (
      createdBy === undefined
        ? this.db.prepare('SELECT count(*) AS n FROM branches').get()
        : this.db.prepare('SELECT count(*) AS n FROM branches WHERE created_by = ?').get(createdBy)
    ) as { n: number };
    return row.n;
  }

  setPassword(id: string, password: string): void {
    this.db.prepare('UPDATE branches SET password = ?, updated_at = ? WHERE id = ?').run(this.seal(password), now(), id);
  }

  /** Deletes a branch; its children keep their data and remember the parent's name. */
  deleteBranch(id: string): void {
    this.db.prepare('UPDATE branches SET parent_id = NULL, updated_at = ? WHERE parent_id = ?').run(now(), id);
    this.db.prepare('DELETE FROM branches WHERE id = ?').run(id);
  }

  usedPorts(): Set<number> {
    return new Set((this.db.prepare('SELECT port FROM branches').all() as { port: number }[]).map((r) => r.port));
  }

  // --- measured volume sizes (a cache: lists read it, serve refreshes it) ---

  listVolumeSizes(): Map<string, VolumeSizeRecord> {
    const rows = this.db.prepare('SELECT volume, own_bytes, total_bytes, measured_at, mark FROM volume_sizes').all() as {
      volume: string;
      own_bytes: number;
      total_bytes: number;
      measured_at: string;
      mark: string | null;
    }[];
    return new Map(rows.map((r) => [r.volume, { ownBytes: r.own_bytes, totalBytes: r.total_bytes, measuredAt: r.measured_at, mark: r.mark }]));
  }

  putVolumeSize(volume: string, size: { ownBytes: number; totalBytes: number }, mark: string | null = null): void {
    this.db
      .prepare(
        'INSERT INTO volume_sizes (volume, own_bytes, total_bytes, measured_at, mark) VALUES (?, ?, ?, ?, ?) ON CONFLICT (volume) DO UPDATE SET own_bytes = excluded.own_bytes, total_bytes = excluded.total_bytes, measured_at = excluded.measured_at, mark = excluded.mark',
      )
      .run(volume, size.ownBytes, size.totalBytes, now(), mark);
  }

  /** Drops the sizes of volumes not in `keep` (deleted since they were measured). */
  pruneVolumeSizes(keep: ReadonlySet<string>): void {
    const del = this.db.prepare('DELETE FROM volume_sizes WHERE volume = ?');
    for (const volume of this.listVolumeSizes().keys()) if (!keep.has(volume)) del.run(volume);
  }

  // --- "ready" answers of instances (a cache: lists in any process believe them for a while) ---

  listInstanceReady(): Map<string, InstanceReadyRecord> {
    const rows = this.db.prepare('SELECT volume, pid, seen_at_ms FROM instance_ready').all() as { volume: string; pid: number; seen_at_ms: number }[];
    return new Map(rows.map((r) => [r.volume, { pid: r.pid, seenAtMs: r.seen_at_ms }]));
  }

  /**
   * Keeps new ready answers and forgets volumes seen not ready, in one transaction (one sync per
   * list or health beat, not one per instance). `replace`: what is kept is exactly `ready` (the
   * health beat, which looked at every instance that should run).
   */
  keepInstanceReady(ready: ReadonlyMap<string, InstanceReadyRecord>, notReady: Iterable<string>, options: { replace?: boolean } = {}): void {
    const put = this.db.prepare('INSERT INTO instance_ready (volume, pid, seen_at_ms) VALUES (?, ?, ?) ON CONFLICT (volume) DO UPDATE SET pid = excluded.pid, seen_at_ms = excluded.seen_at_ms');
    const del = this.db.prepare('DELETE FROM instance_ready WHERE volume = ?');
    this.db.transaction(() => {
      if (options.replace) this.db.prepare('DELETE FROM instance_ready').run();
      for (const volume of notReady) del.run(volume);
      for (const [volume, r] of ready) put.run(volume, r.pid, r.seenAtMs);
    })();
  }

  // --- the serving process ---

  /** Records `pid` as this host's serve (one at a time: the last to start). */
  setServing(pid: number): void {
    this.db.prepare('INSERT INTO serving (id, pid, started_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, started_at = excluded.started_at').run(pid, now());
  }

  /** Forgets `pid` as the serve (a later serve's row stays). */
  clearServing(pid: number): void {
    this.db.prepare('DELETE FROM serving WHERE pid = ?').run(pid);
  }

  servingPid(): number | undefined {
    return (this.db.prepare('SELECT pid FROM serving WHERE id = 1').get() as { pid: number } | undefined)?.pid;
  }

  // --- snapshots ---

  listSnapshots(): SnapshotRecord[] {
    return (this.db.prepare('SELECT * FROM snapshots ORDER BY created_at, name').all() as SnapshotRow[]).map(toSnapshot);
  }

  getSnapshotByName(name: string): SnapshotRecord | undefined {
    const row = this.db.prepare('SELECT * FROM snapshots WHERE name = ?').get(name) as SnapshotRow | undefined;
    return row && toSnapshot(row);
  }

  getSnapshotById(id: string): SnapshotRecord | undefined {
    const row = this.db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as SnapshotRow | undefined;
    return row && toSnapshot(row);
  }

  insertSnapshot(
    snapshot: Omit<SnapshotRecord, 'createdAt' | 'kind' | 'pgMajor' | 'redoLsn' | 'maskedRulesSha256' | 'maskedAt'> &
      Partial<Pick<SnapshotRecord, 'kind' | 'pgMajor' | 'redoLsn' | 'maskedRulesSha256' | 'maskedAt'>>,
  ): void {
    this.db
      .prepare(
        `INSERT INTO snapshots (id, name, volume, source_branch_id, source_branch_name, db_user, db_name, lsn, snapshot_time, created_at, kind, pg_major, redo_lsn,
           masked_rules_sha256, masked_at)
         VALUES (@id, @name, @volume, @sourceBranchId, @sourceBranchName, @dbUser, @dbName, @lsn, @time, @createdAt, @kind, @pgMajor, @redoLsn,
           @maskedRulesSha256, @maskedAt)`,
      )
      .run({ kind: 'user', pgMajor: null, redoLsn: null, maskedRulesSha256: null, maskedAt: null, ...snapshot, createdAt: now() });
  }

  deleteSnapshot(id: string): void {
    this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(id);
  }

  // --- sources ---

  insertSource(source: NewSource): void {
    const ts = now();
    this.db
      .prepare(
        `INSERT INTO sources (branch_id, mode, display_url, system_id, slot_name, archive_volume, history_window_ms, snapshot_interval_ms, refresh_cron, created_at, updated_at)
         VALUES (@branchId, @mode, @displayUrl, @systemId, @slotName, @archiveVolume, @historyWindowMs, @snapshotIntervalMs, @refreshCron, @ts, @ts)`,
      )
      .run({ ...source, ts });
  }

  getSource(branchId: string): SourceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM sources WHERE branch_id = ?').get(branchId) as SourceRow | undefined;
    return row && toSource(row);
  }

  listSources(): SourceRecord[] {
    return (this.db.prepare('SELECT * FROM sources ORDER BY created_at').all() as SourceRow[]).map(toSource);
  }

  updateSource(branchId: string, change: SourceChange): void {
    const entries = Object.entries(change)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, k === 'afterRefresh' ? JSON.stringify(v) : v]) as [keyof SourceChange, unknown][];
    if (entries.length === 0) return;
    const sets = entries.map(([k]) => `${SOURCE_COLUMNS[k]} = ?`).join(', ');
    this.db.prepare(`UPDATE sources SET ${sets}, updated_at = ? WHERE branch_id = ?`).run(...entries.map(([, v]) => v), now(), branchId);
  }

  deleteSource(branchId: string): void {
    this.db.prepare('DELETE FROM sources WHERE branch_id = ?').run(branchId);
  }

  // --- operations (intent log) ---

  beginOperation(op: { kind: OperationKind; branchId: string; branchName: string; step: string; data: Record<string, unknown> }): number {
    const ts = now();
    const result = this.db
      .prepare(
        `INSERT INTO operations (kind, branch_id, branch_name, step, data, pid, started_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(op.kind, op.branchId, op.branchName, op.step, this.seal(JSON.stringify(op.data)), process.pid, ts, ts);
    return Number(result.lastInsertRowid);
  }

  advanceOperation(id: number, step: string, data?: Record<string, unknown>): void {
    if (data) {
      this.db.prepare('UPDATE operations SET step = ?, data = ?, updated_at = ? WHERE id = ?').run(step, this.seal(JSON.stringify(data)), now(), id);
    } else {
      this.db.prepare('UPDATE operations SET step = ?, updated_at = ? WHERE id = ?').run(step, now(), id);
    }
  }

  finishOperation(id: number): void {
    this.db.prepare('DELETE FROM operations WHERE id = ?').run(id);
  }

  listOperations(): OperationRecord[] {
    return (this.db.prepare('SELECT * FROM operations ORDER BY id').all() as OperationRow[]).map((r) => toOperation(r, this.key));
  }

  // --- API tokens ---

  insertToken(token: Omit<TokenRecord, 'createdAt' | 'lastUsedAt' | 'maskedOnly'> & { readonly maskedOnly?: boolean }): TokenRecord {
    this.db
      .prepare('INSERT INTO tokens (id, name, secret_sha256, role, branch_patterns, masked_only, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(token.id, token.name, token.secretSha256, token.role, JSON.stringify(token.branchPatterns), token.maskedOnly ? 1 : 0, now());
    return this.getToken(token.id)!;
  }

  getToken(id: string): TokenRecord | undefined {
    const row = this.db.prepare('SELECT * FROM tokens WHERE id = ?').get(id) as TokenRow | undefined;
    return row && toToken(row);
  }

  listTokens(): TokenRecord[] {
    return (this.db.prepare('SELECT * FROM tokens ORDER BY created_at, id').all() as TokenRow[]).map(toToken);
  }

  /** Returns whether a token was deleted. */
  deleteToken(id: string): boolean {
    return this.db.prepare('DELETE FROM tokens WHERE id = ?').run(id).changes > 0;
  }

  touchToken(id: string): void {
    this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE id = ?').run(now(), id);
  }

  // --- audit log ---

  /** Records that a call starts; returns the entry's id for `finishAudit`. */
  beginAudit(entry: { actor: string; actorName: string | null; operation: string; targetKind: AuditTargetKind; target: string; details?: Record<string, unknown> }): number {
    const result = this.unsynced(() =>
      this.db
        .prepare(
          `INSERT INTO audit (at, actor, actor_name, operation, target_kind, target, result, details, pid)
           VALUES (?, ?, ?, ?, ?, ?, 'started', ?, ?)`,
        )
        .run(now(), entry.actor, entry.actorName, entry.operation, entry.targetKind, entry.target, entry.details ? JSON.stringify(entry.details) : null, process.pid),
    );
    return Number(result.lastInsertRowid);
  }

  /** `target`: set when it is only known afterwards (the id of a new token). */
  finishAudit(id: number, outcome: { result: 'ok' | 'error'; errorCode?: string; durationMs: number; target?: string }): void {
    this.db
      .prepare('UPDATE audit SET result = ?, error_code = ?, duration_ms = ?, target = COALESCE(?, target) WHERE id = ?')
      .run(outcome.result, outcome.errorCode ?? null, outcome.durationMs, outcome.target ?? null, id);
  }

  /** Entries still 'started' whose process is gone died with it; returns how many. */
  markInterruptedAudit(isAlive: (pid: number) => boolean): number {
    const rows = this.db.prepare("SELECT id, pid FROM audit WHERE result = 'started'").all() as { id: number; pid: number }[];
    const dead = rows.filter((r) => r.pid !== process.pid && !isAlive(r.pid));
    const mark = this.db.prepare("UPDATE audit SET result = 'interrupted' WHERE id = ?");
    this.transaction(() => dead.forEach((r) => mark.run(r.id)));
    return dead.length;
  }

  listAudit(query: AuditQuery = {}): AuditRecord[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.branch !== undefined) {
      where.push("target_kind = 'branch' AND target = ?");
      params.push(query.branch);
    }
    if (query.targetKind !== undefined) {
      where.push('target_kind = ?');
      params.push(query.targetKind);
    }
    if (query.since !== undefined) {
      where.push('at >= ?');
      params.push(query.since);
    }
    if (query.until !== undefined) {
      where.push('at < ?');
      params.push(query.until);
    }
    const sql = `SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...params, query.limit ?? -1) as AuditRow[]).map(toAudit);
  }

  // --- host lock ---

  /**
   * Takes the host's mutation lock for `pid` if it is free or held by a process `isAlive` says is
   * gone (a crashed CLI). Returns false when a live process holds it.
   */
  tryLock(pid: number, isAlive: (pid: number) => boolean): boolean {
    return this.unsynced(() =>
      this.transaction(() => {
        const row = this.db.prepare('SELECT pid FROM host_lock WHERE id = 1').get() as { pid: number } | undefined;
        if (row && row.pid !== pid && isAlive(row.pid)) return false;
        this.db.prepare('INSERT OR REPLACE INTO host_lock (id, pid, acquired_at) VALUES (1, ?, ?)').run(pid, now());
        return true;
      }),
    );
  }

  unlock(pid: number): void {
    this.unsynced(() => this.db.prepare('DELETE FROM host_lock WHERE id = 1 AND pid = ?').run(pid));
  }
}
