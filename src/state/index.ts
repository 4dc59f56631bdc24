export { StateStore } from './store.js';
export type { BranchRecord, DesiredState, NewBranch, OperationKind, OperationRecord } from './store.js';
