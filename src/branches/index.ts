export { Host } from './host.js';
export type { CreateOptions, HostStatus, InitOptions, OpenOptions } from './host.js';
export type { RootSource } from './create.js';
export type { ProgressEvent, ProgressSink } from './runtime.js';
export type { BranchState, BranchView, ConnectionInfo } from './view.js';
export type { ReconcileReport } from './reconcile.js';
export { BRANCH_NAME_PATTERN, BRANCH_NAME_RULE, assertBranchName } from './names.js';
export { CRASH_POINTS } from './lifecycle.js';
export { resolveHome } from './config.js';
