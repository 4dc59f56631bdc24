import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type pg from 'pg';
import { PgbranchError } from '../../errors.js';
import { quoteIdent } from '../quote.js';
import { findTable, readMaskCatalog } from './catalog.js';
import { sampleRows } from './sample.js';
import type { JsonPath, MaskingRules, ResidueHit } from './types.js';

const CHUNK = 8 << 20;
const MIN_NEEDLE = 8;
const MAX_NEEDLE = 1024;

const bucket = (v: number): number => Math.imul(v, 0x9e3779b1) >>> 8; // 24 bits

/**
 * Every place in the files under `dir` (symlinked directories followed once, e.g. tablespaces)
 * where one of `needles` occurs as bytes. One pass per file whatever the number of needles: a
 * 2^24-bit filter on each needle's first four bytes, then an exact comparison. Needles shorter
 * than 8 bytes are ignored (they would match by chance). Hits name files, offsets and needle
 * indexes only, never a value.
 */
export async function scanForResidue(dir: string, needles: readonly Uint8Array[], options: { maxHits?: number } = {}): Promise<ResidueHit[]> {
  const maxHits = options.maxHits ?? 1000;
  const filter = new Uint8Array(1 << 21);
  const byPrefix = new Map<number, number[]>();
  let longest = 0;
  needles.forEach((n, i) => {
    if (n.length < MIN_NEEDLE) return;
    const key = ((n[0]! << 24) | (n[1]! << 16) | (n[2]! << 8) | n[3]!) >>> 0;
    const b = bucket(key);
    filter[b >> 3]! |= 1 << (b & 7);
    byPrefix.set(key, [...(byPrefix.get(key) ?? []), i]);
    longest = Math.max(longest, n.length);
  });
  const hits: ResidueHit[] = [];
  if (byPrefix.size === 0) return hits;

  const scanFile = async (path: string): Promise<void> => {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      // A running server removes files (temp files, relcache init files) as we walk.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      const buf = Buffer.alloc(CHUNK + longest);
      let carried = 0; // bytes at the start of buf that belong to the previous chunk
      let fileOffset = 0; // file offset of buf[0]
      for (;;) {
        const { bytesRead } = await fh.read(buf, carried, CHUNK, fileOffset + carried);
        const len = carried + bytesRead;
        if (len < 4) break;
        let v = 0;
        for (let i = 0; i < len; i++) {
          v = ((v << 8) | buf[i]!) >>> 0;
          if (i < 3) continue;
          const b = bucket(v);
          if ((filter[b >> 3]! & (1 << (b & 7))) === 0) continue;
          const candidates = byPrefix.get(v);
          if (!candidates) continue;
          const start = i - 3;
          for (const idx of candidates) {
            const n = needles[idx]!;
            if (start + n.length > len) continue; // seen whole in the next chunk
            if (buf.compare(n, 0, n.length, start, start + n.length) === 0) {
              // Wholly inside the carried bytes: the previous chunk reported it already.
              if (start + n.length <= carried) continue;
              hits.push({ file: relative(dir, path), offset: fileOffset + start, needle: idx });
              if (hits.length >= maxHits) return;
            }
          }
        }
        if (bytesRead === 0) break;
        // Keep the last longest-1 bytes: a needle starting there is completed by the next read.
        const keep = Math.min(longest - 1, len);
        buf.copy(buf, 0, len - keep, len);
        fileOffset += len - keep;
        carried = keep;
      }
    } finally {
      await fh.close();
    }
  };

  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    const real = await realpath(d);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = await readdir(d, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of entries) {
      if (hits.length >= maxHits) return;
      const path = join(d, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isSymbolicLink()) {
        const st = await stat(path).catch(() => undefined);
        if (st?.isDirectory()) await walk(path);
        else if (st?.isFile()) await scanFile(path);
      } else if (entry.isFile()) await scanFile(path);
    }
  };
  await walk(dir);
  return hits;
}

function leaves(doc: unknown, path: JsonPath): string[] {
  if (doc === null || doc === undefined) return [];
  if (path.length === 0) return typeof doc === 'string' ? [doc] : [];
  const [head, ...rest] = path;
  if (head === '*') {
    const children = Array.isArray(doc) ? doc : typeof doc === 'object' ? Object.values(doc as object) : [];
    return children.flatMap((c) => leaves(c, rest));
  }
  if (typeof doc === 'object' && !Array.isArray(doc)) return leaves((doc as Record<string, unknown>)[head!], rest);
  return [];
}

/**
 * Original text values of the masked columns (and json paths), taken before masking so the files
 * can be searched for them afterwards (scanForResidue). Only text is sampled, as only text is
 * stored as its own bytes (numbers and dates are binary on disk); only values of at least 8 bytes,
 * and of long values their first kilobyte (TOAST splits them into chunks). Compressed values
 * cannot be found this way: the check is as good as the share of uncompressed values.
 * Keep the result in memory only: it is personal data.
 */
export async function sampleOriginalValues(client: pg.Client, rules: MaskingRules, options: { perColumn?: number } = {}): Promise<Buffer[]> {
  const perColumn = options.perColumn ?? 20;
  const catalog = await readMaskCatalog(client);
  const out = new Map<string, Buffer>();
  // A long value is stored in TOAST chunks of about 2 kB: only its start is contiguous on disk.
  const add = (s: string): void => {
    const b = Buffer.from(s, 'utf8').subarray(0, MAX_NEEDLE);
    if (b.length >= MIN_NEEDLE) out.set(b.toString('latin1'), b);
  };
  for (const rule of rules.tables) {
    const table = findTable(catalog, rule.schema, rule.table);
    if (!table) throw new PgbranchError('MASK_FAILED', `no table ${rule.schema}.${rule.table} to sample`, { cause: new Error('no such table') });
    for (const colRule of rule.columns) {
      const column = table.columns.find((c) => c.name === colRule.column);
      if (!column) continue;
      const col = quoteIdent(column.name);
      if (colRule.kind === 'json') {
        const docs = await sampleRows<{ v: unknown }>(client, rule.schema, rule.table, [`${col}::jsonb AS v`], perColumn * 5, `${col} IS NOT NULL`);
        for (const p of colRule.paths) {
          if (p.strategy.kind === 'keep') continue;
          docs.flatMap((d) => leaves(d.v, p.path)).slice(0, perColumn).forEach(add);
        }
        continue;
      }
      if (colRule.strategy.kind === 'keep' || column.class !== 'string') continue;
      const expr = column.isArray ? `array_to_string(${col}, E'\\x1f')` : `${col}::text`;
      const rows = await sampleRows<{ v: string }>(client, rule.schema, rule.table, [`${expr} AS v`], perColumn * 3, `${col} IS NOT NULL`);
      const values = column.isArray ? rows.flatMap((r) => r.v.split('\x1f')) : rows.map((r) => r.v);
      values.slice(0, perColumn).forEach(add);
    }
  }
  return [...out.values()];
}
