/**
 * Types of the replication mechanism: a PostgreSQL server followed physically (streaming
 * replication), base backups of it, standby and point-in-time recovery configuration. Nothing
 * here knows about branches or copy-on-write: it is handed data directories, OS users, binaries
 * and connection parameters.
 */
import type { OsUser, ProgressCallback } from '../types.js';

/** libpq's sslmode values ("allow" is treated like "prefer": TLS first, plaintext if refused). */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

/**
 * Where to replicate from, parsed once from a postgres:// URL (parseReplicationSource). The
 * password stays in this process: it is never put in argv, a config file, a message or a log.
 */
export interface ReplicationSource {
  /** Host name, IP address, or an absolute unix socket directory. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly sslmode: SslMode;
  /** PEM file with the CA certificate(s) to verify the server with (libpq's sslrootcert). */
  readonly sslrootcert?: string;
  /** Shown in the source's pg_stat_replication (default "pgbranch"). */
  readonly applicationName?: string;
  /** Connect + TLS + authentication deadline (default 15 s). */
  readonly connectTimeoutMs?: number;
}

/** IDENTIFY_SYSTEM. */
export interface SystemIdentity {
  /** Database system identifier (pg_control), as a decimal string: it does not fit a double. */
  readonly systemId: string;
  readonly timeline: number;
  /** Current WAL flush position of the server, e.g. "0/3000148". */
  readonly walLsn: string;
}

/** Source settings a standby must match or exceed, and the ones the preflight checks. */
export interface SourceSettings {
  readonly serverVersionNum: number;
  readonly walLevel: string;
  readonly maxWalSenders: number;
  readonly maxReplicationSlots: number;
  readonly walSegmentSize: number;
  readonly blockSize: number;
  readonly maxConnections: number;
  readonly maxWorkerProcesses: number;
  readonly maxPreparedTransactions: number;
  readonly maxLocksPerTransaction: number;
  readonly dataChecksums: boolean;
}

/** What checkReplicationSource found out. */
export interface SourceCheck extends SystemIdentity {
  readonly major: number;
  readonly settings: SourceSettings;
  /** Human-readable remarks that do not block (e.g. no replication slots available). */
  readonly warnings: readonly string[];
}

export interface BaseBackupOptions {
  readonly source: ReplicationSource;
  /**
   * Target data directory: either absent (created 0700) or an empty directory. On failure
   * everything this call wrote is removed (and the directory itself if this call created it).
   */
  readonly dataDir: string;
  /** The OS user the instance will run as: owns every file written. */
  readonly osUser: OsUser;
  /** Request an immediate checkpoint on the source instead of waiting for a spread one (default true). */
  readonly fastCheckpoint?: boolean;
  /** Backup label shown on the source (default "pgbranch base backup"). */
  readonly label?: string;
  /** Bytes copied / estimated total (phase "copy"), then "wal" while waiting for the end WAL. */
  readonly onProgress?: ProgressCallback;
  readonly signal?: AbortSignal;
  /** Skip the final flush to disk (tests, throwaway copies). Default false. */
  readonly noSync?: boolean;
}

export interface BaseBackupResult {
  readonly systemId: string;
  readonly timeline: number;
  /** Backup start (checkpoint redo) LSN. */
  readonly startLsn: string;
  /** The copy is consistent once WAL is replayed up to here. */
  readonly endLsn: string;
  /** Bytes of data files received. */
  readonly bytes: number;
  readonly major: number;
  readonly settings: SourceSettings;
}

export interface StandbyOptions {
  /** Where the standby streams from (host/port/user/TLS; the password comes from `passfile`). */
  readonly source: ReplicationSource;
  /** Absolute path of a pgpass file (see writePassfile) outside the data directory. */
  readonly passfile: string;
  /** Source settings (from checkReplicationSource or baseBackup): the standby must match or exceed them. */
  readonly sourceSettings: SourceSettings;
  /** Major version of the binaries the standby runs (= the source's). */
  readonly major: number;
  /** WAL archive directory: completed segments and .history files are copied there; also read back by restore_command. */
  readonly archiveDir: string;
  readonly osUser: OsUser;
  /** A physical slot on the source (createReplicationSlot) that keeps WAL for this standby. */
  readonly slotName?: string;
  /** Extra settings, rendered as given (quote string values yourself, e.g. "'1s'"). */
  readonly settings?: Readonly<Record<string, string>>;
}

export type RecoveryTarget =
  | { readonly kind: 'time'; /** A timestamptz literal, e.g. "2026-01-02 03:04:05.123456+00", or a Date (ms precision). */ readonly time: string | Date }
  | { readonly kind: 'lsn'; readonly lsn: string };

export interface RecoveryTargetOptions {
  readonly target: RecoveryTarget;
  /** WAL archive written by the followed standby. */
  readonly archiveDir: string;
  /** Stop just after (true, default) or just before the target. */
  readonly inclusive?: boolean;
}

export interface StandbyStatus {
  readonly inRecovery: boolean;
  /** Last WAL position received and flushed by the WAL receiver (null if it never received any). */
  readonly receiveLsn: string | null;
  /** Last WAL position replayed. */
  readonly replayLsn: string | null;
  /** Commit time of the last replayed transaction. */
  readonly lastReplayedTransactionAt: Date | null;
  readonly walReceiver: {
    /** "streaming", "catchup", "waiting", "starting", "stopping"… or null when no WAL receiver runs. */
    readonly status: string | null;
    readonly connected: boolean;
    readonly senderHost: string | null;
    readonly senderPort: number | null;
    /** Time the last message from the source was received. */
    readonly lastMessageAt: Date | null;
    /** The source's WAL end as last reported to the receiver. */
    readonly latestEndLsn: string | null;
    readonly latestEndAt: Date | null;
  };
  /** latestEndLsn − replayLsn (bytes; null when unknown). */
  readonly lagBytes: number | null;
  /** 0 when everything known has been replayed, else now − last replayed commit time (null when unknown). */
  readonly lagSeconds: number | null;
}

export interface SourceStatus extends SystemIdentity {
  readonly checkedAt: Date;
}
