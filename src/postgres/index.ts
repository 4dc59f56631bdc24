/**
 * PostgreSQL mechanism: binaries, the OS user, clusters (data directories), instances (running
 * postmasters), client helpers and imports. It is handed data directories and ports and knows
 * nothing about branches or copy-on-write. This file is the folder's only public surface.
 */
export type {
  BackupLabel,
  BinariesRequest,
  ClientTools,
  ConnectionTarget,
  CopyFromUrlOptions,
  DumpFormat,
  ImportProgress,
  InitClusterOptions,
  InstanceEndpoint,
  InstanceStatus,
  OsUser,
  PgBinaries,
  PostmasterPidFile,
  ProgressCallback,
  RestoreDumpOptions,
  ShutdownMode,
  StartOptions,
  StopOptions,
} from './types.js';

export { resolveBinaries, DEFAULT_MAJOR } from './binaries.js';
export { clientTools } from './client-tools.js';
export { ensureOsUser, prepareDirectory, assertReachable, DEFAULT_OS_USER } from './os-user.js';
export { initCluster } from './init-cluster.js';
export { writeHba, type HbaOptions } from './hba.js';
export { defaultSettings, startSettings } from './config-defaults.js';
export { startInstance } from './start-instance.js';
export { stopInstance, killInstance, reloadConfig } from './stop-instance.js';
export { instanceStatus } from './instance-status.js';
export { pingInstance, type PingResult } from './ping.js';
export { readPostmasterPid, parsePostmasterPid } from './postmaster-pid.js';
export { connect, withClient, type Client } from './client.js';
export { waitForLogin, type TcpLogin } from './login.js';
export { checkpoint, currentWalLsn, flushWal, startBackup, stopBackup, walPosition, type WalPosition } from './backup.js';
export { setRolePassword, setRoleVerifier, scramSha256Verifier, scramSha256VerifierAsync, type ScramOptions } from './scram.js';
export { quoteIdent, quoteLiteral } from './quote.js';
export { detectDumpFormat } from './dump-format.js';
export { restoreDump } from './restore-dump.js';
export { copyFromUrl } from './copy-from-url.js';
export { redactUrl } from './redact-url.js';
export { findFreePort } from './free-port.js';
export * from './replication/index.js';
export {
  diffData,
  diffTableData,
  fullDiffTableData,
  relationFiles,
  blocksInByteRanges,
  parseRelationFileName,
  type AddedOrDroppedTable,
  type ChangeCounts,
  type ChangedBlocks,
  type ComparedTable,
  type DataDiff,
  type DiffDataOptions,
  type DiffTableDataOptions,
  type FullDiffTableDataOptions,
  type FullReason,
  type JsonValue,
  type RelationFile,
  type RelationFileName,
  type RelationFiles,
  type RelationPair,
  type RowChange,
  type RowValues,
  type ScanFigures,
  type TableDataDiff,
  type TableName,
} from './data-diff/index.js';
export {
  readSchema,
  diffSchemas,
  compareSchemas,
  verifySchemaDiff,
  renderSchemaScript,
  benchSchemaDiff,
  benchSchemaSql,
  type DiffOptions,
  type RenderOptions,
  type SchemaDiff,
  type SchemaDiffBench,
  type SchemaDifference,
  type SchemaModel,
  type SchemaObject,
  type SchemaStatement,
  type SchemaVerification,
  type StatementAction,
  type UnsupportedChange,
  type VerifySchemaDiffOptions,
} from './schema-diff/index.js';
export * from './masking/index.js';
export * from './replay/index.js';
