/** Texts the console shows: sizes, ages, countdowns, pull requests, source sync. */
import type { Source } from './wire.js';

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
 * One line on a root's source: "streaming, caught up", "disconnected since 09:14:02: could not
 * connect …, 3.0 MiB behind" for a following root; "generation 3, refreshed 2h ago" for a
 * refreshed one. Null for branches without a source (the console hides the column).
 */
export function syncSummary(sync: Source | null | undefined, nowMs = Date.now()): string | null {
  if (sync === null || sync === undefined || typeof sync !== 'object') return null;
  if (sync.follow) {
    const f = sync.follow;
    const state = f.state === 'disconnected' && f.disconnected_since ? `disconnected since ${formatTime(f.disconnected_since)}` : f.state;
    const parts = [f.last_error && f.state === 'disconnected' ? `${state}: ${f.last_error}` : state];
    if (typeof f.lag_bytes === 'number') parts.push(f.lag_bytes === 0 ? 'caught up' : `${formatBytes(f.lag_bytes)} behind`);
    if (typeof f.lag_seconds === 'number' && f.lag_seconds > 0) parts.push(`${formatDuration(Math.round(f.lag_seconds * 1000))} lag`);
    return parts.join(', ');
  }
  if (sync.refresh) {
    const r = sync.refresh;
    const last = r.last_refresh_at ? `refreshed ${formatAge(r.last_refresh_at, nowMs)}` : 'imported once';
    return [`generation ${r.generation}`, r.running ? 'refreshing now' : last, ...(r.next_refresh_at ? [`next ${formatTime(r.next_refresh_at)}`] : [])].join(', ');
  }
  return null;
}

/** "1 conflict", "3 conflicts". */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A row value as the panels print it (SQL NULL spelled out). */
export const showValue = (v: string | number | boolean | null | undefined): string => (v === null || v === undefined ? 'NULL' : String(v));
