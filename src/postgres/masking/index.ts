/**
 * Masking, the PostgreSQL side: read the catalog, find personal-looking columns without a rule,
 * mask a database in place (keyed, deterministic, constraints kept, tables rewritten), then seal
 * and wipe the WAL and other files that still hold original values. Rules arrive as data.
 */
export type {
  CatalogColumn,
  CatalogForeignKey,
  CatalogTable,
  ColumnClass,
  ColumnRule,
  DetectOptions,
  FakeKind,
  JsonPath,
  JsonPathRule,
  MaskCatalog,
  MaskingRules,
  MaskOptions,
  MaskProgress,
  MaskReport,
  MaskStrategy,
  MaskStrategyKind,
  PersonalColumn,
  PiiKind,
  PiiReason,
  ResidueHit,
  SourcePosition,
  TableMaskResult,
  TableRule,
  WalSeal,
  WipeReport,
} from './types.js';
export { FAKE_KINDS } from './types.js';
export { readMaskCatalog } from './catalog.js';
export { strategyMisfit, isInjective, describe as describeStrategy } from './strategy-fit.js';
export { findPersonalColumns, formatJsonPath, jsonPathCovers } from './detect.js';
export { matchName, classifyValue } from './pii-patterns.js';
export { maskDatabase } from './mask-database.js';
export { sealWal, MASKING_INSTANCE_SETTINGS } from './seal-wal.js';
export { wipeResidue } from './wipe.js';
export { scanForResidue, sampleOriginalValues } from './residue-scan.js';
