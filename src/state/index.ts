export { StateStore } from './store.js';
export type { AuditQuery, AuditRecord, AuditResult, AuditTargetKind, BranchRecord, DesiredState, NewBranch, OperationKind, OperationRecord, SnapshotRecord, TokenRecord, TokenRole } from './store.js';
