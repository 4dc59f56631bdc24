/**
 * The domain: branches, their tree and lifecycle rules. The only place that combines storage,
 * postgres and state; edges (cli, api, proxy, serve, integrations) use it through this file.
 */
export { Host } from './host.js';
export type { BranchService } from './service.js';
export type { HostStatus } from './view.js';
export type { InitOptions, OpenOptions } from './init.js';
export type { BranchChange, CreateOrigin, CreateRequest, MaskCheckView, MaskRequest, RecoveryPoint, RemaskOutcome, RootSource } from './operations/index.js';
export type { FollowStatus, RefreshStatus, SourceChange, SourceView } from './sources.js';
export { CRASH_POINTS, rulesSha256 } from './operations/index.js';
export { parseMaskingRules } from './masking/index.js';
export { traceSteps, type StepTracer } from './crash-points.js';
export { HOST_ACTOR, localActor, operationEvents, tokenActor, type Actor, type AuditEntry, type AuditFilter, type OperationObservation } from './audit.js';
export type { GcAction, GcActionKind, GcReport } from './gc.js';
export type { ProgressEvent, ProgressSink } from './runtime.js';
export type { BranchState, BranchView, ConnectionInfo, EndpointAddress, MaskedMark, RefreshedRootView, SnapshotView } from './view.js';
export { endpointUser } from './view.js';
export { authorize, canAccessBranch, matchesPattern, TOKEN_ROLES, type Access, type BranchRef, type Principal, type TokenInfo, type TokenRequest } from './tokens.js';
export type { ReconcileReport } from './reconcile.js';
export type { RebaseConflict, RebaseReport, RebaseRequest, RebaseTableReport } from './rebase-types.js';
export { formatDiffSide, parseDiffSide, type DataDiffView, type DiffRequest, type DiffSide, type DiffSideView, type DiffView, type SchemaDiffView } from './diff-types.js';
export { BRANCH_NAME_PATTERN, BRANCH_NAME_RULE, assertBranchName } from './names.js';
export { resolveHome } from './config.js';
export { DRIVER_NAMES } from '../storage/index.js';
