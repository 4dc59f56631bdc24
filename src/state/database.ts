import Database from 'better-sqlite3';
import { chmodSync } from 'node:fs';

export type Db = Database.Database;

/**
 * Schema migrations, applied in order and recorded in `user_version`. Append only: a released
 * migration is never edited, so every host can be upgraded from any earlier version.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE branches (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    parent_id     TEXT,
    parent_name   TEXT,
    volume        TEXT NOT NULL UNIQUE,
    port          INTEGER NOT NULL UNIQUE,
    db_user       TEXT NOT NULL,
    db_name       TEXT NOT NULL,
    password      TEXT NOT NULL,
    -- suspended: stopped by the host for idleness, woken by the next connection through the
    -- endpoint; stopped: stopped on request, stays down until started.
    desired_state TEXT NOT NULL CHECK (desired_state IN ('running', 'suspended', 'stopped')),
    -- NULL: the host's default idle timeout; 0: never suspend.
    idle_timeout_ms INTEGER CHECK (idle_timeout_ms IS NULL OR idle_timeout_ms >= 0),
    source        TEXT NOT NULL,
    branch_lsn    TEXT,
    branch_time   TEXT,
    created_at    TEXT NOT NULL,
    reset_at      TEXT,
    updated_at    TEXT NOT NULL
  );
  CREATE INDEX branches_parent ON branches(parent_id);

  -- Intent log: a row is written before the first side effect of a multi-step operation and
  -- removed in the same transaction that commits its result. Rows found at start-up belong to
  -- operations that died part-way; reconcile rolls them back or forward.
  CREATE TABLE operations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    branch_id   TEXT NOT NULL,
    branch_name TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );

  -- API tokens. Only a SHA-256 of the secret part is kept: the token is shown once, at creation.
  CREATE TABLE tokens (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    secret_sha256   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    branch_patterns TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT
  );

  -- One row at most: the process currently allowed to mutate the host.
  CREATE TABLE host_lock (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    pid         INTEGER NOT NULL,
    acquired_at TEXT NOT NULL
  );
  `,
  `
  -- Governance. protected: refuses delete, reset and expiry until unprotected.
  -- expires_at: when the host deletes the branch (NULL = never).
  ALTER TABLE branches ADD COLUMN protected INTEGER NOT NULL DEFAULT 0 CHECK (protected IN (0, 1));
  ALTER TABLE branches ADD COLUMN expires_at TEXT;

  -- Audit log: one row per mutating call, written before the call runs (result 'started') and
  -- completed after it, so a call that dies part-way still leaves its trace ('interrupted' once
  -- its process is gone). Never holds secrets: only names, ids and error codes.
  CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    actor_name  TEXT,
    operation   TEXT NOT NULL,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('branch', 'token', 'host')),
    target      TEXT NOT NULL,
    result      TEXT NOT NULL CHECK (result IN ('started', 'ok', 'error', 'interrupted')),
    error_code  TEXT,
    duration_ms INTEGER,
    details     TEXT,
    pid         INTEGER NOT NULL
  );
  CREATE INDEX audit_at ON audit(at);
  CREATE INDEX audit_target ON audit(target_kind, target);
  `,
  `
  -- Snapshots: named, read-only, immutable points of a branch (a volume no instance ever runs
  -- on). The source branch is remembered by id and name; it may be deleted later, the snapshot
  -- stays usable. lsn is approximate (the source's current WAL position read right after the
  -- clone) or NULL when the source was stopped.
  CREATE TABLE snapshots (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    volume             TEXT NOT NULL UNIQUE,
    source_branch_id   TEXT NOT NULL,
    source_branch_name TEXT NOT NULL,
    db_user            TEXT NOT NULL,
    db_name            TEXT NOT NULL,
    lsn                TEXT,
    snapshot_time      TEXT NOT NULL,
    created_at         TEXT NOT NULL
  );
  -- A branch made from a snapshot resets to that snapshot.
  ALTER TABLE branches ADD COLUMN parent_snapshot_id TEXT;
  `,
  `
  -- Quotas. created_by: the audit actor that made the branch (\`token:<id>\`, \`local:<user>\`,
  -- \`host\`), counted for per-token branch limits. max_own_bytes: the cap on bytes the branch
  -- may own (written since it was branched), enforced by the storage driver; NULL = none.
  ALTER TABLE branches ADD COLUMN created_by TEXT;
  ALTER TABLE branches ADD COLUMN max_own_bytes INTEGER CHECK (max_own_bytes IS NULL OR max_own_bytes > 0);
  CREATE INDEX branches_created_by ON branches(created_by);
  `,
  `
  -- Sources. pg_major: the PostgreSQL major a branch's data directory belongs to (NULL = the
  -- host's configured major); a root that follows a source runs the source's major, and so does
  -- every branch and snapshot made from it.
  ALTER TABLE branches ADD COLUMN pg_major INTEGER CHECK (pg_major IS NULL OR pg_major BETWEEN 10 AND 99);
  ALTER TABLE snapshots ADD COLUMN pg_major INTEGER CHECK (pg_major IS NULL OR pg_major BETWEEN 10 AND 99);
  -- kind: 'user' (made on request) or 'history' (made on a schedule for a following root's
  -- history window, removed when they fall out of it). redo_lsn: where recovery of a clone of
  -- the snapshot starts (the WAL before it is not needed any more).
  ALTER TABLE snapshots ADD COLUMN kind TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'history'));
  ALTER TABLE snapshots ADD COLUMN redo_lsn TEXT;

  -- Where a root branch's data keeps coming from. mode 'follow': a hot standby of the source
  -- over streaming replication, with periodic history snapshots and a WAL archive (a volume) for
  -- branches at a past time; mode 'refresh': logical imports into a new generation, switched in
  -- atomically. The source's password is never stored here (see <home>/secrets/).
  CREATE TABLE sources (
    branch_id            TEXT PRIMARY KEY,
    mode                 TEXT NOT NULL CHECK (mode IN ('follow', 'refresh')),
    display_url          TEXT NOT NULL,
    system_id            TEXT,
    slot_name            TEXT,
    archive_volume       TEXT UNIQUE,
    history_window_ms    INTEGER CHECK (history_window_ms IS NULL OR history_window_ms > 0),
    snapshot_interval_ms INTEGER CHECK (snapshot_interval_ms IS NULL OR snapshot_interval_ms > 0),
    refresh_cron         TEXT,
    -- JSON array of shell commands run on each new generation before it is switched in.
    after_refresh        TEXT NOT NULL DEFAULT '[]',
    generation           INTEGER NOT NULL DEFAULT 1,
    last_refresh_at      TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
  );
  `,
  `
  -- Masking. A masked branch holds data whose personal columns were replaced by masking rules:
  -- masked_rules_sha256 is the SHA-256 of the rules file text it was masked with (NULL = not
  -- masked), masked_at when the masking finished. A branch of a masked branch inherits both.
  ALTER TABLE branches ADD COLUMN masked_rules_sha256 TEXT;
  ALTER TABLE branches ADD COLUMN masked_at TEXT;
  -- A masked-only token sees and operates masked branches only (API and endpoint).
  ALTER TABLE tokens ADD COLUMN masked_only INTEGER NOT NULL DEFAULT 0 CHECK (masked_only IN (0, 1));
  `,
  `
  -- Measured sizes of volumes (branches and their branch points), refreshed in the background by
  -- serve: lists read them instead of measuring every volume on every call.
  CREATE TABLE volume_sizes (
    volume      TEXT PRIMARY KEY,
    own_bytes   INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL,
    measured_at TEXT NOT NULL
  );
  `,
  `
  -- A snapshot of a masked branch holds masked data: it carries the branch's mark, and branches
  -- made from it inherit it (NULL = not masked).
  ALTER TABLE snapshots ADD COLUMN masked_rules_sha256 TEXT;
  ALTER TABLE snapshots ADD COLUMN masked_at TEXT;
  -- The rules file a branch was masked with (create --mask, reset --mask), kept so that a plain
  -- reset, or a refresh of its parent, re-masks it with the same rules. Only the branch that ran
  -- the masking has a row: its branches inherit the mark, not the rules. Not secret (the file
  -- lives in the user's repository); the key is in <home>/secrets.
  CREATE TABLE mask_rules (
    branch_id TEXT PRIMARY KEY REFERENCES branches(id) ON DELETE CASCADE,
    rules     TEXT NOT NULL,
    file      TEXT
  );
  `,
  `
  -- "Ready" answers of instances (a real connection was accepted), kept so that a list in another
  -- process (the CLI, while serve's health beat pings every running instance) believes them for a
  -- few seconds instead of pinging hundreds of instances again. Tied to the postmaster's pid: a
  -- restarted or stopped instance is looked at afresh. A cache: losing it costs pings only.
  CREATE TABLE instance_ready (
    volume     TEXT PRIMARY KEY,
    pid        INTEGER NOT NULL,
    seen_at_ms INTEGER NOT NULL
  );
  -- The pgbranch serve running on this host, if any: its health beat and size refresh keep the
  -- caches above fresh, so lists in other processes (the CLI) leave them to it. Its pid is checked
  -- for life: a serve that was killed leaves a row that no longer counts.
  CREATE TABLE serving (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    pid        INTEGER NOT NULL,
    started_at TEXT NOT NULL
  );
  `,
  `
  -- The volume's change mark when its size was measured (btrfs: subvolume generations): serve's
  -- size refresh measures a running branch again only once its mark moved. NULL = not known.
  ALTER TABLE volume_sizes ADD COLUMN mark TEXT;
  `,
];

export function openDatabase(file: string): Db {
  const db = new Database(file);
  // The file holds branch passwords: readable by the host's owner only.
  chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  // FULL: a committed intent or result must survive power loss, not just a process crash.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
