import { PgbranchError } from '../../errors.js';

/** "16/B374D848" → 0x16B374D848n. */
export function parseLsn(text: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!m) throw new PgbranchError('INVALID_ARGUMENT', `not a WAL position (LSN): ${JSON.stringify(text)}`, { cause: new Error('bad LSN') });
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** a − b in bytes (negative when a is behind b). */
export function lsnDiff(a: string, b: string): number {
  return Number(parseLsn(a) - parseLsn(b));
}

/**
 * WAL segment file name for the segment holding `lsn`: timeline, then the segment number split
 * in "xlogid" and the segment within it, 8 hex digits each (XLogFileName in xlog_internal.h).
 */
export function walFileName(timeline: number, lsn: bigint, segmentSize: number): string {
  const seg = lsn / BigInt(segmentSize);
  const perId = 0x100000000n / BigInt(segmentSize);
  const hex = (n: bigint | number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(seg / perId)}${hex(seg % perId)}`;
}

/** Microseconds since 2000-01-01 (PostgreSQL's epoch), for standby status messages. */
export function pgNowMicros(): bigint {
  return BigInt(Date.now() - Date.UTC(2000, 0, 1)) * 1000n;
}
