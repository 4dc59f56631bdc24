import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PgbranchError } from '../errors.js';
import type { DumpFormat } from './types.js';

/** Format of the first bytes of a dump file (pure, for tests and for detectDumpFormat). */
export function dumpFormatOfHeader(head: Buffer): DumpFormat | undefined {
  if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return 'custom';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'plain-gzip';
  // SQL text has no NUL bytes; anything else is not something we can restore.
  if (head.includes(0)) return undefined;
  return 'plain';
}

/**
 * pg_dump's output format: custom (magic "PGDMP"), tar (ustar header), directory (a directory
 * with toc.dat), plain SQL, or gzip'd plain SQL.
 */
export async function detectDumpFormat(file: string): Promise<DumpFormat> {
  let st;
  try {
    st = await stat(file);
  } catch (cause) {
    throw new PgbranchError('INVALID_ARGUMENT', `cannot read dump ${file}: ${(cause as Error).message}`, { cause });
  }
  if (st.isDirectory()) {
    try {
      await stat(join(file, 'toc.dat'));
      return 'directory';
    } catch (cause) {
      throw new PgbranchError('INVALID_ARGUMENT', `${file} is a directory without toc.dat, not a directory-format dump`, { cause });
    }
  }
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const format = bytesRead === 0 ? undefined : dumpFormatOfHeader(head.subarray(0, bytesRead));
    if (!format) throw new PgbranchError('INVALID_ARGUMENT', `${file} is not a pg_dump archive or SQL file`, { cause: new Error('unknown format') });
    return format;
  } finally {
    await handle.close();
  }
}
