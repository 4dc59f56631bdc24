/**
 * Row-level data diff between two instances (base: an earlier copy, head: the same cluster
 * since), reading only the heap blocks the caller names as changed. Knows nothing about how
 * they were found (copy-on-write extents, page comparison…).
 */
export type {
  AddedOrDroppedTable,
  ChangeCounts,
  ChangedBlocks,
  ComparedTable,
  DataDiff,
  DiffDataOptions,
  DiffTableDataOptions,
  FullDiffTableDataOptions,
  FullReason,
  JsonValue,
  RelationFile,
  RelationFiles,
  RelationPair,
  RowChange,
  RowValues,
  ScanFigures,
  TableDataDiff,
  TableName,
} from './types.js';
export { diffData, diffTableData, fullDiffTableData } from './diff-data.js';
export { relationFiles } from './catalog.js';
export { toJsonValue } from './values.js';
export { blocksInByteRanges, parseRelationFileName, type RelationFileName } from './blocks.js';
