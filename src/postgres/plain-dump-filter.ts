import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Lexer state between lines of SQL: inside a string, quoted identifier, dollar-quoted body or
 * block comment, a line is content, never the start of a statement.
 */
type LexState =
  | { readonly kind: 'normal' }
  | { readonly kind: 'squote'; readonly escapes: boolean }
  | { readonly kind: 'dquote' }
  | { readonly kind: 'dollar'; readonly tag: string }
  | { readonly kind: 'block'; readonly depth: number };

const NORMAL: LexState = { kind: 'normal' };
const IDENT_CHAR = /[A-Za-z0-9_\x80-\uffff]/;
const DOLLAR_TAG = /\$(?:[A-Za-z_\x80-\uffff][A-Za-z0-9_\x80-\uffff]*)?\$/y;

/**
 * Statements pg_restore's --no-owner / --no-privileges leave out, in the single-line form pg_dump
 * writes them. Roles of the source rarely exist in a branch, and each would abort the restore.
 */
const OWNERSHIP_OR_PRIVILEGE = [
  /^ALTER\s.+\sOWNER TO\s.+;$/,
  /^(?:GRANT|REVOKE)\s.+;$/,
  /^ALTER DEFAULT PRIVILEGES\s.+;$/,
  /^SET SESSION AUTHORIZATION\s.+;$/,
];
const COPY_FROM_STDIN = /^COPY\s.+\sFROM stdin;$/;

interface ScanResult {
  readonly state: LexState;
  /** True when the line ends outside any statement (after a ';' or with nothing but comments). */
  readonly atStatementStart: boolean;
}

/** Advances the lexer over one line (without its newline). */
export function scanLine(line: string, state: LexState, atStatementStart: boolean): ScanResult {
  let st = state;
  let start = atStatementStart;
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i]!;
    switch (st.kind) {
      case 'normal': {
        const next = line[i + 1];
        if (c === '-' && next === '-') {
          i = n;
        } else if (c === '/' && next === '*') {
          st = { kind: 'block', depth: 1 };
          i += 2;
        } else if (c === "'") {
          const prev = line[i - 1];
          const escapes = (prev === 'E' || prev === 'e') && !IDENT_CHAR.test(line[i - 2] ?? ' ');
          st = { kind: 'squote', escapes };
          start = false;
          i++;
        } else if (c === '"') {
          st = { kind: 'dquote' };
          start = false;
          i++;
        } else if (c === '$' && !IDENT_CHAR.test(line[i - 1] ?? ' ')) {
          DOLLAR_TAG.lastIndex = i;
          const m = DOLLAR_TAG.exec(line);
          if (m) {
            st = { kind: 'dollar', tag: m[0] };
            i += m[0].length;
          } else {
            i++;
          }
          start = false;
        } else {
          if (c === ';') start = true;
          else if (c !== ' ' && c !== '\t' && c !== '\r') start = false;
          i++;
        }
        break;
      }
      case 'squote':
        if (c === '\\' && st.escapes) i += 2;
        else if (c === "'") {
          if (line[i + 1] === "'") i += 2;
          else {
            st = NORMAL;
            i++;
          }
        } else i++;
        break;
      case 'dquote':
        if (c === '"') {
          if (line[i + 1] === '"') i += 2;
          else {
            st = NORMAL;
            i++;
          }
        } else i++;
        break;
      case 'dollar': {
        const end = line.indexOf(st.tag, i);
        if (end < 0) i = n;
        else {
          i = end + st.tag.length;
          st = NORMAL;
        }
        break;
      }
      case 'block':
        if (c === '/' && line[i + 1] === '*') {
          st = { kind: 'block', depth: st.depth + 1 };
          i += 2;
        } else if (c === '*' && line[i + 1] === '/') {
          st = st.depth === 1 ? NORMAL : { kind: 'block', depth: st.depth - 1 };
          i += 2;
        } else i++;
        break;
    }
  }
  return { state: st, atStatementStart: start };
}

/**
 * Streams a plain pg_dump script, dropping ownership and privilege statements (like pg_restore
 * --no-owner --no-privileges does for archives). Only whole single-line statements that start a
 * statement outside strings, quoted bodies and COPY data are dropped, so function bodies and
 * table data pass untouched.
 */
export class PlainDumpFilter extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private state: LexState = NORMAL;
  private atStatementStart = true;
  private inCopy = false;
  /** Statements dropped so far. */
  dropped = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.pending += this.decoder.write(chunk);
    const lastNewline = this.pending.lastIndexOf('\n');
    if (lastNewline < 0) return callback();
    const complete = this.pending.slice(0, lastNewline + 1);
    this.pending = this.pending.slice(lastNewline + 1);
    const out = this.filterLines(complete);
    callback(null, out.length ? out : undefined);
  }

  override _flush(callback: TransformCallback): void {
    this.pending += this.decoder.end();
    const out = this.pending ? this.filterLines(this.pending) : '';
    this.pending = '';
    callback(null, out.length ? out : undefined);
  }

  /** `text` ends with a newline except at the end of input. */
  private filterLines(text: string): string {
    let out = '';
    let pos = 0;
    while (pos < text.length) {
      const nl = text.indexOf('\n', pos);
      const end = nl < 0 ? text.length : nl + 1;
      const lineWithNl = text.slice(pos, end);
      pos = end;
      const line = lineWithNl.endsWith('\n') ? lineWithNl.slice(0, -1).replace(/\r$/, '') : lineWithNl.replace(/\r$/, '');
      if (this.inCopy) {
        if (line === '\\.') this.inCopy = false;
        out += lineWithNl;
        continue;
      }
      if (this.state.kind === 'normal' && this.atStatementStart) {
        if (OWNERSHIP_OR_PRIVILEGE.some((re) => re.test(line))) {
          const scanned = scanLine(line, this.state, true);
          if (scanned.state.kind === 'normal' && scanned.atStatementStart) {
            this.dropped++;
            continue;
          }
        }
        if (COPY_FROM_STDIN.test(line)) {
          const scanned = scanLine(line, this.state, true);
          if (scanned.state.kind === 'normal' && scanned.atStatementStart) {
            this.inCopy = true;
            out += lineWithNl;
            continue;
          }
        }
      }
      const scanned = scanLine(line, this.state, this.atStatementStart);
      this.state = scanned.state;
      this.atStatementStart = scanned.atStatementStart;
      out += lineWithNl;
    }
    return out;
  }
}
