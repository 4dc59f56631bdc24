export { StateStore } from './store.js';
export type { AuditQuery, AuditRecord, AuditResult, AuditTargetKind, BranchRecord, DesiredState, NewBranch, OperationKind, OperationRecord, TokenRecord, TokenRole } from './store.js';
