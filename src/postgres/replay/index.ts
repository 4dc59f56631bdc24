/**
 * Replay: writing one side's captured changes onto another database — migration statements in
 * order, rows by primary key (whole rows as JSON, exact for every type with a text form), whole
 * tables in block ranges, migration history rows merged by name, sequences moved forward. It
 * decides nothing about conflicts: it reads and writes what the caller (branches/rebase) asks.
 */
export { historyNameColumn } from './history-tables.js';
export { foreignKeyOrder, readReplayTables, tableKey, type ReplayColumn, type ReplayTable } from './tables.js';
export {
  advanceSequences,
  deleteOneRow,
  insertHistoryRow,
  keyString,
  readJsonRows,
  readRowValues,
  scanTable,
  writeRows,
  type HistoryInsert,
  type JsonRow,
  type RowWrite,
  type WriteFailure,
  type WriteResult,
} from './rows.js';
export { applyStatements, type StatementFailure } from './schema.js';
