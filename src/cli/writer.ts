import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** YAML is loaded only for `-o yaml`: it costs ~35 ms of every CLI start otherwise. */
const toYaml = (value: unknown): string => (require('yaml') as typeof import('yaml')).stringify(value);
import { PgbranchError } from '../errors.js';
import { snakeKeys } from './json-naming.js';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(value: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(value)) return value as OutputFormat;
  if (value === 'sql') throw new PgbranchError('INVALID_ARGUMENT', `-o sql is for \`pgbranch diff\` only (its migration script): use one of ${OUTPUT_FORMATS.join(', ')}`);
  throw new PgbranchError('INVALID_ARGUMENT', `unknown output format "${value}": use one of ${OUTPUT_FORMATS.join(', ')}`);
}

export interface Streams {
  /** Read only by `--token-stdin` (default process.stdin). */
  readonly stdin?: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * The CLI's one way to print. stdout carries data only (json and yaml are machine-readable, table
 * is for people); everything else — progress, warnings, errors — goes to stderr.
 */
export class Writer {
  constructor(
    readonly format: OutputFormat,
    private readonly streams: Streams,
  ) {}

  /** Prints `value` as json/yaml (snake_case keys, like the API: see json-naming.ts), or as the human rendering for `table`. */
  data(value: unknown, table: () => string): void {
    let text: string;
    if (this.format === 'json') text = `${JSON.stringify(snakeKeys(value), null, 2)}\n`;
    else if (this.format === 'yaml') text = toYaml(snakeKeys(value));
    else {
      text = table();
      if (text && !text.endsWith('\n')) text += '\n';
    }
    this.streams.stdout.write(text);
  }

  /** A message for the human on stderr. */
  note(message: string): void {
    this.streams.stderr.write(`${message}\n`);
  }

  error(err: PgbranchError): void {
    if (this.format === 'table') {
      this.streams.stderr.write(`error: ${err.message} [${err.code}]\n`);
      return;
    }
    const body = { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
    this.streams.stderr.write(this.format === 'json' ? `${JSON.stringify(body)}\n` : toYaml(body));
  }
}

/** Left-aligned columns with a header, like `kubectl get`. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Two columns, key and value, for one object. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`).join('\n');
}
