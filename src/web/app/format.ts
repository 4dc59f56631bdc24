/** Texts the console shows: sizes, ages, countdowns, pull requests, source sync. */
import type { BranchSync } from './wire.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 || value >= 100 ? Math.round(value) : value.toFixed(1)} ${UNITS[unit]}`;
}

/** Two largest units: "3d 4h", "5m 10s", "42s". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const parts: [number, string][] = [
    [Math.floor(s / 86_400), 'd'],
    [Math.floor((s % 86_400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

export function formatAge(iso: string, nowMs: number): string {
  return `${formatDuration(nowMs - Date.parse(iso))} ago`;
}

/** "in 2h 3m", or "due now" once past (the host deletes it on its next sweep); null = never. */
export function expiryCountdown(expiresAt: string | null, nowMs: number): string | null {
  if (expiresAt === null) return null;
  const left = Date.parse(expiresAt) - nowMs;
  return left <= 0 ? 'due now' : `in ${formatDuration(left)}`;
}

/** Local time without seconds' fraction: "2026-05-02 14:03:12". */
export function formatTime(iso: string | null): string {
  if (iso === null) return '—';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The pull request a branch belongs to, by the naming CI uses: pr-123 (or pr-123-something). */
export function pullRequestNumber(branch: string): number | null {
  const match = /^pr-(\d+)(?:$|[-/._])/.exec(branch);
  return match ? Number(match[1]) : null;
}

/** A link to the pull request when the host names its repository (owner/repo); null otherwise. */
export function pullRequestUrl(number: number, repository: string | null | undefined): string | null {
  if (!repository || !/^[\w.-]+\/[\w.-]+$/.test(repository)) return null;
  return `https://github.com/${repository}/pull/${number}`;
}

/**
 * "streaming, 1.2 MiB behind (3s)" for a following root; null when the branch has no sync field
 * (the API does not report it yet) so that the console hides the column and the row.
 */
export function syncSummary(sync: BranchSync | null | undefined): string | null {
  if (sync === null || sync === undefined || typeof sync !== 'object') return null;
  const state = typeof sync.state === 'string' && sync.state !== '' ? sync.state : 'following';
  const lag: string[] = [];
  if (typeof sync.lag_bytes === 'number') lag.push(sync.lag_bytes === 0 ? 'caught up' : `${formatBytes(sync.lag_bytes)} behind`);
  if (typeof sync.lag_ms === 'number' && sync.lag_ms > 0) lag.push(`${formatDuration(sync.lag_ms)} lag`);
  return [state, ...lag].join(', ');
}
