import { InvalidArgumentError } from 'commander';
import type { CreateOrigin, RootSource } from '../branches/index.js';
import { PgbranchError } from '../errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * "5m", "90s", "2h", "0" (never) → milliseconds; "default" → 'default' (the host's default, null
 * for the domain). Not null itself: commander stores a parser's null as "" (see parseTtlOrNone).
 */
export function parseIdleTimeout(value: string): number | 'default' {
  if (value === 'default') return 'default';
  if (value === '0' || value === 'never') return 0;
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a duration (examples: 5m, 90s, 2h, 0 = never, default)`);
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return 'never';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a size (examples: 20G, 512M)`);
  return Math.round(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
}

/** `--max-own-bytes`: a size (512M, 2G), or "none" → null (no cap). */
export function parseSizeOrNone(value: string): number | 'none' {
  return value === 'none' || value === 'unlimited' ? 'none' : parseSize(value);
}

export function parseMajor(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 14 || n > 18) throw new InvalidArgumentError('PostgreSQL major must be 14 to 18');
  return n;
}

/** Flags of a root's source: `--from-dump`, or `--from-url` copied once (refreshable) or followed (`--follow`). */
export interface RootSourceFlags {
  fromDump?: string;
  fromUrl?: string;
  follow?: boolean;
  slot?: boolean;
  historyWindow?: number;
  snapshotInterval?: number;
}

export function rootSource(opts: RootSourceFlags): RootSource | undefined {
  if (opts.fromDump && opts.fromUrl) throw new PgbranchError('INVALID_ARGUMENT', 'give --from-dump or --from-url, not both');
  const followOnly = opts.slot !== undefined || opts.historyWindow !== undefined || opts.snapshotInterval !== undefined;
  if ((opts.follow || followOnly) && !opts.fromUrl) throw new PgbranchError('INVALID_ARGUMENT', '--follow, --slot, --history-window and --snapshot-interval need --from-url');
  if (followOnly && !opts.follow) throw new PgbranchError('INVALID_ARGUMENT', '--slot, --history-window and --snapshot-interval go with --follow');
  if (opts.fromDump) return { kind: 'dump', file: opts.fromDump };
  if (opts.fromUrl && opts.follow) {
    return {
      kind: 'follow',
      url: opts.fromUrl,
      ...(opts.slot !== undefined ? { slot: opts.slot } : {}),
      ...(opts.historyWindow !== undefined ? { historyWindowMs: opts.historyWindow } : {}),
      ...(opts.snapshotInterval !== undefined ? { snapshotIntervalMs: opts.snapshotInterval } : {}),
    };
  }
  if (opts.fromUrl) return { kind: 'url', url: opts.fromUrl };
  return undefined;
}

/** `--at`: an ISO-8601 time (with a zone), or a duration meaning that long ago ("90s" → 90 seconds before now). */
export function parseAt(value: string, nowMs = Date.now()): string {
  return parseTimeOrAgo(value, nowMs);
}

/**
 * The origin of `branch create`, from its flags: a snapshot, a root source (`--empty`,
 * `--from-dump`, `--from-url`), or a parent (`--from`, default "main"). More than one is refused
 * here, once; the domain receives exactly one.
 */
export function createOrigin(opts: RootSourceFlags & { from?: string; fromSnapshot?: string; empty?: boolean; at?: string; atLsn?: string }): CreateOrigin {
  if (opts.empty && (opts.fromDump || opts.fromUrl)) throw new PgbranchError('INVALID_ARGUMENT', '--empty excludes --from-dump and --from-url');
  if (opts.at !== undefined && opts.atLsn !== undefined) throw new PgbranchError('INVALID_ARGUMENT', 'give --at or --at-lsn, not both');
  const source = opts.empty ? ({ kind: 'empty' } as const) : rootSource(opts);
  const at = opts.at !== undefined || opts.atLsn !== undefined;
  if (opts.fromSnapshot !== undefined) {
    if (opts.from !== undefined || source) throw new PgbranchError('INVALID_ARGUMENT', '--from-snapshot excludes --from, --from-dump, --from-url and --empty');
    if (at) throw new PgbranchError('INVALID_ARGUMENT', '--at and --at-lsn go with --from (a root that follows its source), not --from-snapshot');
    return { kind: 'snapshot', snapshot: opts.fromSnapshot };
  }
  if (source) {
    if (opts.from !== undefined) throw new PgbranchError('INVALID_ARGUMENT', 'give either a parent branch (--from) or a root source (--from-dump, --from-url, --empty), not both');
    if (at) throw new PgbranchError('INVALID_ARGUMENT', '--at and --at-lsn go with --from (a root that follows its source)');
    return { kind: 'source', source };
  }
  const parent = opts.from ?? 'main';
  if (opts.at !== undefined) return { kind: 'parent', parent, at: { kind: 'time', time: opts.at } };
  if (opts.atLsn !== undefined) return { kind: 'parent', parent, at: { kind: 'lsn', lsn: opts.atLsn } };
  return { kind: 'parent', parent };
}

/** "3d", "2h", "90m" → milliseconds (a TTL: must be positive). */
export function parseTtl(value: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match || Number(match[1]) === 0) throw new InvalidArgumentError(`"${value}" is not a positive duration (examples: 3d, 2h, 90m)`);
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

/**
 * `--ttl` of `branch set`: a duration, or "none"/"never" → 'none' (never expires). Not null:
 * commander turns an option parser's null into `true`.
 */
export function parseTtlOrNone(value: string): number | 'none' {
  return value === 'none' || value === 'never' ? 'none' : parseTtl(value);
}

/** An ISO-8601 time, or a duration meaning that long ago ("1h" → an hour before now). */
export function parseTimeOrAgo(value: string, nowMs = Date.now()): string {
  if (/^\d+(ms|s|m|h|d)$/.test(value.trim())) return new Date(nowMs - parseTtl(value)).toISOString();
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`"${value}" is neither an ISO-8601 time nor a duration like 1h or 7d`);
  return new Date(ms).toISOString();
}

export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive whole number`);
  return n;
}

/** A TCP port, 0 meaning any free one. */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`"${value}" is not a port (0-65535, 0 = any free port)`);
  return n;
}
