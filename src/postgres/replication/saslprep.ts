import { L_CAT, MAPPED_TO_NOTHING, NON_ASCII_SPACE, PROHIBITED, RAND_AL_CAT } from './saslprep-tables.js';

type Ranges = readonly (readonly [number, number])[];

function parseRanges(text: string): Ranges {
  const out: [number, number][] = [];
  for (const part of text.split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-');
    const lo = Number.parseInt(a!, 16);
    out.push([lo, b === undefined ? lo : Number.parseInt(b, 16)]);
  }
  return out;
}

function inRanges(code: number, ranges: Ranges): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = ranges[mid]!;
    if (code < a) hi = mid - 1;
    else if (code > b) lo = mid + 1;
    else return true;
  }
  return false;
}

let tables: { space: Ranges; nothing: Ranges; prohibited: Ranges; randAl: Ranges; l: Ranges } | undefined;

function getTables() {
  tables ??= {
    space: parseRanges(NON_ASCII_SPACE),
    nothing: parseRanges(MAPPED_TO_NOTHING),
    prohibited: parseRanges(PROHIBITED),
    randAl: parseRanges(RAND_AL_CAT),
    l: parseRanges(L_CAT),
  };
  return tables;
}

/**
 * SASLprep (RFC 4013) exactly as PostgreSQL applies it to SCRAM passwords (src/common/saslprep.c),
 * including its quirks: pure ASCII passes unchanged; a password that maps to nothing or contains
 * a prohibited / unassigned (Unicode 3.2) character, or breaks the bidi rule, is used raw.
 * Returns the string whose UTF-8 bytes feed PBKDF2.
 */
export function saslprep(password: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(password)) return password;
  const t = getTables();
  const mapped: number[] = [];
  for (const ch of password) {
    const code = ch.codePointAt(0)!;
    if (inRanges(code, t.space)) mapped.push(0x20);
    else if (!inRanges(code, t.nothing)) mapped.push(code);
  }
  if (mapped.length === 0) return password;
  // PostgreSQL checks prohibition and bidi on the mapped, not yet normalised, characters.
  if (mapped.some((c) => inRanges(c, t.prohibited))) return password;
  if (mapped.some((c) => inRanges(c, t.randAl))) {
    if (mapped.some((c) => inRanges(c, t.l))) return password;
    if (!inRanges(mapped[0]!, t.randAl) || !inRanges(mapped[mapped.length - 1]!, t.randAl)) return password;
  }
  return String.fromCodePoint(...mapped).normalize('NFKC');
}
