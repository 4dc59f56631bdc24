import { PgbranchError } from '../errors.js';

export interface BtrfsDuSummary {
  /** Bytes in extents referenced by the path (btrfs's "Total"; inline data is not counted). */
  readonly totalBytes: number;
  /** Bytes in extents referenced by nothing outside the path (btrfs's "Exclusive"). */
  readonly exclusiveBytes: number;
}

// `   5001216        4096     4997120  /pool/v2` — "Set shared" may be "-".
const SUMMARY_LINE = /^\s*(\d+)\s+(\d+)\s+(?:\d+|-)\s+(.+)$/;

/** Parses the single summary line of `btrfs filesystem du -s --raw <path>`. */
export function parseBtrfsDuSummary(output: string, path: string): BtrfsDuSummary {
  for (const line of output.split('\n')) {
    const m = SUMMARY_LINE.exec(line);
    if (m && m[3] === path) return { totalBytes: Number(m[1]), exclusiveBytes: Number(m[2]) };
  }
  throw new PgbranchError('STORAGE_ERROR', `unexpected output from btrfs filesystem du for ${path}: ${JSON.stringify(output.slice(0, 300))}`, {
    cause: new Error(output),
    details: { path },
  });
}
