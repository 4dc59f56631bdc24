/**
 * PostgreSQL mechanism: binaries, OS user, clusters (data directories) and instances (running
 * postmasters). It knows nothing about CoW or branches: it is given a data directory and a port.
 */

export interface PgBinaries {
  /** Directory with initdb, postgres (and pg_ctl). */
  readonly binDir: string;
  /** Major version, e.g. 18. */
  readonly major: number;
  /** Full version string as printed by `postgres --version`, e.g. "18.4". */
  readonly version: string;
  /** Where the binaries come from, for display. */
  readonly source: 'npm' | 'system' | 'configured';
}

export interface BinariesRequest {
  /** Explicit directory wins over everything. */
  readonly binDir?: string;
  /** Wanted major (default 18, the bundled one). */
  readonly major?: number;
}

/** The OS account instances run as. PostgreSQL refuses to run as root. */
export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface InitClusterOptions {
  readonly binaries: PgBinaries;
  readonly dataDir: string;
  readonly osUser: OsUser;
  /** Bootstrap superuser name (default "postgres"). */
  readonly superuser?: string;
  /** Password for the superuser (SCRAM-SHA-256 stored). Never logged. */
  readonly superuserPassword: string;
  /** Database created after initdb besides the defaults (e.g. "app"); skipped if "postgres". */
  readonly database?: string;
  /** Write the TCP (scram-sha-256) lines into pg_hba.conf (default true). */
  readonly allowTcp?: boolean;
  /** Skip initdb's final fsync (tests, throwaway clusters). Default false. */
  readonly noSync?: boolean;
  /** Give up on the brief start used to create `database` after this long (default 30 s). */
  readonly timeoutMs?: number;
}

export interface InstanceEndpoint {
  /** Loopback TCP port. */
  readonly port: number;
  /** Private unix socket directory (mode 0700, owned by the OS user). */
  readonly socketDir: string;
}

export interface StartOptions extends InstanceEndpoint {
  readonly binaries: PgBinaries;
  readonly dataDir: string;
  readonly osUser: OsUser;
  /** Server log file (appended). */
  readonly logFile: string;
  /** Extra GUCs given on the command line (they override postgresql.conf, and are not cloned). */
  readonly settings?: Readonly<Record<string, string>>;
  /** Accept TCP connections (default true). False = unix socket only. */
  readonly listenTcp?: boolean;
  readonly timeoutMs?: number;
}

export interface InstanceStatus {
  readonly running: boolean;
  readonly pid?: number;
  readonly port?: number;
  /** postmaster.pid status line: "starting", "ready", "stopping", "standby". */
  readonly pmStatus?: string;
}

export interface ConnectionTarget extends InstanceEndpoint {
  readonly user: string;
  readonly database: string;
}

export interface BackupLabel {
  /** LSN at which the copy becomes consistent (pg_backup_stop). */
  readonly stopLsn: string;
  /** Content for `backup_label` in the copy. */
  readonly labelFile: string;
  /** Content for `tablespace_map` (may be empty). */
  readonly tablespaceMap: string;
}

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

export interface StopOptions {
  /** smart = wait for clients, fast = roll back and disconnect them (default), immediate = no shutdown checkpoint. */
  readonly mode?: ShutdownMode;
  /** How long to wait for the requested mode before escalating (fast → immediate → SIGKILL) or failing (smart). */
  readonly timeoutMs?: number;
}

/** Parsed `postmaster.pid` (see PostgreSQL's miscadmin.h LOCK_FILE_LINE_*). */
export interface PostmasterPidFile {
  readonly pid: number;
  readonly dataDir: string;
  /** Start time, seconds since the epoch. */
  readonly startTime?: number;
  readonly port?: number;
  readonly socketDir?: string;
  readonly listenAddress?: string;
  /** "starting", "ready", "stopping", "standby" (trimmed; absent early in startup). */
  readonly pmStatus?: string;
}

export interface ClientTools {
  readonly psql: string;
  readonly pgDump: string;
  readonly pgRestore: string;
  /** Major version of these tools (pg_dump refuses servers newer than itself). */
  readonly major: number;
}

export type DumpFormat = 'custom' | 'tar' | 'directory' | 'plain' | 'plain-gzip';

export interface ImportProgress {
  /** e.g. "restore", "copy". */
  readonly phase: string;
  readonly done: number;
  readonly total?: number;
  readonly unit: 'items' | 'bytes';
}

export type ProgressCallback = (progress: ImportProgress) => void;

export interface RestoreDumpOptions {
  /** Dump file (custom, tar, plain SQL, gzip'd plain SQL) or directory-format dump. */
  readonly file: string;
  readonly target: ConnectionTarget;
  readonly onProgress?: ProgressCallback;
  /** Parallel pg_restore jobs (custom and directory formats only; default 1). */
  readonly jobs?: number;
}

export interface CopyFromUrlOptions {
  /** postgres://user:password@host:port/db?sslmode=… of the live source. Never logged unredacted. */
  readonly sourceUrl: string;
  readonly target: ConnectionTarget;
  readonly onProgress?: ProgressCallback;
}
