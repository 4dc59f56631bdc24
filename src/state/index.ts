export { StateStore } from './store.js';
export type { AuditQuery, AuditRecord, AuditResult, AuditTargetKind, BranchRecord, InstanceReadyRecord, VolumeSizeRecord, DesiredState, NewBranch, OperationKind, OperationRecord, NewSource, SnapshotKind, SnapshotRecord, SourceChange, SourceMode, SourceRecord, StoredMaskRules, TokenRecord, TokenRole } from './store.js';
export { openText, sealText, STATE_KEY_BYTES } from './secret-box.js';
