/**
 * Physical replication from a live PostgreSQL source: a hand-written replication-protocol client,
 * base backups (with their WAL), standby and point-in-time recovery configuration, promotion,
 * status. Knows nothing about branches or copy-on-write. Re-exported by src/postgres/index.ts.
 *
 * A root that follows its source:
 *   source = parseReplicationSource(url); check = await checkReplicationSource(source)
 *   [createSourceSlot(source, slot)]; r = await baseBackup({ source, dataDir, osUser })
 *   writePassfile(passfileOutsideDataDir, source, osUser)
 *   configureStandby(dataDir, { source, passfile, sourceSettings: r.settings, major: r.major, archiveDir, osUser, slotName })
 *   startInstance(...) — ready when postmaster.pid says "standby"; standbyStatus(client) / sourceStatus(source) for lag.
 * A branch of it now: clone (postmaster.pid removed), detachFromSource(clone), startInstance, promote(...).
 * A branch at time T: clone the newest snapshot taken before T (stopped or crash-consistent),
 *   configureRecoveryTarget(clone, { target, archiveDir }), runRecovery(startOptions).
 */
export type {
  BaseBackupOptions,
  BaseBackupResult,
  RecoveryTarget,
  RecoveryTargetOptions,
  ReplicationSource,
  SourceCheck,
  SourceSettings,
  SourceStatus,
  SslMode,
  StandbyOptions,
  StandbyStatus,
  SystemIdentity,
} from './types.js';
export { parseReplicationSource, describeSource } from './source.js';
export { ReplicationConnection, type QueryResult } from './connection.js';
export { PgServerError } from './wire.js';
export { connectSource } from './connect-source.js';
export {
  identifySystem,
  show,
  readSourceSettings,
  createReplicationSlot,
  dropReplicationSlot,
  timelineHistory,
  withReplicationConnection,
  createSourceSlot,
  dropSourceSlot,
} from './commands.js';
export { checkReplicationSource, binariesForSource, npmInstallCommand, type CheckSourceOptions } from './preflight.js';
export { baseBackup } from './base-backup.js';
export { writePassfile } from './passfile.js';
export { configureStandby, detachFromSource, primaryConninfo } from './standby-config.js';
export { archiveCommand, restoreCommand, pruneWalArchive, seedWalArchive } from './archive-command.js';
export { readAutoConf } from './auto-conf.js';
export {
  configureRecoveryTarget,
  runRecovery,
  waitForRecoveryEnd,
  promote,
  clearRecoverySettings,
  type PromoteOptions,
  type RecoveryWaitOptions,
} from './recovery.js';
export { standbyStatus, sourceStatus } from './status.js';
export { parseLsn, formatLsn, lsnDiff, walFileName } from './lsn.js';
