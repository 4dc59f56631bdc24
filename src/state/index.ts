export { StateStore } from './store.js';
export type { BranchRecord, DesiredState, NewBranch, OperationKind, OperationRecord, TokenRecord, TokenRole } from './store.js';
