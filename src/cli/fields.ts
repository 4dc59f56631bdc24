import type { BranchView, ConnectionInfo, HostStatus, TokenInfo } from '../branches/index.js';
import { PgbranchError } from '../errors.js';
import { formatBytes, formatTimeLeft } from './format.js';
import { formatDuration } from './parse.js';

export function branchFields(b: BranchView): [string, string][] {
  return [
    ['name', b.name],
    ['id', b.id],
    ['parent', b.parent ? `${b.parent}${b.parentDeleted ? ' (deleted)' : ''}` : '-'],
    ['state', b.state],
    ...(b.unhealthyReason !== null ? [['unhealthy', b.unhealthyReason] as [string, string]] : []),
    ['idle timeout', formatDuration(b.idleTimeoutMs)],
    ['port', String(b.port)],
    ['database', b.database],
    ['user', b.user],
    ['branch point', b.branchPoint.lsn ? `${b.branchPoint.lsn} at ${b.branchPoint.time}` : '-'],
    ['created', b.createdAt],
    ['reset', b.resetAt ?? '-'],
    ['protected', b.protected ? 'yes' : 'no'],
    ['masked', maskedText(b.masked)],
    ['expires', b.expiresAt ? `${b.expiresAt} (${formatTimeLeft(b.expiresAt)})` : 'never'],
    ['own data', formatBytes(b.ownBytes)],
    ['size cap', b.maxOwnBytes !== null ? formatBytes(b.maxOwnBytes) : 'none'],
    ['shared data', formatBytes(b.sharedBytes)],
    ['total data', formatBytes(b.totalBytes)],
    ...(b.branchPointBytes !== undefined ? [['branch point data', b.branchPointBytes === null ? 'none kept' : formatBytes(b.branchPointBytes)] as [string, string]] : []),
  ];
}

export function statusFields(s: HostStatus): [string, string][] {
  return [
    ['home', s.home],
    ['driver', `${s.driver}${s.loopImage ? ` (loop image ${s.loopImage})` : ''}`],
    ['pool', s.poolPath],
    ['pool used', `${formatBytes(s.pool.usedBytes)} of ${formatBytes(s.pool.totalBytes)} (${formatBytes(s.pool.freeBytes)} free)`],
    ['postgres', `${s.postgres.version} (${s.postgres.source}, ${s.postgres.binDir}) as OS user ${s.postgres.osUser}`],
    ['branches', `${s.branches}${s.quotas.maxBranches !== undefined ? ` of at most ${s.quotas.maxBranches}` : ''}`],
    ['branches per token', s.quotas.maxBranchesPerToken !== undefined ? `at most ${s.quotas.maxBranchesPerToken}` : 'unlimited'],
    ['size cap per branch', s.quotas.maxOwnBytesPerBranch !== undefined ? formatBytes(s.quotas.maxOwnBytesPerBranch) : 'none'],
    ['pool free floor', s.quotas.minPoolFreeBytes !== undefined ? formatBytes(s.quotas.minPoolFreeBytes) : 'none'],
    ['size caps enforced', s.branchLimits.kind === 'none' ? `no (${s.branchLimits.reason ?? 'not supported'})` : `yes (${s.branchLimits.kind === 'exclusive' ? 'btrfs qgroups, exact own bytes' : 'XFS project quotas, growth'})`],
  ];
}

export function tokenFields(t: TokenInfo): [string, string][] {
  return [
    ['id', t.tokenId],
    ['name', t.name],
    ['role', t.role],
    ['branches', t.branchPatterns.join(', ') || '* (all)'],
    ['masked only', t.maskedOnly ? 'yes' : 'no'],
    ['created', t.createdAt],
  ];
}

export function endpointUrl(info: ConnectionInfo): string {
  if (!info.endpoint) throw new PgbranchError('INVALID_ARGUMENT', 'the endpoint port is not known (configured as 0): ask the running server, or use the direct URL');
  return info.endpoint.url;
}

/** A masked mark as one line: when, and which rules. */
export function maskedText(masked: BranchView['masked']): string {
  return masked ? `yes (${masked.maskedAt}, rules sha256 ${masked.rulesSha256.slice(0, 12)}…)` : 'no';
}
