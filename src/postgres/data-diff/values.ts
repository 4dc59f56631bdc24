import type { JsonValue } from './types.js';

/** Type OIDs (pg_type.h) whose text output maps to a JSON scalar without loss. */
const BOOL = 16;
const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const OID = 26;
const FLOAT4 = 700;
const FLOAT8 = 701;

/** Integer types ordered natively in SQL and compared as integers here (their keys use the index). */
export const INTEGER_TYPES: ReadonlySet<number> = new Set([INT2, INT4, INT8, OID]);

/**
 * A column's text output as a JSON-safe value: booleans and small integers as JSON, floats as
 * numbers when finite, everything else — bigint, numeric, bytea (`\x…` hex, the session's
 * bytea_output), json, dates, arrays — as its exact text.
 */
export function toJsonValue(text: string | null, baseTypeOid: number): JsonValue {
  if (text === null) return null;
  switch (baseTypeOid) {
    case BOOL:
      return text === 't';
    case INT2:
    case INT4:
    case OID:
      return Number(text);
    case FLOAT4:
    case FLOAT8: {
      const value = Number(text);
      // NaN and ±Infinity have no JSON number; -0 would print as 0.
      return Number.isFinite(value) && !Object.is(value, -0) ? value : text;
    }
    default:
      return text;
  }
}

/**
 * Orders strings as PostgreSQL's "C" collation orders their UTF-8 bytes. UTF-16 code units
 * follow code point (and so UTF-8 byte) order except that surrogates (characters above U+FFFF)
 * sort below U+E000–U+FFFF; that one case is corrected.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      const xSurrogate = x <= 0xdfff;
      const ySurrogate = y <= 0xdfff;
      if (xSurrogate !== ySurrogate) return xSurrogate ? 1 : -1;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Orders integer texts ("-12", "7") numerically, at any size. */
export function compareIntegerText(a: string, b: string): number {
  const aNegative = a.startsWith('-');
  const bNegative = b.startsWith('-');
  if (aNegative !== bNegative) return aNegative ? -1 : 1;
  const magnitude = a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
  return aNegative ? -magnitude : magnitude;
}

export type ColumnComparator = (a: string | null, b: string | null) => number;

/** NULLs last, as `ORDER BY … ASC` puts them. */
export function columnComparator(baseTypeOid: number): ColumnComparator {
  const compare = INTEGER_TYPES.has(baseTypeOid) ? compareIntegerText : compareUtf8;
  return (a, b) => {
    if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
    return compare(a, b);
  };
}
