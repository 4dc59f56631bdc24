/**
 * Just enough of PostgreSQL's on-disk WAL and pg_control formats to find where a cleanly shut
 * down cluster's WAL ends (see access/xlog_internal.h, access/xlogrecord.h, catalog/pg_control.h).
 * The layouts used here have been stable since PostgreSQL 11; every read is checked (page
 * addresses, record CRC) before anything is changed on the strength of it.
 */

export const XLOG_BLCKSZ = 8192;
/** MAXALIGN(sizeof(XLogPageHeaderData)) and MAXALIGN(sizeof(XLogLongPageHeaderData)). */
export const SHORT_PAGE_HEADER = 24;
export const LONG_PAGE_HEADER = 40;
const RECORD_HEADER = 24;
const RM_XLOG_ID = 0;
const XLOG_CHECKPOINT_SHUTDOWN = 0x00;

/** DBState values of pg_control (catalog/pg_control.h). */
export const DB_STATE = ['starting up', 'shut down', 'shut down in recovery', 'shutting down', 'in crash recovery', 'in archive recovery', 'in production'] as const;

export interface ControlFile {
  readonly systemIdentifier: bigint;
  readonly controlVersion: number;
  /** Index into DB_STATE: 1 = shut down cleanly. */
  readonly state: number;
  /** Location of the last checkpoint record. */
  readonly checkPoint: bigint;
  /** Its REDO pointer and timeline. */
  readonly redo: bigint;
  readonly timeline: number;
}

export function parseControlFile(buf: Buffer): ControlFile {
  if (buf.length < 64) throw new Error(`pg_control is too short (${buf.length} bytes)`);
  return {
    systemIdentifier: buf.readBigUInt64LE(0),
    controlVersion: buf.readUInt32LE(8),
    state: buf.readUInt32LE(16),
    checkPoint: buf.readBigUInt64LE(32),
    redo: buf.readBigUInt64LE(40),
    timeline: buf.readUInt32LE(48),
  };
}

export function segmentNumber(lsn: bigint, segmentBytes: number): bigint {
  return lsn / BigInt(segmentBytes);
}

/** WAL file name: timeline, then the segment number split as PostgreSQL does (XLogFileName). */
export function walFileName(timeline: number, segNo: bigint, segmentBytes: number): string {
  const perId = 0x100000000n / BigInt(segmentBytes);
  const hex = (n: bigint | number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segNo / perId)}${hex(segNo % perId)}`;
}

/** Segment number of a WAL file name (ignoring its timeline). */
export function segmentOfFileName(name: string, segmentBytes: number): bigint {
  const perId = 0x100000000n / BigInt(segmentBytes);
  return BigInt(`0x${name.slice(8, 16)}`) * perId + BigInt(`0x${name.slice(16, 24)}`);
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli) state update; start with 0xFFFFFFFF, finish with ^ 0xFFFFFFFF. */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

export interface RecordLocation {
  /** LSN just past the record (not aligned). */
  readonly end: bigint;
  readonly rmid: number;
  readonly info: number;
}

/**
 * Reads the record at `lsn` from a segment's bytes (`segStart` = the segment's first LSN),
 * following it across page headers, and verifies its CRC. Throws if anything does not add up.
 */
export function readRecord(segment: Buffer, segStart: bigint, lsn: bigint): RecordLocation {
  const size = BigInt(segment.length);
  const offsetOf = (at: bigint): number => {
    if (at < segStart || at >= segStart + size) throw new Error(`LSN ${at.toString(16)} is outside the segment`);
    return Number(at - segStart);
  };
  const checkPage = (pageOffset: number): void => {
    const pageAddr = segment.readBigUInt64LE(pageOffset + 8);
    if (pageAddr !== segStart + BigInt(pageOffset)) throw new Error(`WAL page at offset ${pageOffset} has address ${pageAddr.toString(16)}, not ${(segStart + BigInt(pageOffset)).toString(16)}`);
  };
  let off = offsetOf(lsn);
  checkPage(off - (off % XLOG_BLCKSZ));
  const total = segment.readUInt32LE(off);
  if (total < RECORD_HEADER || total > 1 << 20) throw new Error(`implausible WAL record length ${total}`);
  const bytes = Buffer.alloc(total);
  let copied = 0;
  while (copied < total) {
    const pageEnd = off - (off % XLOG_BLCKSZ) + XLOG_BLCKSZ;
    const take = Math.min(total - copied, pageEnd - off);
    segment.copy(bytes, copied, off, off + take);
    copied += take;
    off += take;
    if (copied < total) {
      if (off >= segment.length) throw new Error('WAL record continues into the next segment');
      checkPage(off);
      off += SHORT_PAGE_HEADER;
    }
  }
  // xl_crc covers the data after the header, then the header up to xl_crc (offset 20).
  let crc = crc32cUpdate(0xffffffff, bytes.subarray(RECORD_HEADER));
  crc = crc32cUpdate(crc, bytes.subarray(0, 20));
  crc = (crc ^ 0xffffffff) >>> 0;
  const stored = bytes.readUInt32LE(20);
  if (crc !== stored) throw new Error(`WAL record CRC mismatch at ${lsn.toString(16)}`);
  return { end: segStart + BigInt(off), rmid: bytes[17]!, info: bytes[16]! };
}

export function isShutdownCheckpoint(rec: RecordLocation): boolean {
  return rec.rmid === RM_XLOG_ID && (rec.info & 0xf0) === XLOG_CHECKPOINT_SHUTDOWN;
}
